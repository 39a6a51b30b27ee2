// The conformance suite every transport runs, like Hono's shared router cases.
// A transport passes by connecting untyped channels through `connect()` that
// all see each other. To add a transport: call runTransportSuite from its own
// test file with a factory (and a written reason for any skip).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, type EventEnvelope } from '../src/index.js';
import { collector, uniqueTopic, within } from './helpers.js';

export interface TransportHarness {
  /** A new channel attached to the shared place (bus, broker, NATS server). */
  connect(): EventChannel;
  /** Called once after the suite. */
  teardown?(): Promise<void>;
}

/** A suite's context: the harness, and the channels a test opened (closed after each). */
export interface HarnessContext {
  harness: TransportHarness;
  open: EventChannel[];
}

/**
 * A uvu suite over a harness: set up once, every channel a test opens through
 * `channel(context)` closed after it, torn down at the end. Shared by the
 * transport and history suites.
 */
export function harnessSuite(title: string, setup: () => Promise<TransportHarness>) {
  const test = suite<HarnessContext>(title);
  test.before(async (context) => {
    context.harness = await setup();
    context.open = [];
  });
  test.after.each(async (context) => {
    await Promise.all(context.open.map((c) => c.close()));
    context.open = [];
  });
  test.after(async (context) => {
    await context.harness.teardown?.();
  });
  const channel = (context: HarnessContext): EventChannel => {
    const created = context.harness.connect();
    context.open.push(created);
    return created;
  };
  return { test, channel };
}

const WAIT = 2000;

export function runTransportSuite(name: string, setup: () => Promise<TransportHarness>): void {
  const { test, channel } = harnessSuite(`transport: ${name}`, setup);

  test('delivers an event to a subscriber on another channel', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const topic = uniqueTopic();
    const got = collector<EventEnvelope>(1);
    await subscriber.on(topic, (_data, event) => got.push(event)).ready;
    const sent = await publisher.emit(topic, { n: 1 });
    const [event] = await within(got.done, WAIT, 'delivery');
    assert.equal(event!.data, { n: 1 });
    assert.is(event!.id, sent.id);
    assert.is(event!.source, publisher.source);
    assert.is(event!.time, sent.time);
  });

  test('routes by wildcard pattern and skips non-matching topics', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const root = uniqueTopic();
    const star = collector<string>(2);
    const hash = collector<string>(4);
    await subscriber.on(`${root}.*`, (_d, e) => star.push(e.topic)).ready;
    await subscriber.on(`${root}.#`, (_d, e) => hash.push(e.topic)).ready;
    for (const topic of [`${root}.a`, `${root}.b.c`, `other.${root}`, `${root}.d`, root]) {
      await publisher.emit(topic, null);
    }
    assert.equal(await within(star.done, WAIT, 'star'), [`${root}.a`, `${root}.d`]);
    assert.equal(await within(hash.done, WAIT, 'hash'), [`${root}.a`, `${root}.b.c`, `${root}.d`, root]);
  });

  test('a {name} capture matches one segment as * does and hands it to the handler as params', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const root = uniqueTopic();
    const got = collector<[string, unknown]>(2);
    await subscriber.on(`${root}.{id}.shipped`, (_d, e) => got.push([e.topic, e.params])).ready;
    for (const topic of [`${root}.7.shipped`, `${root}.7.paid`, `${root}.7.x.shipped`, `${root}.8.shipped`]) {
      await publisher.emit(topic, null);
    }
    assert.equal(await within(got.done, WAIT, 'captured'), [
      [`${root}.7.shipped`, { id: '7' }],
      [`${root}.8.shipped`, { id: '8' }],
    ]);
  });

  test('several captures before a trailing #: every captured segment, for every depth # matches', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const root = uniqueTopic();
    const got = collector<unknown>(2);
    await subscriber.on(`${root}.{x}.{y}.#`, (_d, e) => got.push(e.params)).ready;
    for (const topic of [`${root}.1`, `${root}.1.2`, `${root}.3.4.5.6`]) await publisher.emit(topic, null);
    assert.equal(await within(got.done, WAIT, 'captured'), [{ x: '1', y: '2' }, { x: '3', y: '4' }]);
  });

  test('a capture and a * on the same segment: each handler once per event, params only where captured', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const root = uniqueTopic();
    const captured = collector<unknown>(2);
    const plain = collector<unknown>(2);
    await subscriber.on(`${root}.{n}`, (_d, e) => captured.push(e.params)).ready;
    await subscriber.on(`${root}.*`, (_d, e) => plain.push(e.params)).ready;
    await publisher.emit(`${root}.9`, null);
    await publisher.emit(`${root}.10`, null);
    assert.equal(await within(captured.done, WAIT, 'captured'), [{ n: '9' }, { n: '10' }]);
    assert.equal(await within(plain.done, WAIT, 'plain'), [undefined, undefined]);
  });

  test('a channel receives an event once even when several of its patterns match', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const root = uniqueTopic();
    await Promise.all([
      subscriber.on(`${root}.#`, () => {}).ready,
      subscriber.on(`${root}.*`, () => {}).ready,
      subscriber.on(`${root}.x`, () => {}).ready,
    ]);
    const marker = collector<string>(1);
    await subscriber.on(`${root}.end`, (_d, e) => marker.push(e.topic)).ready;
    await publisher.emit(`${root}.x`, 1);
    await publisher.emit(`${root}.end`, 2);
    await within(marker.done, WAIT, 'end marker');
    // Each event reached the channel once; each then ran its three matching
    // handlers (x: #, *, x; end: #, *, end).
    assert.is(subscriber.stats().received, 2);
    assert.is(subscriber.stats().delivered, 6);
  });

  test('keeps one publisher\'s order', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const topic = uniqueTopic();
    const got = collector<unknown>(200);
    await subscriber.on(topic, (data) => got.push(data)).ready;
    await Promise.all(Array.from({ length: 200 }, (_, i) => publisher.emit(topic, i)));
    assert.equal(await within(got.done, WAIT, '200 events'), Array.from({ length: 200 }, (_, i) => i));
  });

  test('stops delivering after unsubscribe', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const topic = uniqueTopic();
    const first = collector<unknown>(1);
    const off = subscriber.on(topic, (data) => first.push(data));
    await off.ready;
    await publisher.emit(topic, 'before');
    await within(first.done, WAIT, 'first');
    off();
    const marker = collector<unknown>(1);
    await subscriber.on(`${topic}.end`, (data) => marker.push(data)).ready;
    await publisher.emit(topic, 'after');
    await publisher.emit(`${topic}.end`, 'end');
    await within(marker.done, WAIT, 'marker');
    assert.equal(first.items, ['before']);
  });

  test('carries JSON data faithfully and never aliases the publisher\'s objects', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const topic = uniqueTopic();
    const got = collector<unknown>(1);
    await subscriber.on(topic, (data) => got.push(data)).ready;
    const data = { text: 'héllo ✓ "quoted"\n', nested: { list: [1, 2.5, null, true] }, empty: {} };
    await publisher.emit(topic, data);
    data.nested.list.push(99);
    const [received] = await within(got.done, WAIT, 'json event');
    assert.equal(received, { text: 'héllo ✓ "quoted"\n', nested: { list: [1, 2.5, null, true] }, empty: {} });
  });

  test('delivers an emit awaited just before close to the closing channel', async (context) => {
    const solo = channel(context);
    const topic = uniqueTopic();
    const got: unknown[] = [];
    await solo.on(topic, (data) => void got.push(data)).ready;
    await solo.emit(topic, 'last words');
    await solo.close();
    assert.equal(got, ['last words']);
  });

  test('close() drains: a handler still running replies, an emit racing the close goes out, a later one is refused', async (context) => {
    const [service, client] = [channel(context), channel(context)];
    const topic = uniqueTopic();
    const replies = collector<unknown>(2);
    await client.on(`${topic}.reply`, (data) => replies.push(data)).ready;
    let handlerStarted!: () => void;
    const started = new Promise<void>((resolve) => (handlerStarted = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await service
      .on(`${topic}.request`, async (data) => {
        handlerStarted();
        await gate; // still busy when close() begins
        await service.emit(`${topic}.reply`, { to: data }, { ack: true });
      })
      .ready;
    await client.emit(`${topic}.request`, 'r1');
    await within(started, WAIT, 'handler started');
    const closing = service.close();
    // Code elsewhere in the program that raced the close: still sent.
    const raced = service.emit(`${topic}.reply`, 'raced');
    assert.throws(() => service.on(`${topic}.late`, () => {}), (error: { code?: string }) => error.code === 'channel_closed');
    release();
    await within(closing, WAIT, 'close');
    await raced;
    assert.equal((await within(replies.done, WAIT, 'replies')).sort(), [{ to: 'r1' }, 'raced'].sort());
    const late = await service.emit(`${topic}.reply`, 'too late').then(
      () => 'sent',
      (error: { code?: string }) => error.code,
    );
    assert.is(late, 'channel_closed');
    assert.is(service.stats().handlerErrors, 0);
  });

  test('close() stops deliveries to the closing channel but still delivers what was in flight', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const topic = uniqueTopic();
    const got: unknown[] = [];
    await subscriber.on(topic, (data) => void got.push(data)).ready;
    await publisher.emit(topic, 'in flight', { ack: true });
    await subscriber.close();
    await publisher.emit(topic, 'after close', { ack: true });
    assert.equal(got, ['in flight']);
  });

  test.run();
}
