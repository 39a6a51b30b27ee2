// The typed EventChannel over ws:// against a real broker on a real port.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import {
  EventChannel,
  UnknownEventError,
  ValidationError,
  WsTransport,
  defineEvents,
  type EventwireError,
} from '@eventwire/event-channel';
import { runHistorySuite } from '../../event-channel/test/history-suite.js';
import { runTransportSuite } from '../../event-channel/test/transport-suite.js';
import { nextStatus, RawClient, startBroker, until, within, type TestBroker } from './helpers.js';

runTransportSuite('ws (broker)', async () => {
  const server = await startBroker();
  return {
    connect: () => new EventChannel({ url: server.url, ws: { backoff: () => 0 } }),
    teardown: () => server.stop(),
  };
});

runHistorySuite('ws (broker)', async () => {
  const server = await startBroker({ history: [{ pattern: 'hist.#', maxEvents: 1000 }] });
  return {
    connect: () => new EventChannel({ url: server.url, ws: { backoff: () => 0 } }),
    teardown: () => server.stop(),
  };
});

const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
});

interface Context {
  server: TestBroker<typeof shop>;
  channels: EventChannel<typeof shop>[];
  errors: EventwireError[];
}

const test = suite<Context>('typed channel over ws://');

test.before.each(async (context) => {
  context.server = await startBroker({ events: shop });
  context.channels = [];
  context.errors = [];
});
test.after.each(async (context) => {
  await Promise.all(context.channels.map((channel) => channel.close()));
  await context.server.stop();
});

function connect(context: Context, ws: Record<string, unknown> = {}): EventChannel<typeof shop> {
  const channel = new EventChannel({
    url: context.server.url,
    events: shop,
    ws: { backoff: () => 0, ...ws },
    onError: (error) => context.errors.push(error),
  });
  context.channels.push(channel);
  return channel;
}


test('typed channel → broker → typed channel', async (context) => {
  const [publisher, subscriber] = [connect(context), connect(context)];
  const got = subscriber.once('order.*');
  await subscriber.ready();
  await publisher.emit('order.shipped', { id: 'o1', carrier: 'ups' });
  const event = await within(got, 2000, 'delivery');
  assert.is(event.topic, 'order.shipped');
  if (event.topic === 'order.shipped') assert.is(event.data.carrier, 'ups');
});

test('emit with ack resolves once the broker accepted it', async (context) => {
  const publisher = connect(context);
  await publisher.ready();
  const sent = await publisher.emit('order.created', { id: 'o1', total: 5 }, { ack: true });
  assert.is(sent.topic, 'order.created');
  assert.is(context.server.broker.stats().published, 1);
});

test('a broker-side refusal rejects an acknowledged emit with its code', async (context) => {
  context.server.broker.intercept('order.created', (event, ctx) => {
    if (event.data.total > 100) ctx.reject('orders over 100 need approval');
  });
  const publisher = connect(context);
  await publisher.ready();
  try {
    await publisher.emit('order.created', { id: 'big', total: 1000 }, { ack: true });
    assert.unreachable('should have been rejected');
  } catch (error) {
    assert.is((error as EventwireError).code, 'rejected');
    assert.match((error as EventwireError).message, /need approval/);
  }
  // Without ack the refusal still surfaces, on the error stream.
  await publisher.emit('order.created', { id: 'big2', total: 1000 });
  await until(() => context.errors.some((e) => e.code === 'rejected'), 'rejected error report');
});

test('a broker-side schema refusal arrives as a ValidationError with the issues (which field, why)', async (context) => {
  // The client is untyped, so only the broker's map can refuse.
  const publisher = new EventChannel({ url: context.server.url, ws: { backoff: () => 0 } });
  try {
    await publisher.ready();
    const refusal = await publisher.emit('order.created', { id: 'o1', total: 'lots' }, { ack: true }).then(
      () => assert.unreachable('accepted'),
      (error: unknown) => error,
    );
    assert.instance(refusal, ValidationError);
    const validation = refusal as ValidationError;
    assert.is(validation.code, 'invalid_payload');
    assert.is(validation.direction, 'broker');
    assert.is(validation.topic, 'order.created');
    assert.equal(validation.issues.map((issue) => issue.path), [['total']]);
    assert.match(validation.message, /at total/);

    const unknown = await publisher.emit('order.cancelled', {}, { ack: true }).then(
      () => assert.unreachable('accepted'),
      (error: unknown) => error,
    );
    assert.instance(unknown, UnknownEventError);
    assert.is((unknown as UnknownEventError).direction, 'broker');
    assert.match((unknown as UnknownEventError).message, /the broker's event map/);
    assert.not.match((unknown as UnknownEventError).message, /channel/);
  } finally {
    await publisher.close();
  }
});

test('the broker enforces the event map on raw publishers too', async (context) => {
  const raw = await RawClient.native(context.server.url);
  raw.send({
    type: 'publish',
    id: 1,
    event: { id: 'x', topic: 'order.created', source: 'raw', time: new Date().toISOString(), data: { id: 1 } },
  });
  const invalid = await raw.next();
  assert.is(invalid['code'], 'invalid_payload');
  assert.is(invalid['topic'], 'order.created');
  assert.equal(invalid['issues'], [
    { message: (invalid['issues'] as Array<{ message: string }>)[0]!.message, path: ['id'] },
    { message: (invalid['issues'] as Array<{ message: string }>)[1]!.message, path: ['total'] },
  ]);
  raw.send({
    type: 'publish',
    id: 2,
    event: { id: 'y', topic: 'order.cancelled', source: 'raw', time: new Date().toISOString(), data: {} },
  });
  assert.is((await raw.next())['code'], 'unknown_event');
  raw.close();
});

test('broker restart on the same port: reconnect, resubscribe, outbox flushes in order', async (context) => {
  // `self` both listens and emits: on one connection the transport resubscribes
  // before it flushes the outbox, so its own held emits must come back in order.
  const self = connect(context);
  const other = connect(context);
  const ownEvents: string[] = [];
  let ownDone: () => void = () => {};
  const ownAll = new Promise<void>((resolve) => (ownDone = resolve));
  self.on('order.created', (data) => {
    ownEvents.push(data.id);
    if (ownEvents.length === 4) ownDone();
  });
  const otherGot: string[] = [];
  other.on('order.shipped', (data) => void otherGot.push(data.id));
  await Promise.all([self.ready(), other.ready()]);
  await self.emit('order.created', { id: 'before', total: 1 }, { ack: true });

  const selfDown = nextStatus(self, 'reconnecting');
  const otherDown = nextStatus(other, 'reconnecting');
  await context.server.stop();
  const reconnecting = await selfDown;
  assert.is(reconnecting.state === 'reconnecting' && reconnecting.attempt, 1);
  await otherDown;

  // Emitted while the broker is down: held in the outbox.
  const held = [
    self.emit('order.created', { id: 'held-1', total: 1 }),
    self.emit('order.created', { id: 'held-2', total: 2 }),
    self.emit('order.created', { id: 'held-3', total: 3 }, { ack: true }),
  ];
  const bothOpen = Promise.all([nextStatus(self, 'open'), nextStatus(other, 'open')]);
  await context.server.start();
  await within(bothOpen, 5000, 'both reconnected with subscriptions live');
  await within(Promise.all(held), 5000, 'outbox flushed');
  await within(ownAll, 5000, 'own held events');
  assert.equal(ownEvents, ['before', 'held-1', 'held-2', 'held-3']);

  // `open` promised live subscriptions: another client's emit reaches `other` now.
  const shipped = other.once('order.shipped');
  await self.emit('order.shipped', { id: 'after', carrier: 'ups' });
  assert.is((await within(shipped, 2000, 'cross-client after restart')).data.id, 'after');
});

test('a full outbox rejects new emits with buffer_overflow (policy reject)', async (context) => {
  const publisher = connect(context, { outboxSize: 2 });
  await publisher.ready();
  const down = nextStatus(publisher, 'reconnecting');
  await context.server.stop();
  await down;
  const kept = [publisher.emit('order.created', { id: 'a', total: 1 }), publisher.emit('order.created', { id: 'b', total: 1 })];
  try {
    await publisher.emit('order.created', { id: 'c', total: 1 });
    assert.unreachable('third emit should overflow');
  } catch (error) {
    assert.is((error as EventwireError).code, 'buffer_overflow');
  }
  await context.server.start();
  await within(Promise.all(kept), 5000, 'kept emits flushed');
});

test('drop-oldest outbox evicts the oldest held emit', async (context) => {
  const publisher = connect(context, { outboxSize: 1, outboxOverflow: 'drop-oldest' });
  await publisher.ready();
  const down = nextStatus(publisher, 'reconnecting');
  await context.server.stop();
  await down;
  const first = publisher.emit('order.created', { id: 'old', total: 1 });
  const second = publisher.emit('order.created', { id: 'new', total: 1 });
  try {
    await first;
    assert.unreachable('oldest should be evicted');
  } catch (error) {
    assert.is((error as EventwireError).code, 'buffer_overflow');
  }
  await context.server.start();
  await within(second, 5000, 'newest flushed');
});

test('broker shutdown closes clients with 1001 and they report reconnecting', async (context) => {
  const channel = connect(context);
  await channel.ready();
  const raw = await RawClient.native(context.server.url);
  const reconnecting = nextStatus(channel, 'reconnecting');
  await context.server.stop();
  assert.is((await raw.closed).code, 1001);
  const status = await reconnecting;
  assert.is(status.state === 'reconnecting' && status.error?.code, 'connection_closed');
  await context.server.start(); // let after.each stop a live broker
});

test('closing a channel while it waits to reconnect shuts the transport down once', async (context) => {
  // Regression: the transport reports `closed` synchronously from here, the
  // channel reacted by calling close() again before its guard was set, and
  // the two recursed until the stack overflowed.
  const transport = new WsTransport({ url: context.server.url, backoff: () => 60_000 });
  let transportCloses = 0;
  const close = transport.close.bind(transport);
  transport.close = () => {
    transportCloses++;
    return close();
  };
  const channel = new EventChannel({ transport, events: shop });
  await channel.ready();
  const down = nextStatus(channel, 'reconnecting');
  await context.server.stop();
  await down;
  await within(channel.close(), 2000, 'close during reconnect wait');
  assert.is(transportCloses, 1);
  assert.equal(channel.status, { state: 'closed' });
  await context.server.start();
});

test('a refused subscription is not cached: on() again asks the broker again', async (context) => {
  await context.server.stop();
  context.server = await startBroker({ events: shop, maxSubscriptionsPerConnection: 1 });
  const channel = connect(context);
  const offFirst = channel.on('order.created', () => {});
  await offFirst.ready;
  const refused = channel.on('order.shipped', () => {});
  const error = await refused.ready.catch((e: EventwireError) => e);
  assert.is((error as EventwireError).code, 'limit_exceeded');
  offFirst(); // frees the broker-side slot; the refused registration stays
  const got = channel.once('order.shipped'); // must ask the broker again, not reuse the refusal
  await channel.ready();
  await channel.emit('order.shipped', { id: 'retry', carrier: 'ups' });
  assert.is((await within(got, 2000, 'delivery after retry')).data.id, 'retry');
  refused(); // releasing the old, refused registration must not unsubscribe the new lease
  const again = channel.once('order.shipped');
  await channel.emit('order.shipped', { id: 'still', carrier: 'ups' });
  assert.is((await within(again, 2000, 'delivery after releasing the refused one')).data.id, 'still');
});

test('WsTransport: subscribing a pattern that is already live resolves at once', async (context) => {
  const transport = new WsTransport({ url: context.server.url, backoff: () => 0 });
  const statuses: string[] = [];
  transport.connect({ deliver: () => {}, status: (s) => void statuses.push(s.state), error: () => {}, gap: () => {}, presence: () => {}, member: () => {} });
  try {
    await within(transport.subscribe('order.*'), 2000, 'first subscribe');
    await within(transport.subscribe('order.*'), 2000, 'second subscribe of the same live pattern');
  } finally {
    await transport.close();
  }
  assert.equal(statuses.at(-1), 'closed');
});

test('a server-side publish reaches channels', async (context) => {
  const subscriber = connect(context);
  const got = subscriber.once('order.shipped');
  await subscriber.ready();
  const result = await context.server.broker.publish('order.shipped', { id: 's1', carrier: 'dhl' });
  assert.is(result.notified, 1);
  assert.is((await within(got, 2000, 'server publish')).data.carrier, 'dhl');
});

test.run();
