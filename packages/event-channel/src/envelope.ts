import { EventwireError } from './errors.js';
import { findTopicProblem, topicLimitDefaults, type TopicLimits } from './topic.js';

/**
 * The one shape every event travels in, on every transport.
 * Maps one-to-one onto CloudEvents 1.0 (see {@link toCloudEvent}).
 */
export interface EventEnvelope<TTopic extends string = string, TData = unknown> {
  /** Unique, lexicographically sortable by creation time (a ULID). CloudEvents `id`. */
  readonly id: string;
  /** The concrete topic, e.g. `order.created`. CloudEvents `type`. */
  readonly topic: TTopic;
  /** Who emitted it (a URI-reference, e.g. `order-service`). CloudEvents `source`. */
  readonly source: string;
  /** When it was emitted, RFC 3339 in UTC. CloudEvents `time`. */
  readonly time: string;
  /** The payload, valid for the topic's schema. CloudEvents `data` (JSON). */
  readonly data: TData;
  /** Position assigned by a broker that keeps history; opaque, for recovery. */
  readonly offset?: string;
  /** W3C trace context of the emitter, carried through unchanged. */
  readonly traceparent?: string;
  /**
   * String annotations added along the way (by broker hooks, or by a Synap
   * publisher's `metadata`), e.g. `{ causationid: '01J…' }` on derived events.
   */
  readonly metadata?: Readonly<Record<string, string>>;
}

/**
 * Checks that an untrusted value (a decoded frame, a message from another
 * process) is a well-formed envelope, and returns it with only the known fields:
 * non-empty `id` and `source`, a valid topic (within `limits`), `time` an RFC
 * 3339 timestamp. Throws `invalid_envelope` naming the first bad field.
 */
export function parseEnvelope(value: unknown, limits: TopicLimits = topicLimitDefaults): EventEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw envelopeError('the envelope must be an object');
  }
  const record = value as Record<string, unknown>;
  const id = requireString(record, 'id');
  const topic = requireString(record, 'topic');
  const problem = findTopicProblem(topic, 'topic', limits);
  if (problem) throw envelopeError(`"topic" is not a valid topic (${problem})`);
  const time = requireString(record, 'time');
  if (!isRfc3339(time)) throw envelopeError(`"time" must be an RFC 3339 timestamp (e.g. 2026-01-31T12:00:00.000Z), got "${time.slice(0, 40)}"`);
  const envelope: {
    -readonly [K in keyof EventEnvelope]: EventEnvelope[K];
  } = {
    id,
    topic,
    source: requireString(record, 'source'),
    time,
    data: record['data'],
  };
  const offset = optionalString(record, 'offset');
  if (offset !== undefined) envelope.offset = offset;
  const traceparent = optionalString(record, 'traceparent');
  if (traceparent !== undefined) envelope.traceparent = traceparent;
  const metadata = optionalStringRecord(record, 'metadata');
  if (metadata !== undefined) envelope.metadata = metadata;
  return envelope;
}

/** `date-time` of RFC 3339 §5.6: full date, `T`, full time with an offset (`Z` or ±hh:mm). */
const RFC3339 = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

/** True for an RFC 3339 timestamp (`2026-01-31T12:00:00.000Z`) that names a real calendar day. */
export function isRfc3339(text: string): boolean {
  const match = RFC3339.exec(text);
  if (!match) return false;
  // The pattern bounds every field but the day by its month (Date.parse would
  // quietly roll 02-30 over to 03-02).
  const year = Number(match[1]);
  const month = Number(match[2]);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return Number(match[3]) <= daysInMonth;
}

function optionalStringRecord(
  record: Record<string, unknown>,
  field: string,
): Record<string, string> | undefined {
  const value = record[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw envelopeError(`"${field}" must be an object of strings when present`);
  }
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw envelopeError(`"${field}.${key}" must be a string`);
    out[key] = entry;
  }
  return out;
}

function requireString(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (typeof value !== 'string' || value.length === 0) {
    throw envelopeError(`"${field}" must be a non-empty string`);
  }
  return value;
}

function optionalString(record: Record<string, unknown>, field: string): string | undefined {
  const value = record[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw envelopeError(`"${field}" must be a string when present`);
  return value;
}

function envelopeError(detail: string): EventwireError {
  return new EventwireError('invalid_envelope', `Invalid event envelope: ${detail}`);
}

// ---------------------------------------------------------------------------
// CloudEvents 1.0 (structured JSON mode)

/** A CloudEvents 1.0 event as produced by {@link toCloudEvent}. */
export interface CloudEvent<TData = unknown> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly time?: string;
  readonly datacontenttype?: string;
  readonly data?: TData;
  /** Extension: the broker-assigned {@link EventEnvelope.offset}. */
  readonly eventwireoffset?: string;
  /** Extension (CloudEvents distributed tracing): {@link EventEnvelope.traceparent}. */
  readonly traceparent?: string;
  /** Extension: {@link EventEnvelope.metadata} as a JSON object string. */
  readonly eventwiremetadata?: string;
}

/**
 * Maps an envelope to a CloudEvent: `id`→`id`, `topic`→`type`, `source`→`source`,
 * `time`→`time`, `data`→`data` (`datacontenttype: application/json`),
 * `offset`→`eventwireoffset`, `traceparent`→`traceparent`, `metadata`→
 * `eventwiremetadata` (a JSON string: extension values must be scalars).
 */
export function toCloudEvent<TTopic extends string, TData>(
  envelope: EventEnvelope<TTopic, TData>,
): CloudEvent<TData> {
  return {
    specversion: '1.0',
    id: envelope.id,
    source: envelope.source,
    type: envelope.topic,
    time: envelope.time,
    datacontenttype: 'application/json',
    data: envelope.data,
    ...(envelope.offset !== undefined && { eventwireoffset: envelope.offset }),
    ...(envelope.traceparent !== undefined && { traceparent: envelope.traceparent }),
    ...(envelope.metadata !== undefined && { eventwiremetadata: JSON.stringify(envelope.metadata) }),
  };
}

/**
 * The inverse of {@link toCloudEvent}. Accepts any CloudEvents 1.0 JSON event
 * whose `type` is a valid topic and whose data is JSON (`datacontenttype`
 * absent or `application/json`); a missing `time` becomes "now".
 * Throws `invalid_envelope` otherwise.
 */
export function fromCloudEvent(value: unknown, now: () => Date = () => new Date()): EventEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw envelopeError('a CloudEvent must be an object');
  }
  const event = value as Record<string, unknown>;
  if (event['specversion'] !== '1.0') throw envelopeError('"specversion" must be "1.0"');
  const contentType = event['datacontenttype'];
  if (contentType !== undefined && !/^application\/(?:[\w.+-]+\+)?json\b/.test(String(contentType))) {
    throw envelopeError(`"datacontenttype" ${String(contentType)} is not JSON`);
  }
  return parseEnvelope({
    id: event['id'],
    topic: event['type'],
    source: event['source'],
    time: event['time'] ?? now().toISOString(),
    data: event['data'],
    offset: event['eventwireoffset'],
    traceparent: event['traceparent'],
    metadata: parseMetadataExtension(event['eventwiremetadata']),
  });
}

function parseMetadataExtension(value: unknown): unknown {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw envelopeError('"eventwiremetadata" must be a JSON string');
  try {
    return JSON.parse(value);
  } catch {
    throw envelopeError('"eventwiremetadata" is not valid JSON');
  }
}
