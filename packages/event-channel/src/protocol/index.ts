// @eventwire/event-channel/protocol — the wire protocol, shared with the broker.
// A wider, internal surface (like nats.js's internal module): stable within a
// release of the workspace, not a public API for applications.
export { PROTOCOL_VERSION, FrameError, encodeFrame, parseClientFrame, parseServerFrame, parseWireError } from './frames.js';
export { closeCodes, isTerminalCloseCode } from './close-codes.js';
export { createEventIdGenerator } from '../event-id.js';
export { parseEnvelope } from '../envelope.js';
export { createSchemaLookup, runSchema } from '../events.js';

export type { ClientFrame, FrameId, ReceivedServerFrame, ServerFrame } from './frames.js';
export type { SchemaOutcome } from '../events.js';
