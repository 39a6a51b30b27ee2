// The public surface of @eventwire/event-channel, listed by hand: anything not
// here is internal and may change without notice.

export {
  BufferOverflowError,
  EventwireError,
  HandlerError,
  TopicError,
  UnknownEventError,
  ValidationError,
  errorCodes,
  errorFromWire,
  isErrorCode,
  toEventwireError,
  topicProblems,
} from './errors.js';
export { EventChannel, channelDefaults } from './channel.js';
export { MemoryHub, MemoryTransport, defaultMemoryHub } from './transport/memory.js';
export { TopicTrie } from './topic-trie.js';
export { PresenceChannel } from './presence.js';
export {
  assertPattern,
  assertTopic,
  findTopicProblem,
  isWildcardPattern,
  topicLimitDefaults,
  patternCovers,
  topicMatches,
} from './topic.js';
export { createEventIdGenerator, eventIdTime } from './event-id.js';
export { createTransport } from './transport/resolve.js';
export { defineEvents, isStandardSchema } from './events.js';
export { fromCloudEvent, parseEnvelope, toCloudEvent } from './envelope.js';
export { subscribeDefaults } from './event-stream.js';
export { WsTransport, wsTransportDefaults } from './transport/ws.js';
export { EXCEPT_HEADER, NatsTransport, natsTransportDefaults } from './transport/nats.js';
export { parseNatsUrl } from './transport/nats-client.js';
export { natsSubjectsFor } from './transport/nats-subjects.js';
export { RedisTransport, redisKeysFor } from './transport/redis.js';
export { PostgresTransport, postgresTransportDefaults, NOTIFY_PAYLOAD_LIMIT } from './transport/postgres.js';
export { PubSubTransport, EXCEPT_FIELD } from './transport/pubsub-transport.js';
export { backoffDefaults, fullJitterBackoff } from './backoff.js';
export { MAX_PAYLOAD_DEPTH, payloadLimitDefaults } from './protocol/payload-shape.js';

export type {
  ChannelStats,
  EmitOptions,
  EventChannelOptions,
  EventHandler,
  OnOptions,
  PatternArgument,
  PatternCheck,
  PatternEvent,
  Unsubscribe,
  WaitOptions,
} from './channel.js';
export type { ChannelState, ChannelStatus } from './status.js';
export type { MemberInfo, PresenceInfo, PresenceMember, PresenceOptions } from './presence.js';
export type { GapReason, HistoryGap } from './gap.js';
export type { HistorySince } from './history-replay.js';
export type { CloudEvent, EventEnvelope } from './envelope.js';
export type { CheckDirection, ErrorCode, EventwireErrorOptions, TopicProblem, ValidationIssue, WireError, WireIssue } from './errors.js';
export type { GetToken } from './transport/token-source.js';
export type {
  EventInput,
  EventKey,
  EventMap,
  EventOutput,
  EventTopic,
  FamilyTopic,
  TopicCheck,
  TypedEvent,
  UntypedEvents,
  inferEventInputs,
  inferEventOutputs,
} from './events.js';
export type { EventStream, OverflowPolicy, SubscribeOptions } from './event-stream.js';
export type { MatchingTopics, TopicLimits, TopicMatchesPattern, TopicSegments } from './topic.js';
export type { TransportResolveOptions } from './transport/resolve.js';
export type { HistoryPage, HistoryQuery, PresenceWireMember, PublishOptions, Transport, TransportSink } from './transport/transport.js';
export type { WebSocketConstructor, WebSocketLike, WsTransportOptions } from './transport/ws.js';
export type { NatsTransportOptions } from './transport/nats.js';
export type { NatsServerOptions } from './transport/nats-client.js';
export type { RedisTransportOptions } from './transport/redis.js';
export type { PostgresTransportOptions } from './transport/postgres.js';
export type { PubSubBus, PubSubBusEvents, PubSubTransportOptions } from './transport/pubsub-transport.js';
export type { BackoffOptions } from './backoff.js';
export type { PayloadLimits } from './protocol/payload-shape.js';
export type { OutboxOverflow } from './outbox.js';
export type { MemoryHubOptions } from './transport/memory.js';
export type { HistoryRule } from './history/rules.js';
export { formatTraceparent, parseTraceparent } from './tracing/traceparent.js';
export type { TraceParent } from './tracing/traceparent.js';
export type { EventTracing, TraceSpan } from './tracing/tracing.js';
