// The server-side broadcasting API (#13): `await broadcast(new OrderShipped(
// order)).toOthers(socketId)` from a Node service, through an EventChannel or
// the broker's HTTP API, to browsers on the native and broadcasting surfaces.
import { EventChannel, defineEvents } from '@eventwire/event-channel';
import { channelDriver, createBroadcaster, httpDriver, logDriver, nullDriver, redisDriver, type Broadcastable } from '@eventwire/event-channel/broadcasting';
import { redisServerAvailable, startRedisServer } from '../../../scripts/testing/redis-server.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { createApiKeyAuthenticator } from '../src/index.js';
import { barrier, broadcastingClient } from './broadcasting-client.js';
import { startBroker, until, within, type TestBroker } from './helpers.js';

const SERVICE_KEY = 'orders-service-key-0123456789';
const test = suite<{ server: TestBroker<never>; service: EventChannel }>('broadcasting API');

test.before(async (context) => {
  context.server = (await startBroker(
    {
      // Browsers present their user id as the token here; the service an API key.
      authenticate: createApiKeyAuthenticator([{ key: SERVICE_KEY, user: 'svc-orders' }], ({ token }) => (token ? { id: token } : undefined)),
    },
    (broker) => void broker.channel('private-user.{id}', (user, { id }) => user?.id === id || user?.id === 'svc-orders'),
  )) as never;
  context.service = new EventChannel({ url: context.server.url, ws: { token: SERVICE_KEY } });
  await context.service.ready();
});
test.after(async (context) => {
  await context.service.close();
  await context.server.stop();
});

interface Order {
  readonly id: string;
  readonly userId: string;
  readonly carrier: string;
  readonly status: 'shipped' | 'pending';
  readonly customerEmail: string;
}

class OrderShipped implements Broadcastable {
  constructor(readonly order: Order) {}
  broadcastOn() {
    return [`private-user.${this.order.userId}`, 'orders'];
  }
  broadcastWith() {
    return { id: this.order.id, carrier: this.order.carrier }; // the customer's email stays on the server
  }
  broadcastWhen() {
    return this.order.status === 'shipped';
  }
}

const order = (status: Order['status'], id = 'o1'): Order => ({ id, userId: 'ada', carrier: 'DHL', status, customerEmail: 'ada@example.com' });

test('a class with broadcastOn (two channels), broadcastWith (fields hidden), its class name as the event, through an EventChannel', async ({ server, service }) => {
  const broadcast = createBroadcaster(channelDriver(service));
  const page = await broadcastingClient(server, 'ada', 'orders');
  const ada = new EventChannel({ url: server.url, ws: { token: 'ada' } });
  const own = ada.once('private-user.ada');
  try {
    await ada.ready();
    await broadcast(new OrderShipped(order('shipped')));
    await until(() => page.broadcasts().length === 1, 'the page got it');
    assert.equal(page.broadcasts()[0], { event: 'OrderShipped', channel: 'orders', data: { id: 'o1', carrier: 'DHL' } });
    const event = await within(own, 2000, "ada's private channel");
    assert.equal(event.data, { id: 'o1', carrier: 'DHL' });
    assert.equal(event.metadata, { event: 'OrderShipped' });
  } finally {
    page.socket.close();
    await ada.close();
  }
});

test('broadcastWhen false sends nothing; a plain object works too, named by broadcastAs', async ({ server, service }) => {
  const broadcast = createBroadcaster(channelDriver(service));
  const page = await broadcastingClient(server, 'bob', 'orders');
  try {
    const published = server.broker.stats().published;
    await broadcast(new OrderShipped(order('pending')));
    assert.is(server.broker.stats().published, published, 'not published at all');
    await broadcast({ broadcastOn: () => 'orders', broadcastAs: () => 'order.summary', broadcastWith: () => ({ open: 3 }) });
    await until(() => page.broadcasts().length === 1, 'the summary');
    await barrier(page);
    assert.equal(page.broadcasts(), [{ event: 'order.summary', channel: 'orders', data: { open: 3 } }]);
  } finally {
    page.socket.close();
  }
});

test('toOthers(socketId) over the HTTP API leaves that browser out; others get it; a refusal is a typed error', async ({ server }) => {
  const broadcast = createBroadcaster(httpDriver({ url: server.httpUrl, token: SERVICE_KEY }));
  const actor = await broadcastingClient(server, 'ada', 'orders');
  const watcher = await broadcastingClient(server, 'bob', 'orders');
  try {
    // The browser that clicked "ship" sent its socket id along (X-Socket-ID); the backend broadcasts to the others.
    await broadcast({ broadcastOn: () => 'orders', broadcastAs: () => 'OrderShipped', broadcastWith: () => ({ id: 'o2' }) }).toOthers(actor.socketId);
    await until(() => watcher.broadcasts().length === 1, 'the watcher got it');
    await barrier(actor);
    assert.equal(actor.broadcasts(), []);
    assert.equal(watcher.broadcasts()[0], { event: 'OrderShipped', channel: 'orders', data: { id: 'o2' } });
    const anonymous = createBroadcaster(httpDriver({ url: server.httpUrl }));
    const refused = await Promise.resolve(anonymous({ broadcastOn: () => 'orders' })).then(() => 'sent', (error: { code: string }) => error.code);
    assert.is(refused, 'unauthorized');
  } finally {
    actor.socket.close();
    watcher.socket.close();
  }
});

test('a typed EventChannel checks the data against the topic schema; log and null drivers', async ({ server }) => {
  const events = defineEvents({ orders: z.object({ id: z.string() }) });
  const typed = new EventChannel({ url: server.url, events, ws: { token: SERVICE_KEY } });
  try {
    const broadcast = createBroadcaster(channelDriver(typed));
    // `as string`: the channel named at run time, so the check is the channel's, not the compiler's.
    const code = await Promise.resolve(broadcast({ broadcastOn: () => 'orders' as string, broadcastWith: () => ({ id: 42 }) })).then(() => 'sent', (error: { code: string }) => error.code);
    assert.is(code, 'invalid_payload');
    // The HTTP driver given the event map checks the same before sending anything.
    const before = server.broker.stats().published;
    const viaHttp = createBroadcaster(httpDriver({ url: server.httpUrl, token: SERVICE_KEY, events }));
    const outcome = (event: Broadcastable) => Promise.resolve(viaHttp(event as never)).then(() => 'sent', (error: { code: string }) => error.code);
    assert.is(await outcome({ broadcastOn: () => 'orders', broadcastWith: () => ({ id: 42 }) }), 'invalid_payload');
    assert.is(await outcome({ broadcastOn: () => ['orders', 'private-user.ada'], broadcastWith: () => ({ id: 'o9' }) }), 'unknown_event');
    assert.is(server.broker.stats().published, before, 'nothing was sent');
    assert.is(await outcome({ broadcastOn: () => 'orders', broadcastWith: () => ({ id: 'o9' }) }), 'sent');
    await until(() => server.broker.stats().published === before + 1, 'the valid one published');
    const lines: string[] = [];
    await createBroadcaster(logDriver((line) => lines.push(line)))(new OrderShipped(order('shipped'))).toOthers('s-1');
    assert.equal(lines, ['broadcast OrderShipped on private-user.ada, orders (to others than s-1): {"id":"o1","carrier":"DHL"}']);
    const published = server.broker.stats().published;
    await createBroadcaster(nullDriver())(new OrderShipped(order('shipped')));
    assert.is(server.broker.stats().published, published);
  } finally {
    await typed.close();
  }
});

test.run();

// The redis driver: a service publishes into the Redis a broker cluster shares, and every broker delivers.
const onRedis = suite('broadcasting API: the redis driver');
if (!redisServerAvailable()) onRedis.skip('(redis-server not installed: skipped)', () => {});
else {
  onRedis('into Redis, to the clients of every broker on it; toOthers(socketId) leaves that one out; the brokers\' hooks do not run', async () => {
    const redis = await startRedisServer();
    const hooked: string[] = [];
    const [a, b] = await Promise.all(
      ['ra', 'rb'].map((node) => startBroker<never>({ cluster: { url: redis.url, node, reconnectTimeWaitMs: 50 } }, (broker) => void broker.observe('orders' as never, (() => void hooked.push(node)) as never))),
    );
    const driver = redisDriver({ url: redis.url });
    const broadcast = createBroadcaster(driver);
    const onA = await broadcastingClient(a!, 'ada', 'orders');
    const onB = await broadcastingClient(b!, 'bob', 'orders');
    const actor = await broadcastingClient(b!, 'cy', 'orders');
    try {
      await until(() => a!.broker.stats().cluster?.state === 'open' && b!.broker.stats().cluster?.interest === 1 && a!.broker.stats().cluster?.interest === 1, 'both listening');
      await broadcast(new OrderShipped(order('shipped'))).toOthers(actor.socketId);
      await until(() => onA.broadcasts().length === 1 && onB.broadcasts().length === 1, 'both brokers delivered');
      await barrier(actor);
      for (const page of [onA, onB]) assert.equal(page.broadcasts(), [{ event: 'OrderShipped', channel: 'orders', data: { id: 'o1', carrier: 'DHL' } }]);
      assert.equal(actor.broadcasts(), [], 'the socket named by toOthers, on broker B, was left out');
      assert.equal(hooked, [], 'the events entered no broker');
    } finally {
      for (const page of [onA, onB, actor]) page.socket.close();
      await driver.close();
      await Promise.all([a!.stop(), b!.stop()]);
      await redis.stop();
    }
  });
}
onRedis.run();

