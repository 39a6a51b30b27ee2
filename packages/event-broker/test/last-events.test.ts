// The cache channels' last-event map: which topics are cache channels, which
// events set it, its TTL (an injected clock) and its bound.
import type { EventEnvelope } from '@eventwire/event-channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BrokerCore } from '../src/core.js';
import { LastEvents, isCacheTopic, lastEventsDefaults } from '../src/last-events.js';
import { startBroker, pusherSocket, until } from './helpers.js';

const event = (topic: string, data: unknown, name?: string): EventEnvelope => ({
  id: `${topic}-${JSON.stringify(data)}`,
  topic,
  source: 'test',
  time: new Date(0).toISOString(),
  data,
  ...(name !== undefined && { metadata: { event: name } }),
});

test('cache channels by name, anchored, through kind prefixes and app namespaces', () => {
  const yes = ['cache-x', 'cache-orders.1', 'private-cache-x', 'private-encrypted-cache-x', 'presence-cache-room.1', 'blog:cache-x', 'private-blog:cache-x', 'private-blog:encrypted-cache-x', 'presence-blog:cache-x'];
  const no = ['orders', 'orders-cache-1', 'x.cache-1', 'presence-encrypted-cache-x', 'encrypted-cache-x', 'private-$server-to-user.cache-1', 'cache', 'Cache-x', 'a:b:cache-x'];
  for (const topic of yes) assert.ok(isCacheTopic(topic), topic);
  for (const topic of no) assert.not.ok(isCacheTopic(topic), topic);
});

test('keeps the last server-side event per cache topic until its TTL; a client event or a plain topic sets nothing', () => {
  let now = 1_000;
  const cache = new LastEvents({ ttlMs: 500, now: () => now });
  cache.record(event('cache-a', 1), true);
  cache.record(event('cache-a', 2, 'Changed'), true);
  cache.record(event('cache-a', 3, 'client-typing'), true);
  cache.record(event('orders', 4), true);
  assert.is(cache.get('cache-a')?.data, 2);
  assert.is(cache.get('orders'), undefined);
  now += 499;
  assert.is(cache.get('cache-a')?.data, 2);
  assert.equal([...cache.entries()].map((entry) => entry.ttlMs), [1]);
  now += 1;
  assert.is(cache.get('cache-a'), undefined);
  assert.is(cache.size, 0);
  assert.is(new LastEvents().ttlMs, lastEventsDefaults.ttlMs);
});

test('bounded: past maxChannels the channel written longest ago is forgotten; a rewrite counts as recent', () => {
  const cache = new LastEvents({ maxChannels: 2 });
  cache.record(event('cache-a', 1), false);
  cache.record(event('cache-b', 1), false);
  cache.record(event('cache-a', 2), false);
  cache.record(event('cache-c', 1), false);
  assert.equal([cache.has('cache-a'), cache.has('cache-b'), cache.has('cache-c')], [true, false, true]);
});

test('only events that entered here are handed to the cluster', () => {
  const cache = new LastEvents();
  const local: unknown[] = [];
  cache.watchLocal((envelope) => local.push(envelope.data));
  cache.record(event('cache-a', 1), true);
  cache.record(event('cache-a', 2), false);
  cache.record(event('cache-a', 3, 'client-x'), true);
  assert.equal(local, [1]);
});

test('the broker setting cacheChannelTtlMs: a hit, then a miss once it expired', async () => {
  await using server = await startBroker({ pusher: true, cacheChannelTtlMs: 300 });
  await server.broker.publish('cache-ttl' as never, { v: 1 } as never);
  const subscribe = async (): Promise<Record<string, unknown>> => {
    const { client } = await pusherSocket(server, 'app-key');
    try {
      client.send({ event: 'pusher:subscribe', data: { channel: 'cache-ttl' } });
      await client.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
      return await client.next((frame) => frame['channel'] === 'cache-ttl');
    } finally {
      client.close();
    }
  };
  const first = await subscribe();
  assert.is(first['event'], 'cache-ttl');
  let last = first;
  await until(async () => (last = await subscribe())['event'] === 'pusher:cache_miss', 'the cached event to expire', 5000);
  assert.equal(last, { event: 'pusher:cache_miss', channel: 'cache-ttl' });
});

test('a cache topic has an audience with no subscriber (its subscribers are still to come): a surface that asks first still publishes it', () => {
  const core = new BrokerCore({
    events: undefined,
    allowUnknownTopics: true,
    interceptTimeoutMs: 1000,
    observerTimeoutMs: 1000,
    maxDerivedDepth: 4,
    payloadLimits: { maxDepth: 64 },
    source: 'test',
    report: () => {},
    maxPresenceMembers: 100,
  });
  assert.ok(core.hasAudience('cache-x'));
  assert.not.ok(core.hasAudience('orders'));
});

test.run();
