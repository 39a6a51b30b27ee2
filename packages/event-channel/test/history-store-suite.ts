// The suite every history store passes (memory here, the broker's durable
// log in its own package), like the transport conformance suite. To add a
// store: call runHistoryStoreSuite from its test file with a factory.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { HistoryRetention, HistoryStore } from '../src/protocol/index.js';
import { parseOffset } from '../src/offset.js';
import type { EventEnvelope } from '../src/index.js';

export interface HistoryStoreHarness {
  /** A new, empty store using `now` as its clock. */
  create(options: { now: () => number; dedupWindowMs?: number }): Promise<HistoryStore>;
}

const forever: HistoryRetention = { maxEvents: 1_000_000, maxAgeMs: 1e12 };
let counter = 0;
function event(topic: string, data: unknown = null): EventEnvelope {
  counter++;
  return { id: `id-${counter}-${Math.random().toString(36).slice(2)}`, topic, source: 'suite', time: new Date(0).toISOString(), data };
}

export function runHistoryStoreSuite(name: string, harness: HistoryStoreHarness): void {
  const test = suite<{ clock: { now: number }; stores: HistoryStore[] }>(`history store: ${name}`);
  const open = async (context: { clock: { now: number }; stores: HistoryStore[] }, options: { dedupWindowMs?: number } = {}): Promise<HistoryStore> => {
    const store = await harness.create({ now: () => context.clock.now, ...options });
    context.stores.push(store);
    return store;
  };
  test.before.each((context) => {
    context.clock = { now: 1_000_000 };
    context.stores = [];
  });
  test.after.each(async (context) => {
    for (const store of context.stores) await store.close();
  });

  test('assigns one sequence across topics; offsets are <epoch>:<seq>; head follows', async (context) => {
    const store = await open(context);
    assert.is(store.head, 0);
    const a = store.append(event('a.one', 1), forever);
    const b = store.append(event('b.one', 2), forever);
    const c = store.append(event('a.two', 3), forever);
    assert.equal([a, b, c].map((stored) => parseOffset(stored.offset!)), [1, 2, 3].map((seq) => ({ epoch: store.epoch, seq })));
    assert.is(store.head, 3);
    assert.equal(c.data, 3);
  });

  test('reads by pattern after a sequence, oldest first, bounded by limit', async (context) => {
    const store = await open(context);
    for (let i = 1; i <= 10; i++) store.append(event(i % 2 ? 'odd.n' : 'even.n', i), forever);
    assert.equal(store.read('odd.*', 0, 100).map((e) => e.envelope.data), [1, 3, 5, 7, 9]);
    assert.equal(store.read('#', 4, 3).map((e) => e.seq), [5, 6, 7]);
    assert.equal(store.read('even.#', 10, 100), []);
    assert.equal(store.read('none.*', 0, 100), []);
    assert.equal(store.readLast('#', 3).map((e) => e.seq), [8, 9, 10]);
    assert.equal(store.readLast('even.n', 2).map((e) => e.envelope.data), [8, 10]);
  });

  test('retention by count per topic: a busy topic does not push out a quiet one; trimming is reported', async (context) => {
    const store = await open(context);
    const small: HistoryRetention = { maxEvents: 3, maxAgeMs: 1e12 };
    store.append(event('quiet.x', 'q'), small); // seq 1
    for (let i = 0; i < 10; i++) store.append(event('busy.x', i), small); // 2..11
    assert.equal(store.read('busy.x', 0, 100).map((e) => e.envelope.data), [7, 8, 9]);
    assert.equal(store.read('quiet.x', 0, 100).map((e) => e.envelope.data), ['q']);
    assert.ok(store.trimmedAfter('busy.x', 0), 'busy lost events after 0');
    assert.ok(!store.trimmedAfter('busy.x', 8), 'nothing lost after the oldest kept');
    assert.ok(!store.trimmedAfter('quiet.x', 0));
    assert.ok(store.trimmedAfter('#', 0));
  });

  test('retention by age', async (context) => {
    const store = await open(context);
    const minute: HistoryRetention = { maxEvents: 100, maxAgeMs: 60_000 };
    store.append(event('aged.x', 'old'), minute);
    context.clock.now += 59_000;
    store.append(event('aged.x', 'new'), minute);
    context.clock.now += 2_000;
    assert.equal(store.read('aged.x', 0, 10).map((e) => e.envelope.data), ['new']);
    assert.ok(store.trimmedAfter('aged.x', 0));
  });

  test('finds a stored event by id within the deduplication window only', async (context) => {
    const store = await open(context, { dedupWindowMs: 10_000 });
    const sent = event('dedup.x', 1);
    const stored = store.append(sent, forever);
    assert.is(store.findById(sent.id)?.envelope.offset, stored.offset);
    assert.is(store.findById('unknown'), undefined);
    context.clock.now += 11_000;
    assert.is(store.findById(sent.id), undefined);
  });

  test('two stores never share an epoch', async (context) => {
    const [one, two] = [await open(context), await open(context)];
    assert.is.not(one.epoch, two.epoch);
  });

  test.run();
}
