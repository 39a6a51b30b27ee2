// redis:// against a real redis-server: the shared transport conformance
// suite and the server-restart suite, then what is Redis's own: patterns as
// PSUBSCRIBE globs (a glob's `*` crosses dots: what it lets through beyond
// the pattern is dropped), interop with a plain Redis client both ways, a
// prefix, and a refused password.
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../../../scripts/testing/redis-server.js';
import { EventChannel, redisKeysFor, type EventEnvelope, type EventwireError, type HistoryGap } from '../src/index.js';
import { collector, nextStatus, uniqueTopic, within } from './helpers.js';
import { runServerBusSuite } from './server-bus-suite.js';
import { runTransportSuite } from './transport-suite.js';

const available = redisServerAvailable();
const WAIT = 3000;

if (available) {
  runTransportSuite('redis', async () => {
    const server = await startRedisServer();
    return { connect: () => new EventChannel({ url: server.url }), teardown: () => server.stop() };
  });
  runServerBusSuite('redis', {
    start: startRedisServer,
    connect: (url) => new EventChannel({ url, redis: { backoff: () => 20 } }),
  });
}

const test = suite<{ server: RedisServer }>('redis transport');

test('keys: a topic is its channel, a pattern a glob, a trailing # the parent channel and a glob below it', () => {
  assert.equal(redisKeysFor('order.created'), ['c:order.created']);
  assert.equal(redisKeysFor('order.*'), ['p:order.*']);
  assert.equal(redisKeysFor('*.created'), ['p:*.created']);
  assert.equal(redisKeysFor('order.#'), ['c:order', 'p:order.*']);
  assert.equal(redisKeysFor('order.*.#'), ['p:order.**']);
  assert.equal(redisKeysFor('#'), ['p:*']);
  assert.equal(redisKeysFor('a?b.[x].*', 'app:'), ['p:app:a\\?b.\\[x\\].*']);
  assert.equal(redisKeysFor('a?b', 'app*:'), ['c:app*:a?b']);
});

if (!available) {
  test.skip('(redis-server not installed: the Redis tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.server = await startRedisServer();
  });
  test.after(async (context) => {
    await context.server.stop();
  });

  test('a glob lets through more than the pattern: a.* gets a.x, not a.x.y; glob characters in topics are literal', async ({ server }) => {
    const root = uniqueTopic('g');
    const publisher = new EventChannel({ url: server.url });
    const subscriber = new EventChannel({ url: server.url });
    try {
      const star: string[] = [];
      const literal: string[] = [];
      await subscriber.on(`${root}.*`, (_data, event) => void star.push(event.topic)).ready;
      await subscriber.on(`${root}?.[x].*`, (_data, event) => void literal.push(event.topic)).ready;
      const end = collector<string>(1);
      await subscriber.on(`${root}end.#`, (_data, event) => end.push(event.topic)).ready;
      for (const topic of [`${root}.a`, `${root}.x.y`, `${root}.b.c.d`, `${root}Z.[x].q`, `${root}?.[x].q`, `${root}.c`]) await publisher.emit(topic, {});
      await publisher.emit(`${root}end`, {});
      await within(end.done, WAIT, 'the end marker');
      assert.equal(star, [`${root}.a`, `${root}.c`]);
      assert.equal(literal, [`${root}?.[x].q`]);
      assert.is(subscriber.stats().received, 4, 'what the globs let through beyond the patterns never reached the channel');
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('a plain Redis client and a channel understand each other; a raw message is reported, not a crash', async ({ server }) => {
    const topic = uniqueTopic('p');
    const errors: EventwireError[] = [];
    const channel = new EventChannel({ url: server.url, onError: (error) => errors.push(error) });
    const plain = new Redis(server.url);
    const plainSubscriber = new Redis(server.url);
    try {
      const seen = new Promise<string>((resolve) => plainSubscriber.once('message', (_channel: string, message: string) => resolve(message)));
      await plainSubscriber.subscribe(topic);
      await channel.ready();
      const sent = await channel.emit(topic, { n: 1 }, { ack: true });
      assert.equal(JSON.parse(await within(seen, WAIT, 'the plain subscriber')), sent);
      const got = collector<EventEnvelope>(1);
      await channel.on(topic, (_data, event) => got.push(event)).ready;
      await plain.publish(topic, 'not json at all');
      await plain.publish(topic, JSON.stringify({ hello: 'no envelope' }));
      const envelope = { id: '01J00000000000000000000000', topic, source: 'urn:plain-redis', time: new Date().toISOString(), data: { from: 'ioredis' } };
      await plain.publish(topic, JSON.stringify(envelope));
      const [event] = await within(got.done, WAIT, 'the envelope from a plain client');
      assert.equal(event!.data, { from: 'ioredis' });
      assert.equal(errors.map((error) => error.code), ['invalid_envelope', 'invalid_envelope']);
      assert.is(channel.stats().invalid, 1, 'the JSON non-envelope counted by the channel (the non-JSON one by the transport)');
      assert.is(channel.status.state, 'open');
    } finally {
      plain.disconnect();
      plainSubscriber.disconnect();
      await channel.close();
    }
  });

  test('a prefix keeps applications on one Redis apart', async ({ server }) => {
    const topic = uniqueTopic('x');
    const [appA, appB, bare] = [
      new EventChannel({ url: server.url, redis: { prefix: 'a:' } }),
      new EventChannel({ url: server.url, redis: { prefix: 'b:' } }),
      new EventChannel({ url: server.url }),
    ];
    const plain = new Redis(server.url);
    try {
      const got: Record<string, unknown[]> = { a: [], b: [], bare: [] };
      const done = collector<unknown>(1);
      await appA.on('#', (data) => void got['a']!.push(data)).ready;
      await appB.on(`${topic}`, (data) => (got['b']!.push(data), done.push(data))).ready;
      await bare.on(`${topic}`, (data) => void got['bare']!.push(data)).ready;
      assert.is(await plain.publish(`b:${topic}`, JSON.stringify({ id: '01J00000000000000000000001', topic, source: 'urn:x', time: new Date().toISOString(), data: 'b only' })), 1);
      await within(done.done, WAIT, 'delivery in app b');
      await bare.emit(`${topic}`, 'bare', { ack: true });
      await appB.emit(`${topic}.end`, 'b end', { ack: true });
      const marker = collector<unknown>(1);
      await appA.on(`${topic}.end`, (data) => marker.push(data)).ready;
      await appA.emit(`${topic}.end`, 'a end', { ack: true });
      await within(marker.done, WAIT, 'a marker in app a');
      assert.equal(got['a'], ['a end'], 'app a saw none of the others');
      assert.equal(got['b'], ['b only']);
      assert.equal(got['bare'], ['bare']);
    } finally {
      plain.disconnect();
      await Promise.all([appA.close(), appB.close(), bare.close()]);
    }
  });

  test('only the publishing connection dropped: back open, subscriptions untouched, no gap', async ({ server }) => {
    const channel = new EventChannel({ url: server.url, redis: { backoff: () => 20 } });
    const admin = new Redis(server.url);
    const topic = uniqueTopic('pub');
    try {
      const gaps: HistoryGap[] = [];
      channel.onGap((gap) => void gaps.push(gap));
      const got = collector<unknown>(2);
      await channel.on(topic, (data) => got.push(data)).ready;
      await channel.emit(topic, 'before', { ack: true });
      const down = nextStatus(channel, 'reconnecting');
      const up = nextStatus(channel, 'open');
      // Normal clients only: the subscriber (in pub/sub mode) stays, and so does this admin connection.
      await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
      await within(down, WAIT, 'reconnecting');
      await within(up, WAIT, 'open again');
      await channel.emit(topic, 'after', { ack: true });
      assert.equal(await within(got.done, WAIT, 'both'), ['before', 'after']);
      assert.equal(gaps, [], 'the subscriber never went away: nothing was missed');
    } finally {
      admin.disconnect();
      await channel.close();
    }
  });

  test('a wrong password closes the channel with unauthorized, without retrying', async ({ server }) => {
    const plain = new Redis(server.url);
    const password = 's3cret';
    await plain.config('SET', 'requirepass', password);
    try {
      const wrong = new EventChannel({ url: server.url.replace('redis://', 'redis://:nope@'), redis: { backoff: () => 20 }, onError: () => {} });
      const closed = await within(nextStatus(wrong, 'closed'), WAIT, 'closed');
      assert.is(closed.state === 'closed' && closed.error?.code, 'unauthorized');
      await wrong.close();
      const right = new EventChannel({ url: server.url.replace('redis://', `redis://:${password}@`) });
      const topic = uniqueTopic('auth');
      const got = collector<unknown>(1);
      await right.on(topic, (data) => got.push(data)).ready;
      await right.emit(topic, 'in');
      assert.equal(await within(got.done, WAIT, 'with the password'), ['in']);
      await right.close();
    } finally {
      await plain.config('SET', 'requirepass', '');
      plain.disconnect();
    }
  });
}

test.run();
