import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fromCloudEvent, parseEnvelope, toCloudEvent, type EventEnvelope } from '../src/index.js';
import { expectCode } from './helpers.js';

const test = suite('envelope');

const envelope: EventEnvelope<'order.created', { id: string }> = {
  id: '01JDQ7Y8Z9ABCDEFGHJKMNPQRS',
  topic: 'order.created',
  source: 'order-service',
  time: '2026-11-23T10:00:00.000Z',
  data: { id: 'o1' },
  offset: '42',
  traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
};

test('maps to CloudEvents 1.0 one to one (topic ↔ type)', () => {
  assert.equal(toCloudEvent(envelope), {
    specversion: '1.0',
    id: envelope.id,
    source: 'order-service',
    type: 'order.created',
    time: envelope.time,
    datacontenttype: 'application/json',
    data: { id: 'o1' },
    eventwireoffset: '42',
    traceparent: envelope.traceparent,
  });
});

test('round-trips through CloudEvents and JSON', () => {
  assert.equal(fromCloudEvent(JSON.parse(JSON.stringify(toCloudEvent(envelope)))), envelope);
  const minimal: EventEnvelope = { id: 'x', topic: 'a.b', source: 's', time: envelope.time, data: null };
  assert.equal(fromCloudEvent(toCloudEvent(minimal)), minimal);
});

test('accepts foreign CloudEvents: JSON content types, missing time', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const parsed = fromCloudEvent(
    { specversion: '1.0', id: '1', source: '/x', type: 'com.example.thing', datacontenttype: 'application/cloudevents+json', data: [1] },
    () => now,
  );
  assert.is(parsed.topic, 'com.example.thing');
  assert.is(parsed.time, now.toISOString());
});

test('refuses invalid CloudEvents with invalid_envelope', async () => {
  const base = { specversion: '1.0', id: '1', source: '/x', type: 'a.b' };
  await expectCode(() => fromCloudEvent('nope'), 'invalid_envelope');
  await expectCode(() => fromCloudEvent({ ...base, specversion: '0.3' }), 'invalid_envelope');
  await expectCode(() => fromCloudEvent({ ...base, type: 'has space' }), 'invalid_envelope');
  await expectCode(() => fromCloudEvent({ ...base, id: '' }), 'invalid_envelope');
  await expectCode(() => fromCloudEvent({ ...base, datacontenttype: 'text/plain' }), 'invalid_envelope');
});

test('parseEnvelope keeps known fields only and names the bad one', async () => {
  const parsed = parseEnvelope({ ...envelope, extra: 'dropped' });
  assert.equal(parsed, envelope);
  for (const [patch, field] of [
    [{ id: 5 }, 'id'],
    [{ topic: 'a.*' }, 'topic'],
    [{ source: undefined }, 'source'],
    [{ time: '' }, 'time'],
    [{ offset: 7 }, 'offset'],
  ] as const) {
    const error = await expectCode(() => parseEnvelope({ ...envelope, ...patch }), 'invalid_envelope');
    assert.ok(error.message.includes(field), error.message);
  }
  await expectCode(() => parseEnvelope([]), 'invalid_envelope');
  await expectCode(() => parseEnvelope(null), 'invalid_envelope');
});

test('time must be an RFC 3339 timestamp naming a real day', async () => {
  const valid = ['2026-11-23T10:00:00Z', '2026-11-23T10:00:00.123456Z', '2026-11-23t10:00:00+05:30', '2024-02-29T00:00:00-00:00', '2016-12-31T23:59:60Z'];
  for (const time of valid) assert.is(parseEnvelope({ ...envelope, time }).time, time, time);
  const invalid = ['t', '', '2026-11-23', '2026-11-23 10:00:00Z', '2026-11-23T10:00:00', '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z', '2025-02-29T00:00:00Z', '2026-11-23T24:00:00Z', '2026-11-23T10:00:00+5:30', 'Mon, 23 Nov 2026 10:00:00 GMT', 1_700_000_000];
  for (const time of invalid) {
    const error = await expectCode(() => parseEnvelope({ ...envelope, time }), 'invalid_envelope');
    assert.match(error.message, /"time"/, String(time));
  }
});

test.run();
