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

test.run();
