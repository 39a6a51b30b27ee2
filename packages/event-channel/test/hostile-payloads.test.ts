// #37, the client side: a channel receiving events of hostile shape from a
// publisher that did not check them (a plain Redis or NATS client) reports
// each through onError as `invalid_payload` and keeps delivering the rest, in
// order; and it refuses to emit such data itself.
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';
import { redisServerAvailable, startRedisServer } from '../../../scripts/testing/redis-server.js';
import { EventChannel, MemoryHub, payloadLimitDefaults, type EventwireError } from '../src/index.js';
import { collector, expectCode, uniqueTopic, within } from './helpers.js';

const test = suite('hostile payload shapes at the channel');
const WAIT = 5000;

/** Data no schema or handler should have to walk, as JSON text (the way a plain client sends it). */
const hostile = [
  '['.repeat(10_000) + ']'.repeat(10_000),
  '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000),
  '['.repeat(payloadLimitDefaults.maxDepth + 1) + ']'.repeat(payloadLimitDefaults.maxDepth + 1),
  '{"n":1e400}',
  '[1,-1e400]',
];

const envelopeText = (topic: string, id: number, data: string): string =>
  `{"id":"01J0000000000000000000${String(id).padStart(4, '0')}","topic":"${topic}","source":"urn:plain-client","time":"${new Date().toISOString()}","data":${data}}`;

/**
 * Sends ordinary and hostile envelopes alternately through `publishRaw` to a
 * channel subscribed to `topic`: every ordinary one arrives, in order, and
 * each hostile one is reported as invalid_payload.
 */
async function receivesAndReports(channel: EventChannel, errors: EventwireError[], topic: string, publishRaw: (text: string) => Promise<unknown>): Promise<void> {
  const got = collector<unknown>(hostile.length + 1);
  await channel.on(topic, (data) => got.push(data)).ready;
  let id = 0;
  const sent: unknown[] = [];
  for (const data of hostile) {
    sent.push({ seq: id });
    await publishRaw(envelopeText(topic, id, `{"seq":${id}}`));
    id++;
    await publishRaw(envelopeText(topic, id++, data));
  }
  sent.push({ seq: 'last' });
  await publishRaw(envelopeText(topic, id, '{"seq":"last"}'));
  assert.equal(await within(got.done, WAIT, 'the ordinary events'), sent, 'every ordinary event, in order, and only those');
  assert.equal(
    errors.map((error) => error.code),
    hostile.map(() => 'invalid_payload'),
  );
  assert.is(channel.stats().invalid, hostile.length);
}

test('emit refuses data nested past the limit, or holding a number JSON cannot carry: invalid_payload, nothing sent', async () => {
  const hub = new MemoryHub();
  const channel = new EventChannel({ url: 'memory://', memoryHub: hub });
  const listener = new EventChannel({ url: 'memory://', memoryHub: hub });
  try {
    const topic = uniqueTopic('emit');
    const got = collector<unknown>(1);
    await listener.on(topic, (data) => got.push(data)).ready;
    let deep: unknown = 1;
    for (let level = 0; level < 10_000; level++) deep = [deep];
    await expectCode(() => channel.emit(topic, deep), 'invalid_payload');
    await expectCode(() => channel.emit(topic, { n: Infinity }), 'invalid_payload');
    await expectCode(() => channel.emit(topic, [Number.NaN]), 'invalid_payload');
    await expectCode(() => channel.emit(topic, { big: 1n }), 'invalid_payload');
    await channel.emit(topic, { ok: true });
    assert.equal(await within(got.done, WAIT, 'the ordinary event'), [{ ok: true }]);
    assert.is(channel.stats().emitted, 1);
  } finally {
    await Promise.all([channel.close(), listener.close()]);
  }
});

test('payloadLimits.maxDepth is the limit: data exactly that deep goes, one level more is refused', async () => {
  const channel = new EventChannel({ url: 'memory://', memoryHub: new MemoryHub(), payloadLimits: { maxDepth: 3 } });
  try {
    await channel.emit(uniqueTopic('d'), { a: { b: [1] } });
    await expectCode(() => channel.emit(uniqueTopic('d'), { a: { b: [[1]] } }), 'invalid_payload');
  } finally {
    await channel.close();
  }
});

if (redisServerAvailable()) {
  test('from a plain Redis client: hostile events are reported as invalid_payload, the rest delivered in order', async () => {
    const server = await startRedisServer();
    const errors: EventwireError[] = [];
    const channel = new EventChannel({ url: server.url, onError: (error) => errors.push(error) });
    const plain = new Redis(server.url);
    try {
      const topic = uniqueTopic('redis');
      await receivesAndReports(channel, errors, topic, (text) => plain.publish(topic, text));
    } finally {
      plain.disconnect();
      await channel.close();
      await server.stop();
    }
  });
} else {
  if (process.env['CI'] === 'true') throw new Error('redis-server is required under CI');
  test.skip('(redis-server not installed: the plain Redis client case is skipped)', () => {});
}

if (natsServerAvailable()) {
  test('from a plain NATS client: hostile events are reported as invalid_payload, the rest delivered in order', async () => {
    const server = await startNatsServer();
    const errors: EventwireError[] = [];
    const channel = new EventChannel({ url: server.url, onError: (error) => errors.push(error) });
    const plain = await connect({ servers: server.url });
    try {
      const topic = uniqueTopic('nats');
      await receivesAndReports(channel, errors, topic, async (text) => {
        plain.publish(topic, text);
        await plain.flush();
      });
    } finally {
      await plain.close();
      await channel.close();
      await server.stop();
    }
  });
} else {
  if (process.env['CI'] === 'true') throw new Error('nats-server is required under CI');
  test.skip('(nats-server not installed: the plain NATS client case is skipped)', () => {});
}

test.run();
