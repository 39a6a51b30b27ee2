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

/**
 * True for an RFC 3339 §5.6 `date-time` (`2026-01-31T12:00:00.000Z`) that
 * names a real calendar day: full date, `T` or `t`, hh:mm:ss (a leap second
 * `60` allowed), optional fraction of one or more digits, then `Z`, `z` or
 * ±hh:mm.
 *
 * Read with char codes, not a regex and a `Date`: it runs on every publish,
 * and the regex's match array, its substrings and the Date were 318 B and
 * ~280 ns of each (issue #35; bench/envelope.bench.ts). Its verdicts equal the
 * earlier regex + `Date.UTC` check on every input (test/envelope-time.test.ts
 * keeps that one as the reference).
 */
export function isRfc3339(text: string): boolean {
  // The shortest form is 2026-01-31T12:00:00Z.
  const length = text.length;
  if (length < 20) return false;
  const century = twoDigits(text, 0);
  const yearOfCentury = twoDigits(text, 2);
  if (century < 0 || yearOfCentury < 0 || text.charCodeAt(4) !== DASH) return false;
  const month = twoDigits(text, 5);
  if (month < 1 || month > 12 || text.charCodeAt(7) !== DASH) return false;
  const day = twoDigits(text, 8);
  if (day < 1 || day > daysInMonth(century * 100 + yearOfCentury, month)) return false;
  const t = text.charCodeAt(10);
  if (t !== UPPER_T && t !== LOWER_T) return false;
  const hour = twoDigits(text, 11);
  if (hour < 0 || hour > 23 || text.charCodeAt(13) !== COLON) return false;
  const minute = twoDigits(text, 14);
  if (minute < 0 || minute > 59 || text.charCodeAt(16) !== COLON) return false;
  const second = twoDigits(text, 17);
  if (second < 0 || second > 60) return false;
  let at = 19;
  if (text.charCodeAt(at) === DOT) {
    const fraction = ++at;
    while (digitAt(text, at) >= 0) at++;
    if (at === fraction) return false;
  }
  const zone = text.charCodeAt(at);
  if (zone === UPPER_Z || zone === LOWER_Z) return at + 1 === length;
  if (zone !== PLUS && zone !== DASH) return false;
  if (at + 6 !== length) return false;
  const offsetHour = twoDigits(text, at + 1);
  const offsetMinute = twoDigits(text, at + 4);
  return offsetHour >= 0 && offsetHour <= 23 && text.charCodeAt(at + 3) === COLON && offsetMinute >= 0 && offsetMinute <= 59;
}

const DASH = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const COLON = 0x3a;
const UPPER_T = 0x54;
const LOWER_T = 0x74;
const UPPER_Z = 0x5a;
const LOWER_Z = 0x7a;

/** The ASCII digit at `index` as 0–9, or -1 (NaN past the end compares false too). */
function digitAt(text: string, index: number): number {
  const digit = text.charCodeAt(index) - 0x30;
  return digit >= 0 && digit <= 9 ? digit : -1;
}

/** Two ASCII digits at `index` as 0–99, or -1. */
function twoDigits(text: string, index: number): number {
  const tens = digitAt(text, index);
  const units = digitAt(text, index + 1);
  return tens < 0 || units < 0 ? -1 : tens * 10 + units;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) {
    // Years 0000–0099 are judged as 1900–1999, as the earlier Date.UTC check
    // did (it maps two-digit years to the 1900s): so 0000-02-29 is refused
    // although the proleptic Gregorian year 0 is a leap year. Kept so that no
    // timestamp accepted or refused before changes verdict.
    const calendarYear = year < 100 ? year + 1900 : year;
    const leap = calendarYear % 4 === 0 && (calendarYear % 100 !== 0 || calendarYear % 400 === 0);
    return leap ? 29 : 28;
  }
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
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
