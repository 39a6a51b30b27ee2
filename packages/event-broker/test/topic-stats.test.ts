// Per-topic counters stay bounded, and the bound forgets the topics nobody
// publishes to rather than the busy ones.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TopicStats } from '../src/topic-stats.js';

test('counts publishes per topic and remembers the first and last time', () => {
  const stats = new TopicStats(10);
  stats.record('a.b', 1000);
  stats.record('a.b', 2000);
  stats.record('c', 1500);
  assert.equal(stats.get('a.b'), { topic: 'a.b', messages: 2, lastPublishedAt: 2000, firstPublishedAt: 1000 });
  assert.equal(stats.get('c'), { topic: 'c', messages: 1, lastPublishedAt: 1500, firstPublishedAt: 1500 });
  assert.is(stats.get('missing'), undefined);
  assert.equal(stats.list().map((record) => record.topic).sort(), ['a.b', 'c']);
});

test('never holds more than its capacity, however many topics arrive', () => {
  const stats = new TopicStats(100);
  for (let i = 0; i < 10_000; i++) stats.record(`random.${i}`);
  assert.is(stats.size, 100);
  assert.is(stats.list().length, 100);
});

test('a topic published to again survives a flood of new ones; a silent one does not', () => {
  const stats = new TopicStats(4);
  stats.record('busy');
  stats.record('silent');
  for (let i = 0; i < 50; i++) {
    stats.record('busy');
    stats.record(`new.${i}`);
  }
  assert.ok(stats.get('busy'), 'busy topic was evicted');
  assert.is(stats.get('busy')!.messages, 51);
  assert.is(stats.get('silent'), undefined);
  assert.is(stats.size, 4);
});

test.run();
