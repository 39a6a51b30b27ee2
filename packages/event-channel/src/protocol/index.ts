// @eventwire/event-channel/protocol: what the broker (packages/event-broker,
// its benches) shares with this package — the wire frames, envelope and
// payload checks, history stores and offsets, and what its cluster engines
// run on (the NATS helpers, the Redis/PostgreSQL transports, the outbox and
// deadlines). Internal, like nats.js's internal
// module: stable within a release of the workspace, not an API for
// applications. It lists what the broker imports and nothing more; a name
// nobody outside this package uses stays unexported. Values, then types,
// each module's names alphabetised, modules in path order.

export { settlesWithin } from '../deadline.js';
export { parseEnvelope } from '../envelope.js';
export { createEventIdGenerator } from '../event-id.js';
export { createSchemaLookup, runSchema } from '../events.js';
export { estimateEventBytes } from '../history/event-size.js';
export { MemoryHistoryStore } from '../history/memory-store.js';
export { parseSince, readStoredPage } from '../history/page.js';
export { historyRuleDefaults, HistoryRules } from '../history/rules.js';
export { isoNow } from '../iso-now.js';
export { formatOffset } from '../offset.js';
export { Outbox } from '../outbox.js';
export { inSpan } from '../tracing/tracing.js';
export { fromNatsError, loadNats, natsConnectionOptions, NatsPatternOwners, parseNatsJson } from '../transport/nats-client.js';
export { HISTORY_STREAM, historyEpoch, loadJetStream, streamSubjects } from '../transport/nats-history.js';
export { isInternalSubject } from '../transport/nats-subjects.js';
export { EXCEPT_HEADER } from '../transport/nats.js';
export { KafkaTransport } from '../transport/kafka-transport.js';
export { PostgresTransport } from '../transport/postgres.js';
export { EXCEPT_FIELD, PubSubTransport } from '../transport/pubsub-transport.js';
export { quitRedis, RedisTransport } from '../transport/redis.js';
export { StreamReader } from '../transport/stream-reader.js';
export { closeCodes } from './close-codes.js';
export { encodeFrame, FrameError, parseClientFrame, PROTOCOL_VERSION } from './frames.js';
export { assertPayloadShape, findPayloadProblem, payloadLimitDefaults, payloadShapeError } from './payload-shape.js';

export type { SchemaOutcome } from '../events.js';
export type { GapReason } from '../gap.js';
export type { MemoryHistoryStoreOptions } from '../history/memory-store.js';
export type { PageQuery, StoredPage } from '../history/page.js';
export type { HistoryRule } from '../history/rules.js';
export type { HistoryReader, HistoryRetention, HistoryStore, StoredEvent } from '../history/store.js';
export type { NatsModule, NatsServerOptions } from '../transport/nats-client.js';
export type { KafkaTransportOptions } from '../transport/kafka-transport.js';
export type { PostgresTransportOptions } from '../transport/postgres.js';
export type { RedisTransportOptions } from '../transport/redis.js';
export type { ClientFrame, FrameId, ServerFrame } from './frames.js';
export type { PayloadLimits } from './payload-shape.js';
