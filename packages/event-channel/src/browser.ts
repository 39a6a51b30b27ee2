// The public API of @eventwire/event-channel that runs anywhere, listed by
// hand (values, then types, each module's names alphabetised, modules in path
// order): the entry of the one-file browser build (dist/browser/event-channel.js,
// made by scripts/bundle-browser.mjs; the broker serves it at
// /eventwire/event-channel.js), and the body of index.ts, which adds the NATS,
// Redis and PostgreSQL transports. In a browser `nats://` and the others still
// resolve, to a typed `unsupported_transport` (server-transports.browser.ts).

export { backoffDefaults, fullJitterBackoff } from './backoff.js';
export { channelDefaults, EventChannel } from './channel.js';
export { disconnectReasons } from './disconnect-reason.js';
export { fromCloudEvent, parseEnvelope, toCloudEvent } from './envelope.js';
export {
  BufferOverflowError,
  errorCodes,
  errorFromWire,
  EventwireError,
  HandlerError,
  toEventwireError,
  TopicError,
  topicProblems,
  UnknownEventError,
  ValidationError,
} from './errors.js';
export { createEventIdGenerator, eventIdTime } from './event-id.js';
export { subscribeDefaults } from './event-stream.js';
export { defineEvents, isStandardSchema } from './events.js';
export { PresenceChannel } from './presence.js';
export { MAX_PAYLOAD_DEPTH, payloadLimitDefaults } from './protocol/payload-shape.js';
export { TopicTrie } from './topic-trie.js';
export {
  assertPattern,
  assertTopic,
  captureParams,
  findTopicProblem,
  isWildcardPattern,
  parsePattern,
  patternCovers,
  topicLimitDefaults,
  topicMatches,
} from './topic.js';
export { formatTraceparent, parseTraceparent } from './tracing/traceparent.js';
export { defaultMemoryHub, MemoryHub } from './transport/memory.js';
export { createTransport } from './transport/resolve.js';
export { WsTransport, wsTransportDefaults } from './transport/ws.js';

export type { BackoffOptions } from './backoff.js';
export type {
  ChannelStats,
  EmitOptions,
  EventChannelOptions,
  EventHandler,
  OnOptions,
  PatternArgument,
  PatternCheck,
  PatternEvent,
  PatternHandler,
  PatternTopics,
  Unsubscribe,
  WaitOptions,
} from './channel.js';
export type { DisconnectReason } from './disconnect-reason.js';
export type { CloudEvent, EventEnvelope } from './envelope.js';
export type { CheckDirection, ErrorCode, EventwireErrorOptions, TopicProblem, ValidationIssue, WireError, WireIssue } from './errors.js';
export type { EventStream, OverflowPolicy, SubscribeOptions } from './event-stream.js';
export type {
  EventInput,
  EventKey,
  EventMap,
  EventOutput,
  EventTopic,
  FamilyTopic,
  inferEventInputs,
  inferEventOutputs,
  TopicCheck,
  TypedEvent,
  UntypedEvents,
} from './events.js';
export type { GapReason, HistoryGap } from './gap.js';
export type { HistorySince } from './history-replay.js';
export type { HistoryRule } from './history/rules.js';
export type { OutboxOverflow } from './outbox.js';
export type { MemberInfo, PresenceInfo, PresenceMember, PresenceOptions } from './presence.js';
export type { PayloadLimits } from './protocol/payload-shape.js';
export type { ChannelState, ChannelStatus } from './status.js';
export type {
  CaptureName,
  DuplicateCapture,
  MatchingTopics,
  NormalisePattern,
  ParsedPattern,
  PatternCaptures,
  PatternParams,
  TopicLimits,
  TopicMatchesPattern,
  TopicSegments,
} from './topic.js';
export type { TraceParent } from './tracing/traceparent.js';
export type { EventTracing, TraceSpan } from './tracing/tracing.js';
export type { MemoryHubOptions } from './transport/memory.js';
export type { TransportResolveOptions } from './transport/resolve.js';
export type { GetToken } from './transport/token-source.js';
export type { HistoryPage, HistoryQuery, PresenceWireMember, PublishOptions, Transport, TransportSink } from './transport/transport.js';
export type { WebSocketConstructor, WebSocketLike, WsTransportOptions } from './transport/ws.js';
