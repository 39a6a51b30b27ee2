// What a Kafka record carries, both ways (issue #34, PROTOCOL.md "Kafka
// records"). Out: the value is the envelope JSON exactly as nats:// and
// redis:// carry it, the key the full topic, and headers so a plain Kafka
// consumer (kcat, a Java consumer, OpenTelemetry's Kafka instrumentations)
// sees what the event is without parsing the value. In: our own records as
// they are, a CloudEvents record converted, any other JSON record (a plain
// producer's) turned into an event from its key, headers and timestamp, and
// a record that is not JSON refused with its place, so the reader reports it
// once and moves past it.
//
// Pure: no client, no I/O, so it is fuzzed on its own
// (test/kafka-record.test.ts) and the transport keeps the reading.
import type { EventEnvelope } from '../envelope.js';
import { fromCloudEvent } from '../envelope.js';
import { EventwireError } from '../errors.js';
import { eventIdOf } from '../event-id.js';
import { findTopicProblem } from '../topic.js';
import { fnv1a64 } from './fnv1a.js';

/** The record headers eventwire writes, and reads back from any producer. */
export const kafkaHeaders = {
  contentType: 'content-type',
  id: 'eventwire-id',
  topic: 'eventwire-topic',
  source: 'eventwire-source',
  time: 'eventwire-time',
  /** W3C Trace Context, the name OpenTelemetry's Kafka propagators use. */
  traceparent: 'traceparent',
} as const;

/** The content type of our records' value. */
const ENVELOPE_CONTENT_TYPE = 'application/json';
/** A CloudEvents 1.0 event in structured JSON mode (the whole event is the value). */
const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/** A record to produce (kafkajs's `Message` shape, strings only). */
export interface OutboundRecord {
  readonly key: string;
  readonly value: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The record for an event: `payload` is the envelope JSON as sent (with the
 * transport's `except`/`origin` fields when it has them), `envelope` the
 * event it was made from, so the headers need no second parse.
 */
export function recordOf(envelope: EventEnvelope, payload: string): OutboundRecord {
  const headers: Record<string, string> = {
    [kafkaHeaders.contentType]: ENVELOPE_CONTENT_TYPE,
    [kafkaHeaders.id]: envelope.id,
    [kafkaHeaders.topic]: envelope.topic,
    [kafkaHeaders.source]: envelope.source,
    [kafkaHeaders.time]: envelope.time,
  };
  if (envelope.traceparent !== undefined) headers[kafkaHeaders.traceparent] = envelope.traceparent;
  return { key: envelope.topic, value: payload, headers };
}

/** A fetched record as kafkajs decodes it (header values repeat as arrays when a name does). */
export interface InboundRecord {
  readonly key?: Buffer | string | null | undefined;
  readonly value: Buffer | string | null | undefined;
  readonly headers?: Readonly<Record<string, Buffer | string | readonly (Buffer | string)[] | undefined>> | undefined;
  /** Milliseconds since the epoch, as decimal text (kafkajs keeps 64-bit numbers as text). */
  readonly timestamp: string;
  readonly offset: string;
  /** A transaction marker: no application record. */
  readonly isControlRecord?: boolean | undefined;
}

/** Where a record was read: what its derived id and an error name. */
export interface RecordPlace {
  readonly kafkaTopic: string;
  readonly partition: number;
  /** The Kafka topic an eventwire topic's records go to (the key is taken as the topic only when it maps here). */
  readonly kafkaTopicOf: (topic: string) => string;
}

/**
 * What a record is to the channel: an event (not yet validated — the channel
 * does that, as for every transport), nothing (a transaction marker), or a
 * record no event can be made of (`invalid_envelope`, naming its place).
 * `topic` is the eventwire topic when known, so a record nobody subscribed
 * to is dropped quietly.
 */
export type DecodedRecord =
  | { readonly kind: 'event'; readonly event: EventEnvelope | Readonly<Record<string, unknown>>; readonly topic: string | undefined }
  | { readonly kind: 'skip' }
  | { readonly kind: 'invalid'; readonly error: EventwireError; readonly topic: string | undefined };

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** The largest time a Date (and so toISOString) can hold. */
const MAX_DATE_MS = 8.64e15;

/**
 * Decodes one fetched record, in order: (1) a JSON value of envelope shape
 * (string id, topic, source, time) is returned as it is; (2) `content-type:
 * application/cloudevents+json` goes through fromCloudEvent; (3) any other
 * JSON value becomes the data of an event whose topic, source, id and
 * traceparent come from the headers, else the key (when it is a topic of
 * this Kafka topic), `kafka://<kafkaTopic>` and an id derived from the
 * record's place; its time is the record's timestamp; (4) anything else (no
 * value, empty, not UTF-8, not JSON) is invalid. Never throws.
 */
export function decodeRecord(record: InboundRecord, place: RecordPlace): DecodedRecord {
  if (record.isControlRecord === true) return { kind: 'skip' };
  const headerTopic = header(record, kafkaHeaders.topic);
  const keyTopic = topicFromKey(record.key, place);
  const knownTopic = headerTopic ?? keyTopic;
  const text = textOf(record.value);
  if (text === undefined || text.length === 0) {
    return invalid(record, place, knownTopic, record.value === null || record.value === undefined ? 'has no value (a tombstone)' : text === undefined ? 'is not UTF-8' : 'is empty');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return invalid(record, place, knownTopic, `is not JSON (not an eventwire event): ${text.slice(0, 60)}`);
  }
  if (isEnvelopeShaped(value)) return { kind: 'event', event: value, topic: value['topic'] as string };
  const contentType = header(record, kafkaHeaders.contentType);
  if (contentType !== undefined && contentType.split(';', 1)[0]!.trim().toLowerCase() === CLOUDEVENTS_CONTENT_TYPE) {
    try {
      const event = fromCloudEvent(value, () => recordTime(record));
      return { kind: 'event', event, topic: event.topic };
    } catch (error) {
      return invalid(record, place, knownTopic, `is not a valid CloudEvent (${(error as Error).message})`);
    }
  }
  const time = recordTime(record);
  const topic = knownTopic ?? place.kafkaTopic;
  const event: Record<string, unknown> = {
    id: header(record, kafkaHeaders.id) ?? derivedId(place, record.offset, timestampOf(record) ?? 0),
    topic,
    source: header(record, kafkaHeaders.source) ?? `kafka://${place.kafkaTopic}`,
    time: time.toISOString(),
    data: value,
  };
  const traceparent = header(record, kafkaHeaders.traceparent);
  if (traceparent !== undefined) event['traceparent'] = traceparent;
  return { kind: 'event', event, topic };
}

/** The shape of an envelope: the channel checks the rest (and reports what fails). Cheap: no copy. */
function isEnvelopeShaped(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const record = value as Record<string, unknown>;
  return typeof record['id'] === 'string' && typeof record['topic'] === 'string' && typeof record['source'] === 'string' && typeof record['time'] === 'string';
}

/** The key, when it is a valid topic whose records go to this Kafka topic (what eventwire itself writes). */
function topicFromKey(key: InboundRecord['key'], place: RecordPlace): string | undefined {
  const text = textOf(key);
  if (text === undefined || findTopicProblem(text, 'topic') !== undefined) return undefined;
  return place.kafkaTopicOf(text) === place.kafkaTopic ? text : undefined;
}

/**
 * A header's value as text; the last one when the name repeats (Kafka's
 * `lastHeader`). Own properties only: a header named `__proto__` or
 * `constructor` is data, never the object's prototype.
 */
function header(record: InboundRecord, name: string): string | undefined {
  const headers = record.headers;
  if (headers === undefined || headers === null || !Object.hasOwn(headers, name)) return undefined;
  const value = headers[name];
  const last = Array.isArray(value) ? value[value.length - 1] : value;
  return textOf(last as Buffer | string | undefined);
}

function textOf(bytes: Buffer | string | null | undefined): string | undefined {
  if (bytes === null || bytes === undefined) return undefined;
  if (typeof bytes === 'string') return bytes;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The record's timestamp in ms, undefined when it has none a Date can hold (-1: a pre-0.10 record). */
function timestampOf(record: InboundRecord): number | undefined {
  const ms = Number(record.timestamp);
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_DATE_MS ? ms : undefined;
}

/** The event's time: the record's timestamp, else now (as a CloudEvent without `time`). */
function recordTime(record: InboundRecord): Date {
  return new Date(timestampOf(record) ?? Date.now());
}

/** Another FNV offset basis: a second hash of the same text, independent of the first. */
const SECOND_BASIS = 0x84222325cbf29ce4n;

/**
 * A ULID at the record's time whose random part is a hash of where the record
 * is (Kafka topic, partition, offset): reading the record again, here or in
 * another process, gives the same id, so the channel's and a broker's
 * dedupe by id work for plain producers' records too. A record without a
 * timestamp gets time 0 in its id (not now), so its id is still the same on
 * every read.
 */
function derivedId(place: RecordPlace, offset: string, timeMs: number): string {
  // 16 digits of 5 bits from two independent 64-bit hashes of the record's place.
  const place64 = `${place.kafkaTopic}\u0000${place.partition}\u0000${offset}`;
  const digits = new Uint8Array(16);
  for (const [index, hash] of [fnv1a64(place64), fnv1a64(place64, SECOND_BASIS)].entries()) {
    for (let i = 0; i < 8; i++) digits[index * 8 + i] = Number((hash >> BigInt(i * 8)) & 0xffn);
  }
  return eventIdOf(timeMs, digits);
}

function invalid(record: InboundRecord, place: RecordPlace, topic: string | undefined, why: string): DecodedRecord {
  const error = new EventwireError('invalid_envelope', `Kafka record ${place.kafkaTopic}/${place.partition}@${record.offset} ${why}`);
  return { kind: 'invalid', error, topic };
}
