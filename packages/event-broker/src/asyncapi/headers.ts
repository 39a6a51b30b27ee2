// The envelope around every event's data (packages/event-channel's
// EventEnvelope), as AsyncAPI message headers: the fields beside `data`, with
// `topic` left out because it is the channel's address. Written once here;
// test/asyncapi.test.ts checks it against `parseEnvelope` on the same samples,
// so a field added to the envelope and forgotten here fails a test.
import type { JsonSchema } from './json-schema.js';

/** The envelope minus `topic` and `data`, as a JSON Schema (draft 2020-12). */
export const envelopeHeadersSchema: JsonSchema = {
  type: 'object',
  description: 'The envelope every event travels in (docs/PROTOCOL.md §2); the event data is the payload, the topic the channel address.',
  properties: {
    id: { type: 'string', minLength: 1, description: 'Unique, sortable by creation time (a ULID). CloudEvents id.' },
    source: { type: 'string', minLength: 1, description: 'Who emitted it. CloudEvents source.' },
    time: { type: 'string', format: 'date-time', description: 'When it was emitted, RFC 3339. CloudEvents time.' },
    offset: { type: 'string', description: 'Position given by a broker that keeps history; opaque, for recovery.' },
    traceparent: { type: 'string', description: 'W3C trace context of the emitter.' },
    metadata: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'String annotations added by broker hooks or publishers.',
    },
  },
  required: ['id', 'source', 'time'],
};
