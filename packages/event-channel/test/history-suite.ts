// History semantics every transport that can keep them shares: memory:// (a
// MemoryHub with history rules) and ws:// (a broker with history rules) run
// this suite, so tests written against memory:// hold over ws://. The place
// behind the harness keeps history for `hist.#` and for nothing else.
import * as assert from 'uvu/assert';
import type { EventEnvelope, HistoryGap } from '../src/index.js';
import { collector, uniqueTopic, within } from './helpers.js';
import { harnessSuite, type TransportHarness } from './transport-suite.js';

/** The place behind it keeps history for `hist.#` and nothing else. */
export type HistoryHarness = TransportHarness;

const WAIT = 3000;

export function runHistorySuite(name: string, setup: () => Promise<HistoryHarness>): void {
  const { test, channel } = harnessSuite(`history: ${name}`, setup);

  const topicUnder = (root: string): string => `hist.${uniqueTopic().replace(/\./g, '-')}.${root}`;

  test('events on history topics carry offsets; others do not', async (context) => {
    const [publisher, subscriber] = [channel(context), channel(context)];
    const kept = topicUnder('a');
    const plain = uniqueTopic();
    const got = collector<EventEnvelope>(2);
    await subscriber.on(kept, (_d, e) => got.push(e)).ready;
    await subscriber.on(plain, (_d, e) => got.push(e)).ready;
    await publisher.emit(kept, 1, { ack: true });
    await publisher.emit(plain, 2, { ack: true });
    const [first, second] = await within(got.done, WAIT, 'both');
    assert.match(first!.offset!, /^.+:\d+$/);
    assert.is(second!.offset, undefined);
  });

  test("on(p, h, { since: 'earliest' }) delivers what is stored, then live, each once and in order, while publishing goes on", async (context) => {
    const [publisher, late] = [channel(context), channel(context)];
    const topic = topicUnder('seam');
    for (let i = 0; i < 50; i++) await publisher.emit(topic, i, { ack: true });
    const got = collector<unknown>(100);
    // Publishing continues while the late subscriber catches up: the seam must hold.
    const more = (async () => {
      for (let i = 50; i < 100; i++) await publisher.emit(topic, i, { ack: true });
    })();
    await late.on(topic, (data) => got.push(data), { since: 'earliest' }).ready;
    await more;
    assert.equal(await within(got.done, WAIT, '100 events'), Array.from({ length: 100 }, (_, i) => i));
  });

  test('subscribe(p, { since: { last: 3 } }) yields the newest three, then live', async (context) => {
    const [publisher, reader] = [channel(context), channel(context)];
    const root = topicUnder('chat');
    for (let i = 1; i <= 10; i++) await publisher.emit(`${root}.${i % 2 ? 'odd' : 'even'}`, i, { ack: true });
    const stream = reader.subscribe(`${root}.*`, { since: { last: 3 } });
    await stream.ready;
    await publisher.emit(`${root}.odd`, 11, { ack: true });
    const seen: unknown[] = [];
    for await (const event of stream) {
      seen.push(event.data);
      if (seen.length === 4) break;
    }
    assert.equal(seen, [8, 9, 10, 11]);
  });

  test('since an offset: only what came after it, then live', async (context) => {
    const [publisher, watcher, reader] = [channel(context), channel(context), channel(context)];
    const topic = topicUnder('after');
    const seen = collector<EventEnvelope>(6);
    await watcher.on(topic, (_d, e) => seen.push(e)).ready;
    for (let i = 0; i < 6; i++) await publisher.emit(topic, i, { ack: true });
    const offsetOfTwo = (await within(seen.done, WAIT, 'six events'))[2]!.offset!;
    const got = collector<unknown>(4);
    await reader.on(topic, (data) => got.push(data), { since: offsetOfTwo }).ready;
    await publisher.emit(topic, 6, { ack: true });
    assert.equal(await within(got.done, WAIT, 'after the offset'), [3, 4, 5, 6]);
  });

  test('a pattern without history reports a no_history gap and goes live', async (context) => {
    const [publisher, reader] = [channel(context), channel(context)];
    const topic = uniqueTopic();
    const gaps: HistoryGap[] = [];
    reader.onGap((gap) => gaps.push(gap));
    const got = collector<unknown>(1);
    await reader.on(topic, (data) => got.push(data), { since: 'earliest' }).ready;
    await publisher.emit(topic, 'live', { ack: true });
    assert.equal(await within(got.done, WAIT, 'live'), ['live']);
    assert.equal(gaps.map((gap) => [gap.pattern, gap.reason]), [[topic, 'no_history']]);
    assert.is(reader.stats().gaps, 1);
  });

  test('a handler with since does not make other handlers of the same pattern see the history again', async (context) => {
    const [publisher, reader] = [channel(context), channel(context)];
    const topic = topicUnder('shared');
    const early = collector<unknown>(2);
    await reader.on(topic, (data) => early.push(data)).ready;
    await publisher.emit(topic, 1, { ack: true });
    const late = collector<unknown>(2);
    await reader.on(topic, (data) => late.push(data), { since: 'earliest' }).ready;
    await publisher.emit(topic, 2, { ack: true });
    assert.equal(await within(late.done, WAIT, 'late'), [1, 2]);
    assert.equal(await within(early.done, WAIT, 'early'), [1, 2]);
  });

  test.run();
}
