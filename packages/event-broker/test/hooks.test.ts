// The broker as an actor on the stream: intercept (inline) and observe (queued).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { P } from 'ts-pattern';
import { z } from 'zod';
import { EventChannel, defineEvents, type EventEnvelope, type EventwireError } from '@eventwire/event-channel';
import { RawClient, startBroker, until, within, type TestBroker } from './helpers.js';

const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'fraud.review': z.object({ orderId: z.string(), total: z.number() }),
  'loop.ping': z.object({ n: z.number() }),
});

interface Context {
  server: TestBroker<typeof shop>;
  channels: EventChannel<typeof shop>[];
}

const test = suite<Context>('broker hooks');

test.before.each((context) => {
  context.channels = [];
});
test.after.each(async (context) => {
  await Promise.all(context.channels.map((c) => c.close()));
  await context.server.stop();
});

async function setup(
  context: Context,
  register: (broker: TestBroker<typeof shop>['broker']) => void,
  options: Parameters<typeof startBroker<typeof shop>>[0] = {},
): Promise<[EventChannel<typeof shop>, EventChannel<typeof shop>]> {
  context.server = await startBroker({ events: shop, ...options }, register);
  const make = () => {
    const channel = new EventChannel({ url: context.server.url, events: shop, ws: { backoff: () => 0 }, onError: () => {} });
    context.channels.push(channel);
    return channel;
  };
  const pair: [EventChannel<typeof shop>, EventChannel<typeof shop>] = [make(), make()];
  await Promise.all(pair.map((c) => c.ready()));
  return pair;
}

test('intercept can reject: the publisher gets rejected, nobody receives it', async (context) => {
  const [publisher, subscriber] = await setup(context, (broker) => {
    broker.intercept('order.created', (event, ctx) => {
      if (event.data.total <= 0) ctx.reject('total must be positive');
    });
  });
  const seen: string[] = [];
  await subscriber.on('order.created', (data) => void seen.push(data.id)).ready;
  const error = await publisher.emit('order.created', { id: 'zero', total: 0 }, { ack: true }).catch((e: EventwireError) => e);
  assert.is((error as EventwireError).code, 'rejected');
  assert.is((error as EventwireError).message, 'total must be positive');
  const ok = subscriber.once('order.created');
  await publisher.emit('order.created', { id: 'fine', total: 3 }, { ack: true });
  await within(ok, 2000, 'accepted event');
  assert.equal(seen, ['fine']);
  assert.is(context.server.broker.stats().rejected, 1);
});

test('intercept can transform data and add metadata, in registration order', async (context) => {
  const [publisher, subscriber] = await setup(context, (broker) => {
    broker.intercept('order.*', (_event, ctx) => ctx.setMetadata('region', 'eu'));
    broker.intercept('order.shipped', (event, ctx) => {
      ctx.transform({ ...event.data, carrier: event.data.carrier.toUpperCase() });
      ctx.setMetadata('seen-region', event.metadata?.['region'] ?? 'none');
    });
  });
  const got = subscriber.once('order.shipped');
  await publisher.emit('order.shipped', { id: 'o1', carrier: 'ups' });
  const event = await within(got, 2000, 'transformed event');
  assert.is(event.data.carrier, 'UPS');
  assert.equal(event.metadata, { region: 'eu', 'seen-region': 'eu' });
});

test('a transform that breaks the schema is refused with invalid_payload', async (context) => {
  const [publisher] = await setup(context, (broker) => {
    broker.intercept('order.created', (_event, ctx) => ctx.transform({ id: 'x', total: 'oops' } as never));
  });
  const error = await publisher.emit('order.created', { id: 'o', total: 1 }, { ack: true }).catch((e: EventwireError) => e);
  assert.is((error as EventwireError).code, 'invalid_payload');
});

test('a ts-pattern hook derives fraud.review for large orders only, with causation', async (context) => {
  const [publisher, reviewer] = await setup(context, (broker) => {
    broker.observe({ topic: 'order.created', data: { total: P.number.gte(1000) } }, (event, ctx) => {
      ctx.emit('fraud.review', { orderId: event.data.id, total: event.data.total });
    });
  });
  const reviews: EventEnvelope[] = [];
  await reviewer.on('fraud.review', (_data, event) => void reviews.push(event)).ready;
  await publisher.emit('order.created', { id: 'small', total: 10 }, { ack: true });
  const big = await publisher.emit('order.created', { id: 'big', total: 5000 }, { ack: true });
  await until(() => reviews.length === 1, 'fraud review');
  assert.equal(reviews[0]!.data, { orderId: 'big', total: 5000 });
  assert.is(reviews[0]!.metadata?.['causationid'], big.id);
  assert.is(reviews[0]!.source, 'urn:eventwire:broker');
  // The small order produced nothing: a second publish and its review prove the ordering.
  await publisher.emit('order.created', { id: 'big2', total: 1000 }, { ack: true });
  await until(() => reviews.length === 2, 'second review');
  assert.equal(reviews.map((r) => (r.data as { orderId: string }).orderId), ['big', 'big2']);
});

test('a slow intercept is cut at interceptTimeoutMs with timeout; a throwing one fails closed', async (context) => {
  let release: () => void = () => {};
  const [publisher] = await setup(
    context,
    (broker) => {
      broker.intercept('order.shipped', () => new Promise<void>((resolve) => (release = resolve)));
      broker.intercept('order.created', () => {
        throw new Error('hook bug');
      });
    },
    { interceptTimeoutMs: 50 },
  );
  const slow = await publisher.emit('order.shipped', { id: 's', carrier: 'x' }, { ack: true }).catch((e: EventwireError) => e);
  assert.is((slow as EventwireError).code, 'timeout');
  release();
  const broken = await publisher.emit('order.created', { id: 'b', total: 1 }, { ack: true }).catch((e: EventwireError) => e);
  assert.is((broken as EventwireError).code, 'internal');
  assert.ok(context.server.errors.some((e) => e.code === 'internal'));
});

test("an async intercept holds only its own connection's later frames, in order", async (context) => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const [publisher, subscriber] = await setup(context, (broker) => {
    broker.intercept({ topic: 'order.created', data: { id: 'gated' } }, () => gate);
  });
  const other = await RawClient.native(context.server.url);
  const order: string[] = [];
  await subscriber.on('order.#', (data) => void order.push(data.id)).ready;
  const gated = publisher.emit('order.created', { id: 'gated', total: 1 }, { ack: true });
  const after = publisher.emit('order.created', { id: 'after', total: 1 }, { ack: true });
  // Another connection is not held back by the gated publish.
  other.send({ type: 'publish', id: 1, event: { id: 'o', topic: 'order.shipped', source: 'raw', time: new Date().toISOString(), data: { id: 'other', carrier: 'c' } } });
  assert.is((await other.next())['type'], 'ack');
  await until(() => order.includes('other'), 'other connection delivered');
  assert.not.ok(order.includes('gated'));
  release();
  await Promise.all([gated, after]);
  await until(() => order.length === 3, 'all delivered');
  assert.equal(order, ['other', 'gated', 'after']);
  other.close();
});

test('a failing and a stuck observer never delay delivery or the healthy observer', async (context) => {
  const healthy: string[] = [];
  const [publisher, subscriber] = await setup(
    context,
    (broker) => {
      broker.observe('order.*', () => {
        throw new Error('observer bug');
      });
      broker.observe('order.*', () => new Promise(() => {})); // never settles
      broker.observe('order.*', (event) => void healthy.push(event.data.id));
    },
    { observerTimeoutMs: 20 },
  );
  const delivered: string[] = [];
  await subscriber.on('order.*', (data) => void delivered.push(data.id)).ready;
  for (let i = 0; i < 5; i++) await publisher.emit('order.created', { id: `o${i}`, total: 1 }, { ack: true });
  await until(() => delivered.length === 5, 'deliveries');
  await until(() => healthy.length === 5, 'healthy observer');
  await until(() => {
    const stats = context.server.broker.stats().hooks;
    return stats[0]!.failures === 5 && stats[1]!.failures === 5;
  }, 'failures counted (stuck observer timed out each time)');
  const hooks = context.server.broker.stats().hooks;
  assert.equal(hooks.map((h) => [h.kind, h.calls, h.failures]), [
    ['observe', 5, 5],
    ['observe', 5, 5],
    ['observe', 5, 0],
  ]);
});

test('an observer that falls behind drops its oldest events and counts them', async (context) => {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => (release = resolve));
  const processed: string[] = [];
  const [publisher] = await setup(context, (broker) => {
    broker.observe(
      'order.created',
      async (event) => {
        await gate;
        processed.push(event.data.id);
      },
      { queueSize: 2 },
    );
  });
  for (let i = 0; i < 6; i++) await publisher.emit('order.created', { id: `o${i}`, total: 1 }, { ack: true });
  release();
  await until(() => context.server.broker.stats().hooks[0]!.queued === 0 && processed.length === 3, 'drained');
  // o0 was in flight; of o1..o5 only the newest two fitted the queue.
  assert.equal(processed, ['o0', 'o4', 'o5']);
  assert.is(context.server.broker.stats().hooks[0]!.dropped, 3);
});

test('hook loops stop at maxDerivedDepth and are counted', async (context) => {
  const [publisher, subscriber] = await setup(
    context,
    (broker) => {
      broker.observe('loop.ping', (event, ctx) => ctx.emit('loop.ping', { n: event.data.n + 1 }));
    },
    { maxDerivedDepth: 3 },
  );
  const seen: number[] = [];
  await subscriber.on('loop.ping', (data) => void seen.push(data.n)).ready;
  await publisher.emit('loop.ping', { n: 0 }, { ack: true });
  await until(() => context.server.broker.stats().derivedDropped === 1, 'loop stopped');
  assert.equal(seen, [0, 1, 2, 3]);
  assert.is(context.server.broker.stats().derived, 3);
  assert.ok(context.server.errors.some((e) => e.code === 'limit_exceeded'));
});

test('hooks see events from every surface', async (context) => {
  const origins: string[] = [];
  const [publisher] = await setup(context, (broker) => {
    broker.observe('#', (_event, ctx) => void origins.push(ctx.origin.surface));
  });
  await publisher.emit('order.created', { id: 'n', total: 1 }, { ack: true });
  await fetch(`${context.server.httpUrl}/pubsub/order.created/publish`, {
    method: 'POST',
    body: JSON.stringify({ payload: { id: 'h', total: 2 } }),
  });
  await context.server.broker.publish('order.created', { id: 's', total: 3 });
  await until(() => origins.length === 3, 'three observations');
  assert.equal(origins.sort(), ['broker', 'http', 'native']);
});

test('a {name} capture in a hook pattern matches as * and hands the segment to intercept and observe as ctx.params', async (context) => {
  const intercepted: unknown[] = [];
  const observed: unknown[] = [];
  const [publisher] = await setup(context, (broker) => {
    broker.intercept('order.{kind}', (event, ctx) => void intercepted.push([event.topic, ctx.params]));
    broker.observe('{area}.{kind}', (event, ctx) => void observed.push([event.topic, ctx.params]));
    // The same event through a pattern without captures: no params on its context.
    broker.observe('order.created', (event, ctx) => void observed.push([event.topic, 'params' in ctx]));
  });
  await publisher.emit('order.created', { id: 'o1', total: 5 }, { ack: true });
  await publisher.emit('order.shipped', { id: 'o1', carrier: 'ups' }, { ack: true });
  await publisher.emit('fraud.review', { orderId: 'o1', total: 5 }, { ack: true });
  await until(() => observed.length === 4, 'observers');
  assert.equal(intercepted, [
    ['order.created', { kind: 'created' }],
    ['order.shipped', { kind: 'shipped' }],
  ]);
  assert.equal(observed, [
    ['order.created', { area: 'order', kind: 'created' }],
    ['order.created', false],
    ['order.shipped', { area: 'order', kind: 'shipped' }],
    ['fraud.review', { area: 'fraud', kind: 'review' }],
  ]);
});

test('a malformed or repeated capture in a hook pattern is refused at registration with invalid_pattern', async (context) => {
  await setup(context, () => {});
  const broker = context.server.broker as unknown as { observe(p: string, f: () => void): void; intercept(p: string, f: () => void): void };
  for (const [pattern, problem] of [['order.{k}.{k}', 'duplicate_capture'], ['order.{k', 'invalid_capture']] as const) {
    for (const register of [broker.observe.bind(broker), broker.intercept.bind(broker)]) {
      assert.throws(
        () => register(pattern, () => {}),
        (error: EventwireError & { problem?: string }) => error.code === 'invalid_pattern' && error.problem === problem,
        pattern,
      );
    }
  }
});

test.run();
