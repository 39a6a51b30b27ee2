import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventEnvelope } from '../src/index.js';
import { MemoryHistoryStore, estimateEventBytes } from '../src/protocol/index.js';
import { runHistoryStoreSuite } from './history-store-suite.js';

runHistoryStoreSuite('memory', { create: async (options) => new MemoryHistoryStore(options) });

const test = suite('memory history store');

test('a flood of one-off topics is bounded; readers behind a forgotten topic are told of the gap', () => {
  const store = new MemoryHistoryStore({ maxTopics: 100 });
  const retention = { maxEvents: 10, maxAgeMs: 1e12 };
  for (let i = 0; i < 1000; i++) store.append({ id: `e${i}`, topic: `flood.t${i}`, source: 's', time: new Date(0).toISOString(), data: i }, retention);
  assert.is(store.read('flood.*', 0, 10_000).length, 100);
  assert.ok(store.trimmedAfter('other.*', 0), 'errs towards a gap, never silence');
  assert.ok(!store.trimmedAfter('flood.*', 900));
});

test('a bound on events in all: the least recently published topic gives up its oldest first', () => {
  const store = new MemoryHistoryStore({ maxEvents: 10 });
  const retention = { maxEvents: 100, maxAgeMs: 1e12 };
  const put = (topic: string, data: number) => store.append({ id: `${topic}-${data}`, topic, source: 's', time: new Date(0).toISOString(), data }, retention);
  for (let i = 0; i < 5; i++) put('quiet.x', i); // seq 1..5
  for (let i = 0; i < 10; i++) put('busy.x', i); // seq 6..15
  assert.is(store.read('#', 0, 100).length, 10);
  assert.equal(store.read('quiet.x', 0, 100).map((e) => e.envelope.data), []);
  assert.equal(store.read('busy.x', 0, 100).length, 10);
  assert.ok(store.trimmedAfter('quiet.x', 0), 'quiet readers are told');
  assert.ok(!store.trimmedAfter('busy.x', 5), 'busy readers lost nothing after 5');
});

const put = (store: MemoryHistoryStore, id: string, topic = 'dedup.x'): EventEnvelope =>
  store.append({ id, topic, source: 's', time: new Date(0).toISOString(), data: null }, { maxEvents: 1_000_000, maxAgeMs: 1e12 });

test('dedup past maxDedupIds, many times over: the newest maxDedupIds ids are found, every older one forgotten, exactly at the bound', () => {
  const store = new MemoryHistoryStore({ maxDedupIds: 1000 });
  for (let i = 1; i <= 5500; i++) {
    put(store, `e${i}`);
    if (i % 500 === 0) {
      // At every point the window of ids is exactly the last 1000 (or all of them before that).
      assert.is(store.findById(`e${i}`)?.seq, i);
      assert.is(store.findById(`e${Math.max(1, i - 999)}`)?.seq, Math.max(1, i - 999), `oldest remembered after ${i}`);
      if (i > 1000) assert.is(store.findById(`e${i - 1000}`), undefined, `forgotten after ${i}`);
    }
  }
  const found = Array.from({ length: 5500 }, (_, k) => store.findById(`e${k + 1}`) !== undefined);
  assert.is(found.indexOf(true), 4500);
  assert.ok(found.slice(4500).every(Boolean));
});

test('dedup by age: an id is found up to dedupWindowMs after it was stored, then forgotten, while newer ones stay', () => {
  let now = 0;
  const store = new MemoryHistoryStore({ dedupWindowMs: 1000, now: () => now });
  for (let i = 1; i <= 3000; i++) {
    now = i;
    put(store, `e${i}`);
  }
  // now = 3000: stored at 2000 is exactly at the window, 1999 is past it.
  assert.is(store.findById('e2000')?.seq, 2000);
  assert.is(store.findById('e1999'), undefined);
  assert.is(store.findById('e3000')?.seq, 3000);
});

test('an id stored again is remembered as its newest copy: pruning the older copy does not forget it', () => {
  const store = new MemoryHistoryStore({ maxDedupIds: 2 });
  put(store, 'x'); // seq 1
  put(store, 'y'); // seq 2
  put(store, 'x'); // seq 3: the same id again (the store itself does not refuse it; the broker does)
  put(store, 'w'); // seq 4: three ids remembered, one too many — the oldest by its newest copy is y
  assert.is(store.findById('x')?.seq, 3);
  assert.is(store.findById('y'), undefined);
  assert.is(store.findById('w')?.seq, 4);
});

test('topics are forgotten least recently published first, however often each was published', () => {
  const store = new MemoryHistoryStore({ maxTopics: 3 });
  let n = 0;
  const publish = (topic: string): void => void put(store, `t${++n}`, topic);
  for (let round = 0; round < 1000; round++) for (const topic of ['a.x', 'b.x', 'c.x']) publish(topic);
  publish('a.x'); // order now b, c, a
  publish('d.x'); // forgets b
  assert.equal(['a.x', 'b.x', 'c.x', 'd.x'].map((topic) => store.read(topic, 0, 10_000).length), [1001, 0, 1000, 1]);
  publish('c.x'); // order a, d, c
  publish('e.x'); // forgets a
  assert.equal(['a.x', 'c.x', 'd.x', 'e.x'].map((topic) => store.read(topic, 0, 10_000).length), [0, 1001, 1, 1]);
});

test('over maxEvents, the least recently published topic gives up its events, in that order, across many topics', () => {
  const store = new MemoryHistoryStore({ maxEvents: 100 });
  let n = 0;
  for (let i = 0; i < 50; i++) put(store, `e${++n}`, `t.${i}`); // 50 topics, one event each
  for (let i = 0; i < 50; i++) put(store, `e${++n}`, `t.${49 - i}`); // again, newest-published last: t.0 is now newest
  put(store, `e${++n}`, 't.new'); // 101 events: t.49 (least recently published) loses its oldest
  assert.equal(store.read('t.49', 0, 10).map((e) => e.seq), [51]);
  put(store, `e${++n}`, 't.new'); // t.49 again: down to one event, the whole topic goes (and its readers get a gap)
  assert.equal(store.read('t.49', 0, 10).map((e) => e.seq), []);
  assert.ok(store.trimmedAfter('t.49', 50), 'a reader that had not seen seq 51 is told');
  assert.equal(store.read('t.48', 0, 10).map((e) => e.seq), [49, 52]);
  put(store, `e${++n}`, 't.new'); // t.48 next
  assert.equal(store.read('t.48', 0, 10).map((e) => e.seq), [52]);
  assert.is(store.read('#', 0, 1000).length, 100);
});

test('a bound on bytes: the oldest events go until the rest fit, exactly at the bound, and readers behind them are told', () => {
  const retention = { maxEvents: 1000, maxAgeMs: 1e12 };
  const event = (i: number, topic = 'bytes.x'): EventEnvelope => ({ id: `b${i}`, topic, source: 's', time: new Date(0).toISOString(), data: { n: i, text: 'x'.repeat(100) } });
  // The size of each stored event (with its offset), from a store with no byte bound and the same epoch.
  const sizer = new MemoryHistoryStore({ epoch: 'E' });
  const sizes = Array.from({ length: 31 }, (_, i) => (i === 0 ? 0 : estimateEventBytes(sizer.append(event(i), retention))));
  const bound = sizes.slice(21).reduce((a, b) => a + b, 0); // events 21..30 fill it exactly
  const store = new MemoryHistoryStore({ epoch: 'E', maxBytes: bound });
  for (let i = 1; i <= 30; i++) {
    store.append(event(i), retention);
    assert.ok(store.bytes <= bound, `${store.bytes} held past the bound ${bound} after event ${i}`);
  }
  assert.is(store.bytes, bound);
  assert.equal(store.read('bytes.x', 0, 100).map((e) => e.seq), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
  assert.ok(store.trimmedAfter('bytes.x', 19), 'a reader at 19 missed 20: a gap');
  assert.ok(!store.trimmedAfter('bytes.x', 20), 'a reader at 20 missed nothing');
  // What was trimmed is no longer held for deduplication either (its bytes are free); what is kept still is.
  assert.is(store.findById('b20'), undefined);
  assert.is(store.findById('b21')?.seq, 21);
  // One more event: the oldest goes, one for one.
  store.append(event(31), retention);
  assert.is(store.read('bytes.x', 0, 100)[0]!.seq, 22);
  assert.ok(store.trimmedAfter('bytes.x', 20));
});

test('a bound on bytes trims the least recently published topic first, as the bound on events does', () => {
  const retention = { maxEvents: 1000, maxAgeMs: 1e12 };
  const put = (store: MemoryHistoryStore, topic: string, i: number): EventEnvelope =>
    store.append({ id: `${topic}-${i}`, topic, source: 's', time: new Date(0).toISOString(), data: 'y'.repeat(200) }, retention);
  const sizer = new MemoryHistoryStore({ epoch: 'E' });
  const one = estimateEventBytes(put(sizer, 'quiet.x', 1));
  const store = new MemoryHistoryStore({ epoch: 'E', maxBytes: one * 10 + one / 2 });
  for (let i = 1; i <= 5; i++) put(store, 'quiet.x', i); // seq 1..5
  for (let i = 1; i <= 10; i++) put(store, 'busy.x', i); // seq 6..15
  assert.equal(store.read('quiet.x', 0, 100), []);
  assert.is(store.read('busy.x', 0, 100).length, 10);
  assert.ok(store.trimmedAfter('quiet.x', 0), 'quiet readers are told');
  assert.ok(!store.trimmedAfter('busy.x', 5), 'busy readers lost nothing');
});

test('an event larger than the whole bound is still kept, alone, until the next (it was acknowledged)', () => {
  const retention = { maxEvents: 1000, maxAgeMs: 1e12 };
  const store = new MemoryHistoryStore({ maxBytes: 1000 });
  const put = (i: number, size: number): EventEnvelope => store.append({ id: `big${i}`, topic: 'big.x', source: 's', time: new Date(0).toISOString(), data: 'z'.repeat(size) }, retention);
  put(1, 10);
  put(2, 5000);
  assert.equal(store.read('big.x', 0, 10).map((e) => e.seq), [2]);
  assert.ok(store.bytes > 1000);
  put(3, 10);
  assert.equal(store.read('big.x', 0, 10).map((e) => e.seq), [3]);
  assert.ok(store.bytes <= 1000);
  assert.ok(store.trimmedAfter('big.x', 1));
});

test('the estimate walks nested, shared and cyclic data without recursion, counting each object once', () => {
  const base = { id: 'x', topic: 't', source: 's', time: '' };
  const shared = { text: 'q'.repeat(1000) };
  const once = estimateEventBytes({ ...base, data: [shared] });
  const twice = estimateEventBytes({ ...base, data: [shared, shared] });
  assert.ok(twice - once < 100, 'a shared object counts once');
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic['self'] = cyclic;
  assert.ok(estimateEventBytes({ ...base, data: cyclic }) > 0);
  let deep: unknown = 'leaf';
  for (let i = 0; i < 1_000_000; i++) deep = [deep];
  assert.ok(estimateEventBytes({ ...base, data: deep }) > 1_000_000 * 8);
  assert.ok(estimateEventBytes({ ...base, data: 'w'.repeat(1_000_000) }) >= 1_000_000);
});

test.run();
