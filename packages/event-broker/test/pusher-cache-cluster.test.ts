// Pusher cache channels across a broker cluster on a real nats-server (with
// JetStream): a cache channel's last event published on broker A, where
// nobody subscribes, is what a subscriber on broker B gets first; a broker
// that joins later asks the others for what they hold; and a cache topic the
// cluster also keeps history for (JetStream) is kept the same way.
import { connect } from '@nats-io/transport-node';
import PusherServer from 'pusher';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import type { PusherAppOptions } from '../src/index.js';
import { startClusterBroker } from './cluster-helpers.js';
import { pusherSocket, until, type TestBroker } from './helpers.js';

const app: PusherAppOptions = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789' };
const WAIT = 10_000;

const test = suite<{ nats: NatsServer; brokers: TestBroker<never>[] }>('pusher cache channels across a broker cluster');

async function broker(context: { nats: NatsServer; brokers: TestBroker<never>[] }, node: string): Promise<TestBroker<never>> {
  const started = await startClusterBroker<never>(node, {
    pusher: { apps: [app] },
    history: [{ pattern: 'cache-js', maxEvents: 10 }],
    cluster: { url: context.nats.url, node, reconnectTimeWaitMs: 50, presence: { heartbeatMs: 100 } },
  });
  context.brokers.push(started);
  return started;
}

/** Subscribes a fresh raw Pusher socket on `server`; the frame that followed subscription_succeeded. */
async function firstAfterSubscribe(server: TestBroker<never>, channel: string): Promise<Record<string, unknown>> {
  const { client } = await pusherSocket(server, app.key);
  try {
    client.send({ event: 'pusher:subscribe', data: { channel } });
    await client.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
    return await client.next((frame) => frame['channel'] === channel);
  } finally {
    client.close();
  }
}

/** Subscribes on `server` until what follows the subscription is not a miss (the bus message is on its way); that frame. */
async function untilCached(server: TestBroker<never>, channel: string): Promise<Record<string, unknown>> {
  let frame: Record<string, unknown> = {};
  await until(async () => (frame = await firstAfterSubscribe(server, channel))['event'] !== 'pusher:cache_miss', `a cached event on ${channel}`, WAIT);
  return frame;
}

const trigger = (server: TestBroker<never>, channel: string, data: unknown): Promise<unknown> =>
  new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(server.port), useTLS: false }).trigger(channel, 'PriceChanged', data);

if (!natsServerAvailable()) {
  test.skip('(nats-server not installed: the cache cluster tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.nats = await startNatsServer({ jetstream: true });
    context.brokers = [];
    await broker(context, 'cache-a');
    await broker(context, 'cache-b');
  });
  test.after(async (context) => {
    await Promise.all(context.brokers.map((each) => each.stop()));
    await context.nats.stop();
  });

  test('published on A with no subscriber anywhere: a subscriber on B gets it as the cached event, then the newer one replaces it', async (context) => {
    const [a, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    // Nothing subscribed to cache-price on B before the publish (a subscription's interest would carry the event there anyway).
    assert.equal(await firstAfterSubscribe(b, 'cache-nothing'), { event: 'pusher:cache_miss', channel: 'cache-nothing' });
    await trigger(a, 'cache-price', { price: 1 });
    assert.equal(await untilCached(b, 'cache-price'), { event: 'PriceChanged', channel: 'cache-price', data: JSON.stringify({ price: 1 }) });
    await trigger(a, 'cache-price', { price: 2 });
    await until(async () => (await firstAfterSubscribe(b, 'cache-price'))['data'] === JSON.stringify({ price: 2 }), 'the newer event on B', WAIT);
  });

  test('a broker that joins later gets what the others hold', async (context) => {
    const [a] = context.brokers as [TestBroker<never>];
    await trigger(a, 'cache-late', { v: 'before C' });
    await until(async () => (await firstAfterSubscribe(a, 'cache-late'))['event'] === 'PriceChanged', 'A to hold it', WAIT);
    const c = await broker(context, 'cache-c');
    assert.equal(await untilCached(c, 'cache-late'), { event: 'PriceChanged', channel: 'cache-late', data: JSON.stringify({ v: 'before C' }) });
  });

  test('a cache topic the cluster keeps history for (JetStream) is cached on every broker too', async (context) => {
    const [a, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    await trigger(a, 'cache-js', { v: 1 });
    const cached = await untilCached(b, 'cache-js');
    assert.is(cached['data'], JSON.stringify({ v: 1 }));
  });

  test("a plain NATS client on the brokers' cache subject cannot plant an event that breaks the shape limits", async (context) => {
    const [, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    const nats = await connect({ servers: context.nats.url });
    try {
      const envelope = (topic: string, data: unknown) => ({ id: `forged-${topic}`, topic, source: 'urn:forger', time: new Date().toISOString(), data });
      let deep: unknown = 'bottom';
      for (let level = 0; level < 200; level++) deep = { deep };
      const body = (topic: string, data: unknown) => new TextEncoder().encode(JSON.stringify({ node: 'forger', envelope: envelope(topic, data) }));
      nats.publish('_EVENTWIRE.cache.set', body('cache-forged', deep));
      // Then one within the limits, on the same connection (so after it): once B has it, B has handled the first.
      nats.publish('_EVENTWIRE.cache.set', body('cache-barrier', { fine: true }));
      await nats.flush();
      assert.is((await untilCached(b, 'cache-barrier'))['data'], JSON.stringify({ fine: true }));
      assert.equal(await firstAfterSubscribe(b, 'cache-forged'), { event: 'pusher:cache_miss', channel: 'cache-forged' });
    } finally {
      await nats.close();
    }
  });
}

test.run();
