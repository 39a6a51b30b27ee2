import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, MemoryHub, defaultMemoryHub, type EventEnvelope, type EventwireError } from '../src/index.js';
import { collector, expectCode, uniqueTopic, within } from './helpers.js';
import { runHistorySuite } from './history-suite.js';
import { runTransportSuite } from './transport-suite.js';

runTransportSuite('memory', async () => {
  const hub = new MemoryHub();
  return { connect: () => new EventChannel({ url: 'memory://suite', memoryHub: hub }) };
});

runHistorySuite('memory', async () => {
  const hub = new MemoryHub({ history: [{ pattern: 'hist.#', maxEvents: 1000 }] });
  return { connect: () => new EventChannel({ url: 'memory://history', memoryHub: hub }) };
});

const test = suite('memory transport');

test('an envelope put on the bus by something other than a channel is parsed like any other: a bad one is refused', async () => {
  const hub = new MemoryHub();
  const topic = uniqueTopic();
  const errors: EventwireError[] = [];
  const channel = new EventChannel({ url: 'memory://raw', memoryHub: hub, onError: (error) => errors.push(error) });
  const got = collector<unknown>(1);
  await channel.on(topic, (data) => got.push(data)).ready;
  // A transport used directly (a custom bridge, say) bypasses emit's checks.
  const raw = hub.transport('raw');
  raw.connect({ deliver: () => {}, status: () => {}, error: () => {}, gap: () => {}, presence: () => {}, member: () => {} });
  const bad = { id: 'x', topic, source: 'bridge', time: 'yesterday', data: 'bad' } as EventEnvelope;
  await raw.publish(bad);
  await raw.publish({ id: 'y', topic, source: 'bridge', time: new Date().toISOString(), data: 'good' });
  assert.equal(await within(got.done, 1000, 'the good event'), ['good']);
  assert.equal(errors.map((error) => error.code), ['invalid_envelope']);
  assert.is(channel.stats().invalid, 1);
  await raw.close();
  await channel.close();
});

test('channels on different bus names do not see each other', async () => {
  const hub = new MemoryHub();
  const topic = uniqueTopic();
  const a = new EventChannel({ url: 'memory://a', memoryHub: hub });
  const b = new EventChannel({ url: 'memory://b', memoryHub: hub });
  const onA = collector<unknown>(1);
  const onB: unknown[] = [];
  await a.on(topic, (d) => onA.push(d)).ready;
  await b.on(topic, (d) => void onB.push(d)).ready;
  await a.emit(topic, 'for a');
  await within(onA.done, 1000, 'a');
  await Promise.all([a.close(), b.close()]);
  assert.equal(onB, []);
});

test('separate hubs isolate the same bus name', async () => {
  const topic = uniqueTopic();
  const a = new EventChannel({ url: 'memory://same', memoryHub: new MemoryHub() });
  const b = new EventChannel({ url: 'memory://same', memoryHub: new MemoryHub() });
  const onB: unknown[] = [];
  await b.on(topic, (d) => void onB.push(d)).ready;
  await a.on(topic, () => {}).ready;
  await a.emit(topic, 1);
  await Promise.all([a.close(), b.close()]);
  assert.equal(onB, []);
});

test('the default hub shares buses by name across the process and forgets empty ones', async () => {
  const name = `shared-${uniqueTopic()}`;
  const topic = uniqueTopic();
  const a = new EventChannel({ url: `memory://${name}` });
  const b = new EventChannel({ url: `memory://${name}` });
  const got = collector<unknown>(1);
  await b.on(topic, (d) => got.push(d)).ready;
  await a.emit(topic, 'hi');
  assert.equal(await within(got.done, 1000, 'delivery'), ['hi']);
  assert.ok(defaultMemoryHub.busNames().includes(name));
  await Promise.all([a.close(), b.close()]);
  assert.not.ok(defaultMemoryHub.busNames().includes(name));
});

test('delivery is asynchronous: never inside emit', async () => {
  const channel = new EventChannel({ url: 'memory://async', memoryHub: new MemoryHub() });
  const topic = uniqueTopic();
  let delivered = false;
  await channel.on(topic, () => void (delivered = true)).ready;
  const pending = channel.emit(topic, 1);
  assert.is(delivered, false);
  await pending;
  await channel.close();
  assert.is(delivered, true);
});

test('data that cannot be JSON is refused at emit with invalid_payload', async () => {
  const channel = new EventChannel({ url: 'memory://json', memoryHub: new MemoryHub() });
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  const topic = uniqueTopic();
  await channel.on(topic, () => {}).ready;
  await expectCode(() => channel.emit(topic, cyclic), 'invalid_payload');
  await expectCode(() => channel.emit(topic, { big: 1n }), 'invalid_payload');
  await channel.close();
});

test('handlers that reply to each other forever do not starve timers', async () => {
  const hub = new MemoryHub();
  const ping = new EventChannel({ url: 'memory://pingpong', memoryHub: hub });
  const pong = new EventChannel({ url: 'memory://pingpong', memoryHub: hub });
  const limit = 100_000;
  let bounces = 0;
  let bouncesWhenTimerFired = -1;
  const finished = collector<number>(1);
  const bounce = (next: EventChannel, topic: string) => async () => {
    if (++bounces === limit) return finished.push(bounces);
    await next.emit(topic, bounces);
  };
  await ping.on('pp.ping', bounce(pong, 'pp.pong')).ready;
  await pong.on('pp.pong', bounce(ping, 'pp.ping')).ready;
  setTimeout(() => (bouncesWhenTimerFired = bounces), 0);
  await ping.emit('pp.ping', 0);
  await within(finished.done, 60_000, 'the bouncing to end');
  await Promise.all([ping.close(), pong.close()]);
  // Without yielding between rounds the timer could only fire after all of them.
  assert.ok(bouncesWhenTimerFired >= 0 && bouncesWhenTimerFired < limit, String(bouncesWhenTimerFired));
});

test('memory:// with no name is the bus "default"', async () => {
  const hub = new MemoryHub();
  const channel = new EventChannel({ url: 'memory://', memoryHub: hub });
  assert.equal(hub.busNames(), ['default']);
  await channel.close();
});

test.run();
