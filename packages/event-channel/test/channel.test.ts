import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import {
  EventChannel,
  EventwireError,
  HandlerError,
  MemoryHub,
  TopicError,
  UnknownEventError,
  ValidationError,
  defineEvents,
  type ChannelStatus,
  type EventEnvelope,
} from '../src/index.js';
import { createSchemaLookup } from '../src/protocol/index.js';
import { collector, deferred, expectCode, uniqueTopic, within } from './helpers.js';

const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'user.signup': z.object({ email: z.email(), at: z.iso.datetime().transform((s) => new Date(s)) }),
});

interface Context {
  hub: MemoryHub;
  channels: Array<{ close(): Promise<void> }>;
  errors: EventwireError[];
}

const test = suite<Context>('event channel');

test.before.each((context) => {
  context.hub = new MemoryHub();
  context.channels = [];
  context.errors = [];
});
test.after.each(async (context) => {
  await Promise.all(context.channels.map((c) => c.close()));
});

function typed(context: Context, url = 'memory://shop'): EventChannel<typeof shop> {
  const channel = new EventChannel({
    url,
    events: shop,
    memoryHub: context.hub,
    onError: (error) => context.errors.push(error),
  });
  context.channels.push(channel);
  return channel;
}

function untyped(context: Context, url = 'memory://shop'): EventChannel {
  const channel = new EventChannel({ url, memoryHub: context.hub, onError: (e) => context.errors.push(e) });
  context.channels.push(channel);
  return channel;
}

test('typed emit/on round trip delivers validated data and the envelope', async (context) => {
  const [a, b] = [typed(context), typed(context)];
  const got = collector<[unknown, EventEnvelope]>(1);
  await b.on('order.created', (data, event) => got.push([data, event])).ready;
  const sent = await a.emit('order.created', { id: 'o1', total: 42 });
  const [[data, event]] = (await within(got.done, 1000, 'order.created')) as [[unknown, EventEnvelope]];
  assert.equal(data, { id: 'o1', total: 42 });
  assert.is(event.topic, 'order.created');
  assert.is(event.id, sent.id);
  assert.match(event.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.ok(!Number.isNaN(Date.parse(event.time)));
  assert.is(event.source, a.source);
});

test('handlers receive the schema output; the wire carries the input', async (context) => {
  const [a, b] = [typed(context), typed(context)];
  const got = collector<unknown>(1);
  await b.on('user.signup', (data) => got.push(data.at)).ready;
  const sent = await a.emit('user.signup', { email: 'ada@example.com', at: '2026-11-23T10:00:00Z' });
  assert.is(sent.data.at, '2026-11-23T10:00:00Z');
  const [at] = await within(got.done, 1000, 'signup');
  assert.instance(at, Date);
  assert.is((at as Date).toISOString(), '2026-11-23T10:00:00.000Z');
});

test('wildcard handler sees the matching events, narrowed by topic', async (context) => {
  const [a, b] = [typed(context), typed(context)];
  const got = collector<string>(2);
  await b.on('order.*', (_data, event) => {
    got.push(event.topic === 'order.shipped' ? `shipped via ${event.data.carrier}` : `created ${event.data.total}`);
  }).ready;
  await a.emit('order.created', { id: 'o1', total: 7 });
  await a.emit('user.signup', { email: 'x@y.io', at: '2026-01-01T00:00:00Z' });
  await a.emit('order.shipped', { id: 'o1', carrier: 'ups' });
  assert.equal(await within(got.done, 1000, 'two orders'), ['created 7', 'shipped via ups']);
});

test('emit refuses invalid data with invalid_payload and sends nothing', async (context) => {
  const [a, b] = [typed(context), untyped(context)];
  const seen: unknown[] = [];
  await b.on('#', (data) => void seen.push(data)).ready;
  const error = await expectCode(() => a.emit('order.created', { id: 'o1', total: 'lots' } as never), 'invalid_payload');
  assert.instance(error, ValidationError);
  assert.is((error as ValidationError).topic, 'order.created');
  assert.is((error as ValidationError).direction, 'outbound');
  assert.equal((error as ValidationError).issues[0]?.path, ['total']);
  await a.emit('order.created', { id: 'ok', total: 1 });
  await b.close();
  assert.equal(seen, [{ id: 'ok', total: 1 }]);
  assert.is(a.stats().emitted, 1);
});

test('emit refuses topics outside the event map and invalid topics', async (context) => {
  const a = typed(context);
  const unknown = await expectCode(() => a.emit('order.cancelled' as never, {} as never), 'unknown_event');
  assert.instance(unknown, UnknownEventError);
  await expectCode(() => a.emit('order.*' as never, {} as never), 'invalid_topic');
  await expectCode(() => a.emit('constructor' as never, {} as never), 'unknown_event');
  const free = untyped(context);
  await expectCode(() => free.emit('a..b', 1), 'invalid_topic');
  await expectCode(() => free.emit('', 1), 'invalid_topic');
});

test('on refuses invalid patterns with invalid_pattern', async (context) => {
  const a = untyped(context);
  await expectCode(() => a.on('a.#.b', () => {}), 'invalid_pattern');
  await expectCode(() => a.on('a*', () => {}), 'invalid_pattern');
  await expectCode(() => a.subscribe('', {}), 'invalid_pattern');
  await expectCode(() => a.once('a..b'), 'invalid_pattern');
});

test('inbound data failing the schema is reported, not delivered; later events still flow', async (context) => {
  const [sender, receiver] = [untyped(context), typed(context)];
  const got = collector<unknown>(1);
  await receiver.on('order.created', (data) => got.push(data)).ready;
  await sender.emit('order.created', { id: 42 });
  await sender.emit('order.created', { id: 'good', total: 1 });
  assert.equal(await within(got.done, 1000, 'the valid event'), [{ id: 'good', total: 1 }]);
  const invalid = context.errors.filter((e) => e.code === 'invalid_payload');
  assert.is(invalid.length, 1);
  assert.is((invalid[0] as ValidationError).direction, 'inbound');
  assert.ok((invalid[0] as ValidationError).eventId);
  assert.is(receiver.stats().invalid, 1);
});

test('inbound topics outside the event map are dropped and reported once per topic', async (context) => {
  const [sender, receiver] = [untyped(context), typed(context)];
  const got = collector<string>(1);
  await receiver.on('#', (_d, e) => got.push(e.topic)).ready;
  await sender.emit('foreign.thing', 1);
  await sender.emit('foreign.thing', 2);
  await sender.emit('order.shipped', { id: 'o', carrier: 'dhl' });
  assert.equal(await within(got.done, 1000, 'shipped'), ['order.shipped']);
  assert.is(context.errors.filter((e) => e.code === 'unknown_event').length, 1);
  assert.is(receiver.stats().unknown, 2);
});

test('a throwing or rejecting handler is reported and does not stop the others', async (context) => {
  const [a, b] = [typed(context), typed(context)];
  const got = collector<string>(2);
  await b.on('order.created', () => {
    throw new Error('sync boom');
  }).ready;
  await b.on('order.created', async () => {
    throw new Error('async boom');
  }).ready;
  await b.on('order.*', (data) => got.push(data.id)).ready;
  await a.emit('order.created', { id: 'o1', total: 1 });
  await a.emit('order.created', { id: 'o2', total: 2 });
  assert.equal(await within(got.done, 1000, 'both'), ['o1', 'o2']);
  await b.close();
  const failures = context.errors.filter((e): e is HandlerError => e instanceof HandlerError);
  assert.is(failures.length, 4);
  assert.equal(failures.map((f) => (f.cause as Error).message).sort(), ['async boom', 'async boom', 'sync boom', 'sync boom']);
  assert.ok(failures.every((f) => f.code === 'handler_failed' && f.topic === 'order.created'));
});

test('once resolves with the next match, and honours timeout and abort', async (context) => {
  const [a, b] = [typed(context), typed(context)];
  const next = b.once('order.shipped');
  await b.ready();
  await a.emit('order.shipped', { id: 'o9', carrier: 'ups' });
  const event = await within(next, 1000, 'once');
  assert.is(event.data.carrier, 'ups');
  await expectCode(() => b.once('order.created', { timeoutMs: 1 }), 'timeout');
  const controller = new AbortController();
  const waiting = b.once('order.created', { signal: controller.signal });
  controller.abort();
  await expectCode(() => waiting, 'aborted');
  await expectCode(() => b.once('order.created', { signal: AbortSignal.abort() }), 'aborted');
});

test('once unsubscribes after firing', async (context) => {
  const [a, b] = [untyped(context), untyped(context)];
  const topic = uniqueTopic();
  const first = b.once(topic);
  await b.ready();
  await a.emit(topic, 1);
  await first;
  await a.emit(topic, 2);
  await b.close();
  assert.is(b.stats().received, 1);
});

test('subscribe yields events in order and ends when the signal aborts', async (context) => {
  const [a, b] = [typed(context), typed(context)];
  const controller = new AbortController();
  const stream = b.subscribe('order.#', { signal: controller.signal });
  await stream.ready;
  const topics: string[] = [];
  const consumed = (async () => {
    for await (const event of stream) {
      topics.push(`${event.topic}:${event.data.id}`);
      if (topics.length === 2) controller.abort();
    }
  })();
  await a.emit('order.created', { id: '1', total: 1 });
  await a.emit('order.shipped', { id: '2', carrier: 'x' });
  await within(consumed, 1000, 'stream end');
  assert.equal(topics, ['order.created:1', 'order.shipped:2']);
});

test('subscribe drop-oldest keeps the newest events and counts drops', async (context) => {
  const [a, b] = [untyped(context), untyped(context)];
  const topic = uniqueTopic();
  const stream = b.subscribe(topic, { bufferSize: 3 });
  await stream.ready;
  await Promise.all([1, 2, 3, 4, 5].map((n) => a.emit(topic, n)));
  await b.close(); // delivers in-flight events, then ends the stream
  const values: unknown[] = [];
  for await (const event of stream) values.push(event.data);
  assert.equal(values, [3, 4, 5]);
  assert.is(stream.dropped, 2);
});

test('subscribe with overflow "error" yields the buffer, then throws buffer_overflow', async (context) => {
  const [a, b] = [untyped(context), untyped(context)];
  const topic = uniqueTopic();
  const stream = b.subscribe(topic, { bufferSize: 2, overflow: 'error' });
  await stream.ready;
  await Promise.all([1, 2, 3, 4].map((n) => a.emit(topic, n)));
  await a.close();
  const values: unknown[] = [];
  await expectCode(async () => {
    for await (const event of stream) values.push(event.data);
  }, 'buffer_overflow');
  assert.equal(values, [1, 2]);
  assert.ok(stream.dropped >= 1);
});

test('breaking out of a for-await loop releases the subscription', async (context) => {
  const [a, b] = [untyped(context), untyped(context)];
  const topic = uniqueTopic();
  const stream = b.subscribe(topic);
  await stream.ready;
  await a.emit(topic, 1);
  for await (const event of stream) {
    assert.is(event.data, 1);
    break;
  }
  await a.emit(topic, 2);
  await a.close();
  await b.close();
  assert.is(b.stats().received, 1);
});

test('subscribe refuses a non-positive buffer without subscribing', async (context) => {
  const a = untyped(context);
  assert.throws(() => a.subscribe('x', { bufferSize: 0 }), RangeError);
});

test('close is idempotent, waits for running handlers and refuses further use', async (context) => {
  const [a, b] = [typed(context), typed(context)];
  const started = deferred();
  const release = deferred();
  let finished = false;
  await b.on('order.created', async () => {
    started.resolve();
    await release.promise;
    finished = true;
  }).ready;
  await a.emit('order.created', { id: 'o1', total: 1 });
  await within(started.promise, 1000, 'handler start');
  const closing = b.close();
  assert.is(b.close(), closing);
  let closed = false;
  void closing.then(() => (closed = true));
  await Promise.resolve();
  assert.is(closed, false);
  release.resolve();
  await within(closing, 1000, 'close');
  assert.is(finished, true);
  assert.equal(b.status, { state: 'closed' });
  await expectCode(() => b.emit('order.created', { id: 'late', total: 1 }), 'channel_closed');
  await expectCode(() => b.on('order.created', () => {}), 'channel_closed');
  await expectCode(() => b.ready(), 'channel_closed');
});

test('close ends open streams', async (context) => {
  const b = untyped(context);
  const stream = b.subscribe('#');
  const done = (async () => {
    for await (const _ of stream) {
      // nothing arrives
    }
    return 'ended';
  })();
  await b.close();
  assert.is(await within(done, 1000, 'stream end'), 'ended');
});

test('status goes open then closed, observable through onStatus', async (context) => {
  const hub = new MemoryHub();
  const seen: ChannelStatus[] = [];
  const channel = new EventChannel({ url: 'memory://status', memoryHub: hub });
  channel.onStatus((status) => seen.push(status));
  assert.equal(channel.status, { state: 'open' });
  await channel.ready();
  await channel.close();
  assert.equal(seen, [{ state: 'closed' }]);
  void context;
});

test('an async schema still delivers in arrival order', async (context) => {
  let calls = 0;
  const slowFirst: StandardSchemaV1<number, number> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate(value) {
        calls++;
        // The first event validates slowest; order must still hold.
        const delayTurns = calls === 1 ? 5 : 0;
        let chain = Promise.resolve();
        for (let i = 0; i < delayTurns; i++) chain = chain.then(() => {});
        return chain.then(() => (typeof value === 'number' ? { value } : { issues: [{ message: 'nan' }] }));
      },
    },
  };
  const events = defineEvents({ 'n.value': slowFirst });
  const hub = new MemoryHub();
  const a = new EventChannel({ url: 'memory://async', events, memoryHub: hub });
  const b = new EventChannel({ url: 'memory://async', events, memoryHub: hub });
  context.channels.push(a, b);
  const got = collector<number>(3);
  await b.on('n.value', (n) => got.push(n)).ready;
  for (const n of [1, 2, 3]) await a.emit('n.value', n);
  assert.equal(await within(got.done, 1000, 'ordered'), [1, 2, 3]);
});

test('a schema that throws is reported as invalid_payload, not thrown raw', async (context) => {
  const throwing: StandardSchemaV1<unknown, unknown> = {
    '~standard': {
      version: 1,
      vendor: 'test',
      validate() {
        throw new Error('schema bug');
      },
    },
  };
  const a = new EventChannel({ url: 'memory://t', events: defineEvents({ 'x.y': throwing }), memoryHub: context.hub });
  context.channels.push(a);
  const error = await expectCode(() => a.emit('x.y', 1), 'invalid_payload');
  assert.match((error as ValidationError).issues[0]!.message, /schema bug/);
});

test('topic families: a `*` key types and validates every topic it matches; exact keys win', async (context) => {
  const logs = defineEvents({
    'log.error.audit': z.object({ message: z.string(), auditId: z.string() }),
    'log.error.*': z.object({ message: z.string() }),
    'log.*.*': z.object({ message: z.string(), level: z.string() }),
  });
  const hub = new MemoryHub();
  const a = new EventChannel({ url: 'memory://families', events: logs, memoryHub: hub, onError: (e) => context.errors.push(e) });
  const b = new EventChannel({ url: 'memory://families', events: logs, memoryHub: hub, onError: (e) => context.errors.push(e) });
  const raw = new EventChannel({ url: 'memory://families', memoryHub: hub });
  context.channels.push(a, b, raw);
  const got = collector<[string, unknown]>(3);
  await b.on('log.#', (data, event) => got.push([event.topic, data])).ready;
  await a.emit('log.error.payments', { message: 'boom' });
  await a.emit('log.error.audit', { message: 'audit', auditId: 'a1' }); // exact key, not the family
  await a.emit('log.info.payments', { message: 'ok', level: 'info' }); // second family
  await expectCode(() => a.emit('log.error.audit', { message: 'no id' } as never), 'invalid_payload');
  await expectCode(() => a.emit('log.warn.payments', { message: 'no level' } as never), 'invalid_payload');
  await expectCode(() => a.emit('metrics.cpu' as never, {} as never), 'unknown_event');
  await raw.emit('log.error.payments', { wrong: true }); // fails the family schema on arrival
  assert.equal(await within(got.done, 1000, 'family events'), [
    ['log.error.payments', { message: 'boom' }],
    ['log.error.audit', { message: 'audit', auditId: 'a1' }],
    ['log.info.payments', { message: 'ok', level: 'info' }],
  ]);
  await b.close();
  assert.ok(context.errors.some((e) => e.code === 'invalid_payload' && (e as ValidationError).direction === 'inbound'));
});

test('named family keys: `{name}` segments are `*` at run time, the key stays as written', async (context) => {
  const orders = defineEvents({
    'order.{orderId}.shipped': z.object({ carrier: z.string() }),
    'tenant.{tenant}.order.{orderId}': z.object({ total: z.number() }),
  });
  assert.equal(Object.keys(orders), ['order.{orderId}.shipped', 'tenant.{tenant}.order.{orderId}']);
  const lookup = createSchemaLookup(orders);
  assert.is(lookup('order.7.shipped'), orders['order.{orderId}.shipped']);
  assert.is(lookup('tenant.acme.order.7'), orders['tenant.{tenant}.order.{orderId}']);
  assert.is(lookup('order.7.8.shipped'), undefined); // a named segment is one segment
  const hub = new MemoryHub();
  const a = new EventChannel({ url: 'memory://named', events: orders, memoryHub: hub, onError: (e) => context.errors.push(e) });
  context.channels.push(a);
  const got = collector<[string, unknown]>(1);
  await a.on('order.#', (data, event) => got.push([event.topic, data])).ready;
  await a.emit('order.7.shipped', { carrier: 'ups' });
  await expectCode(() => a.emit('order.7.shipped', { carrier: 1 } as never), 'invalid_payload');
  await expectCode(() => a.emit('order.7.paid' as never, {} as never), 'unknown_event');
  assert.equal(await within(got.done, 1000, 'named family event'), [['order.7.shipped', { carrier: 'ups' }]]);
});

test('defineEvents refuses a capture name used twice in one key (duplicate_capture)', () => {
  try {
    defineEvents({ 'a.{x}.{x}': z.string() } as never);
    assert.unreachable('a repeated capture name was accepted');
  } catch (caught) {
    assert.instance(caught, TopicError);
    assert.is((caught as TopicError).code, 'invalid_pattern');
    assert.is((caught as TopicError).problem, 'duplicate_capture');
  }
});

test('defineEvents refuses `#` keys and non-schemas', () => {
  assert.throws(() => defineEvents({ 'order.#': z.string() }), (e: unknown) => (e as EventwireError).code === 'invalid_topic');
  assert.throws(() => defineEvents({ 'a..b': z.string() }), (e: unknown) => (e as EventwireError).code === 'invalid_pattern');
  assert.throws(
    () => defineEvents({ 'a.b': { parse() {} } as unknown as StandardSchemaV1 }),
    (e: unknown) => (e as EventwireError).code === 'invalid_payload',
  );
});

test('URLs: unknown scheme and malformed URL get typed errors', () => {
  assert.throws(() => new EventChannel({ url: 'carrier-pigeon://x' }), (e: unknown) => (e as EventwireError).code === 'unsupported_transport');
  assert.throws(() => new EventChannel({ url: 'not a url' }), (e: unknown) => (e as EventwireError).code === 'invalid_url');
});

test('without onError listeners, errors go to console.error instead of throwing', async (context) => {
  const hub = new MemoryHub();
  const a = new EventChannel({ url: 'memory://quiet', memoryHub: hub });
  context.channels.push(a);
  const printed: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
  try {
    const topic = uniqueTopic();
    await a.on(topic, () => {
      throw new Error('nobody listens');
    }).ready;
    await a.emit(topic, 1);
    await a.close();
  } finally {
    console.error = original;
  }
  assert.is(printed.length, 1);
  assert.match(printed[0]!, /handler_failed/);
});

test('a handler may unsubscribe another mid-dispatch; it does not run', async (context) => {
  const [a, b] = [untyped(context), untyped(context)];
  const topic = uniqueTopic();
  const ran: string[] = [];
  let offSecond: () => void = () => {};
  await b.on(topic, () => {
    ran.push('first');
    offSecond();
  }).ready;
  offSecond = b.on(topic, () => void ran.push('second'));
  await a.emit(topic, 1);
  await b.close();
  assert.equal(ran, ['first']);
});

test('await using closes the channel', async () => {
  const hub = new MemoryHub();
  let channel: EventChannel | undefined;
  {
    await using scoped = new EventChannel({ url: 'memory://scoped', memoryHub: hub });
    channel = scoped;
  }
  assert.equal(channel.status, { state: 'closed' });
});

test.run();
