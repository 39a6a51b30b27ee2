import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryHistoryStore } from '../src/protocol/index.js';
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

test.run();
