// What a Kafka record carries (transport/kafka-record.ts), without a server:
// the headers written for plain Kafka readers, and every way a fetched record
// is read — our own envelope, a CloudEvent, a plain producer's JSON, and the
// records no event can be made of. Then a property: random bytes, JSON and
// headers never make the decoder throw, never reach Object.prototype, and
// give either an event the channel's own check accepts or rejects with
// invalid_envelope, or an invalid_envelope; the derived id is the same on
// every read. The kcat interop test drives the same paths through a server.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventwireError, parseEnvelope, type EventEnvelope } from '../src/index.js';
import { eventIdTime } from '../src/event-id.js';
import { decodeRecord, recordOf, type DecodedRecord, type InboundRecord, type RecordPlace } from '../src/transport/kafka-record.js';

const test = suite('kafka records');

const kafkaTopicOf = (topic: string): string => topic.split('.', 1)[0]!;
const place: RecordPlace = { kafkaTopic: 'orders', partition: 2, kafkaTopicOf };
const TS = Date.UTC(2026, 0, 31, 12, 0, 0, 123);
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const record = (value: string | Buffer | null, extra: Partial<InboundRecord> = {}): InboundRecord => ({
  key: null,
  value: typeof value === 'string' ? Buffer.from(value) : value,
  headers: {},
  timestamp: String(TS),
  offset: '41',
  ...extra,
});

function eventOf(decoded: DecodedRecord): Record<string, unknown> {
  if (decoded.kind !== 'event') throw new Error(`expected an event, got ${decoded.kind}${decoded.kind === 'invalid' ? ` (${decoded.error.message})` : ''}`);
  return decoded.event as Record<string, unknown>;
}

function invalidCode(decoded: DecodedRecord): string {
  if (decoded.kind !== 'invalid') throw new Error(`expected invalid, got ${decoded.kind}`);
  return decoded.error.code;
}

const envelope: EventEnvelope = { id: '01JABCDEFGHJKMNPQRSTVWXYZ0', topic: 'orders.created', source: 'urn:shop', time: '2026-01-31T12:00:00.000Z', data: { n: 1 } };

test('out: the value is the payload as given, the key the topic, headers name the envelope (traceparent only when it has one)', () => {
  const payload = JSON.stringify({ ...envelope, except: 'kafka-x' });
  const plain = recordOf(envelope, payload);
  assert.is(plain.value, payload);
  assert.is(plain.key, 'orders.created');
  assert.equal(plain.headers, {
    'content-type': 'application/json',
    'eventwire-id': envelope.id,
    'eventwire-topic': 'orders.created',
    'eventwire-source': 'urn:shop',
    'eventwire-time': envelope.time,
  });
  assert.is(recordOf({ ...envelope, traceparent: TRACEPARENT }, payload).headers['traceparent'], TRACEPARENT);
});

test('in: our own record is its envelope, the transport fields (except) kept for the transport to act on', () => {
  const payload = JSON.stringify({ ...envelope, except: 'kafka-x' });
  const out = recordOf(envelope, payload);
  const decoded = decodeRecord(record(out.value, { key: Buffer.from(out.key), headers: out.headers }), place);
  assert.equal(eventOf(decoded), { ...envelope, except: 'kafka-x' });
  assert.is(decoded.kind === 'event' && decoded.topic, 'orders.created');
});

test('in: content-type application/cloudevents+json goes through fromCloudEvent; without time, the record time', () => {
  const cloudEvent = { specversion: '1.0', id: 'ce-1', source: 'urn:ce', type: 'orders.paid', data: { paid: true }, traceparent: TRACEPARENT };
  const decoded = decodeRecord(record(JSON.stringify(cloudEvent), { headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' } }), place);
  assert.equal(eventOf(decoded), { id: 'ce-1', topic: 'orders.paid', source: 'urn:ce', time: new Date(TS).toISOString(), data: { paid: true }, traceparent: TRACEPARENT });
  const bad = decodeRecord(record(JSON.stringify({ ...cloudEvent, specversion: '0.3' }), { headers: { 'content-type': 'application/cloudevents+json' } }), place);
  assert.is(invalidCode(bad), 'invalid_envelope');
});

test("in: a plain producer's JSON is the data; topic, source, id, traceparent from the headers", () => {
  const decoded = decodeRecord(
    record('{"hello":1}', {
      key: Buffer.from('orders.made'),
      headers: { 'eventwire-topic': Buffer.from('orders.shipped'), 'eventwire-source': 'urn:legacy', 'eventwire-id': 'legacy-7', traceparent: Buffer.from(TRACEPARENT) },
    }),
    place,
  );
  assert.equal(eventOf(decoded), { id: 'legacy-7', topic: 'orders.shipped', source: 'urn:legacy', time: new Date(TS).toISOString(), data: { hello: 1 }, traceparent: TRACEPARENT });
  assert.equal(parseEnvelope(eventOf(decoded)).data, { hello: 1 });
});

test('in: without headers the topic is the key when it is a topic of this Kafka topic, else the Kafka topic; source kafka://<topic>', () => {
  const keyed = eventOf(decodeRecord(record('[1,2]', { key: Buffer.from('orders.made') }), place));
  assert.is(keyed['topic'], 'orders.made');
  assert.is(keyed['source'], 'kafka://orders');
  assert.equal(keyed['data'], [1, 2]);
  // A key of another Kafka topic, a key that is no topic, no key: the Kafka topic's name.
  for (const key of [Buffer.from('payments.made'), Buffer.from('not a topic'), Buffer.from('orders..x'), null]) {
    assert.is(eventOf(decodeRecord(record('3', { key }), place))['topic'], 'orders', `key ${String(key)}`);
  }
  // The last of a repeated header wins (Kafka's lastHeader).
  assert.is(eventOf(decodeRecord(record('3', { headers: { 'eventwire-topic': ['orders.a', 'orders.b'] } }), place))['topic'], 'orders.b');
});

test('in: the derived id is a ULID at the record time, the same on every read of that record, different for another offset, partition or Kafka topic', () => {
  const id = (extra: Partial<InboundRecord>, where: RecordPlace = place): unknown => eventOf(decodeRecord(record('{}', extra), where))['id'];
  const first = id({});
  assert.type(first, 'string');
  assert.is(eventIdTime(first as string), TS);
  assert.is(id({}), first);
  assert.is.not(id({ offset: '42' }), first);
  assert.is.not(id({}, { ...place, partition: 3 }), first);
  assert.is.not(id({}, { ...place, kafkaTopic: 'orders2' }), first);
  // No timestamp: time is now, but the id stays the record's (time 0 in it).
  assert.is(id({ timestamp: '-1' }), id({ timestamp: '-1' }));
  assert.is(eventIdTime(id({ timestamp: '-1' }) as string), 0);
});

test('in: no value (a tombstone), an empty value, bytes that are not UTF-8, text that is not JSON: invalid_envelope, with the topic when the record names one', () => {
  for (const value of [null, '', Buffer.from([0xff, 0xfe, 0x00]), 'hello', '{"a":', 'undefined']) {
    const decoded = decodeRecord(record(value, { key: Buffer.from('orders.made') }), place);
    assert.is(invalidCode(decoded), 'invalid_envelope', `value ${String(value)}`);
    assert.is(decoded.kind === 'invalid' && decoded.topic, 'orders.made');
  }
  assert.is(decodeRecord(record('{}', { isControlRecord: true }), place).kind, 'skip');
});

test('in: a value or header named __proto__ is data, never a prototype', () => {
  const decoded = decodeRecord(record('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}', { headers: JSON.parse('{"__proto__":"x","eventwire-topic":"orders.p"}') as Record<string, string> }), place);
  const event = eventOf(decoded);
  const data = parseEnvelope(event).data as Record<string, unknown>;
  assert.ok(Object.hasOwn(data, '__proto__'));
  assert.is(Object.getPrototypeOf(data), Object.prototype);
  assert.is(({} as Record<string, unknown>)['polluted'], undefined);
  assert.is(event['topic'], 'orders.p');
  // An envelope-shaped value with a __proto__ field: the channel's check keeps only the known fields.
  const shaped = decodeRecord(record(JSON.stringify(envelope).replace('{', '{"__proto__":{"polluted":true},')), place);
  assert.equal(parseEnvelope(eventOf(shaped)), envelope);
  assert.is(({} as Record<string, unknown>)['polluted'], undefined);
});

// ---------------------------------------------------------------------------
// The property

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('orders', 'orders.x', 'payments.y', 'a..b', '#', '*', '', '__proto__', 'constructor', TRACEPARENT));
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 60 }).map((array) => Buffer.from(array)),
  text.map((each) => Buffer.from(each)),
  text,
);
const json = fc.jsonValue({ maxDepth: 4 });
const envelopeish = fc.record(
  { id: fc.oneof(text, json), topic: fc.oneof(text, json), source: fc.oneof(text, json), time: fc.oneof(fc.constant('2026-01-31T12:00:00Z'), text, json), data: json, except: text, specversion: fc.constantFrom('1.0', '0.3'), type: text },
  { requiredKeys: [] },
);
const value = fc.oneof(
  fc.constant(null),
  bytes,
  json.map((each) => Buffer.from(JSON.stringify(each))),
  envelopeish.map((each) => Buffer.from(JSON.stringify(each))),
  fc.string({ maxLength: 80 }).map((each) => Buffer.from(`{"__proto__":${JSON.stringify(each)},"a":{"__proto__":{"polluted":1}}}`)),
);
const headerName = fc.oneof(fc.constantFrom('content-type', 'eventwire-id', 'eventwire-topic', 'eventwire-source', 'eventwire-time', 'traceparent', '__proto__', 'constructor', 'toString'), fc.string({ maxLength: 12 }));
const headerValue = fc.oneof(bytes, fc.constantFrom('application/cloudevents+json', 'application/json'), fc.array(bytes, { maxLength: 3 }));
const headers = fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }).map((pairs) => {
  // As kafkajs builds them: computed keys, so __proto__ is an own property.
  const out: Record<string, Buffer | string | (Buffer | string)[]> = {};
  for (const [name, each] of pairs) Object.defineProperty(out, name, { value: each, enumerable: true, writable: true, configurable: true });
  return out;
});
const inbound = fc.record({
  key: fc.oneof(fc.constant(null), bytes),
  value,
  headers,
  timestamp: fc.oneof(fc.integer({ min: -2, max: 2 ** 50 }).map(String), fc.constantFrom('', 'abc', '1e400', '9'.repeat(30))),
  offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
  isControlRecord: fc.boolean(),
});
const places = fc.record({ kafkaTopic: fc.oneof(text, fc.constant('orders')), partition: fc.integer({ min: 0, max: 1000 }), kafkaTopicOf: fc.constant(kafkaTopicOf) });

test('property: any record decodes without throwing to an event (the channel accepts it or says invalid_envelope), a skip, or invalid_envelope; nothing reaches Object.prototype; the same record decodes the same', () => {
  fc.assert(
    fc.property(inbound, places, (input, where) => {
      const decoded = decodeRecord(input, where);
      assert.is(({} as Record<string, unknown>)['polluted'], undefined);
      if (decoded.kind === 'invalid') {
        assert.instance(decoded.error, EventwireError);
        assert.is(decoded.error.code, 'invalid_envelope');
        return;
      }
      if (decoded.kind === 'skip') return assert.ok(input.isControlRecord);
      try {
        parseEnvelope(decoded.event);
      } catch (error) {
        assert.instance(error, EventwireError);
        assert.is((error as EventwireError).code, 'invalid_envelope');
      }
      // Re-reading a record is the same event (the time of a record without a timestamp aside).
      const again = decodeRecord(input, where);
      assert.is(again.kind === 'event' && (again.event as Record<string, unknown>)['id'], (decoded.event as Record<string, unknown>)['id']);
      assert.is(again.kind === 'event' && again.topic, decoded.topic);
    }),
    { numRuns: 3000 },
  );
});

test.run();
