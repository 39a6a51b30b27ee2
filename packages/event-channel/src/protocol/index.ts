// @eventwire/event-channel/protocol — the wire protocol, shared with the broker.
// A wider, internal surface (like nats.js's internal module): stable within a
// release of the workspace, not a public API for applications.
export { PROTOCOL_VERSION, FrameError, encodeFrame, parseClientFrame, parseServerFrame, parseWireError } from './frames.js';
export { gapReasons } from '../gap.js';
export { closeCodes, isTerminalCloseCode } from './close-codes.js';
export { createEventIdGenerator } from '../event-id.js';
export { parseEnvelope } from '../envelope.js';
export { MAX_PAYLOAD_DEPTH, assertPayloadShape, findPayloadProblem, payloadLimitDefaults, payloadShapeError } from './payload-shape.js';
export { formatOffset, parseOffset } from '../offset.js';
export { MemoryHistoryStore, memoryHistoryStoreDefaults } from '../history/memory-store.js';
export { EVENT_OVERHEAD_BYTES, estimateEventBytes } from '../history/event-size.js';
export { HistoryRules, historyRuleDefaults, patternsOverlap } from '../history/rules.js';
export { MAX_HISTORY_PAGE, parseSince, readStoredPage } from '../history/page.js';
export { createSchemaLookup, runSchema } from '../events.js';
export { NatsPatternOwners, fromNatsError, loadNats, natsConnectionOptions, parseNatsJson } from '../transport/nats-client.js';
export { isInternalSubject, natsSubjectsFor } from '../transport/nats-subjects.js';
export { EXCEPT_HEADER } from '../transport/nats.js';
export { Outbox } from '../outbox.js';
export { answersWithin, settlesWithin } from '../deadline.js';
export { PubSubTransport, EXCEPT_FIELD, ORIGIN_FIELD } from '../transport/pubsub-transport.js';
export { RedisTransport } from '../transport/redis.js';
export { PostgresTransport } from '../transport/postgres.js';
export type { RedisTransportOptions } from '../transport/redis.js';
export type { PostgresTransportOptions } from '../transport/postgres.js';

export type { ClientFrame, FrameId, ReceivedServerFrame, ServerFrame } from './frames.js';
export type { GapReason } from '../gap.js';
export type { PayloadLimits } from './payload-shape.js';
export type { SchemaOutcome } from '../events.js';
export type { ParsedOffset } from '../offset.js';
export type { HistoryReader, HistoryRetention, HistoryStore, StoredEvent } from '../history/store.js';
export type { MemoryHistoryStoreOptions } from '../history/memory-store.js';
export type { HistoryRule } from '../history/rules.js';
export type { PageQuery, StoredPage } from '../history/page.js';
export type { NatsModule, NatsServerOptions } from '../transport/nats-client.js';
export { StreamReader, type StreamReaderOptions } from '../transport/stream-reader.js';
export { HISTORY_STREAM, historyEpoch, loadJetStream, streamConsumeOptions, streamCovers, streamSubjects, subjectCovers, type JetStreamModule } from '../transport/nats-history.js';
export type { OutboxOverflow } from '../outbox.js';
export { inSpan } from '../tracing/tracing.js';
