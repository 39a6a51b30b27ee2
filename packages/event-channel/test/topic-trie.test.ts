import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { TopicTrie, topicMatches } from '../src/index.js';
import { matchCases } from './fixtures/topic-cases.js';

const test = suite('topic trie');

test('agrees with the case table', () => {
  for (const [pattern, topic, expected] of matchCases) {
    const trie = new TopicTrie<string>();
    trie.add(pattern, pattern);
    assert.is(trie.matchValues(topic).has(pattern), expected, `${pattern} vs ${topic}`);
    assert.is(trie.hasMatch(topic), expected, `hasMatch ${pattern} vs ${topic}`);
  }
});

test('returns every matching value once, across overlapping patterns', () => {
  const trie = new TopicTrie<string>();
  trie.add('a.#', 'conn1');
  trie.add('a.*', 'conn1');
  trie.add('a.b', 'conn2');
  trie.add('#', 'conn3');
  trie.add('x.*', 'conn4');
  assert.equal([...trie.matchValues('a.b')].sort(), ['conn1', 'conn2', 'conn3']);
  const visits: string[] = [];
  trie.forEachMatch('a.b', (value) => visits.push(value));
  assert.equal(visits.sort(), ['conn1', 'conn1', 'conn2', 'conn3']);
});

test('add is idempotent per pair; remove prunes and reports presence', () => {
  const trie = new TopicTrie<number>();
  assert.ok(trie.add('a.*.c', 1));
  assert.not.ok(trie.add('a.*.c', 1));
  assert.ok(trie.add('a.*.c', 2));
  assert.is(trie.size, 2);
  assert.not.ok(trie.remove('a.*.d', 1));
  assert.not.ok(trie.remove('a.*.c', 3));
  assert.ok(trie.remove('a.*.c', 1));
  assert.equal([...trie.matchValues('a.b.c')], [2]);
  assert.ok(trie.remove('a.*.c', 2));
  assert.is(trie.size, 0);
  assert.not.ok(trie.hasMatch('a.b.c'));
});

test('removing one pattern leaves a sibling branch intact', () => {
  const trie = new TopicTrie<string>();
  trie.add('a.b.c', 'deep');
  trie.add('a.b', 'shallow');
  trie.add('a.#', 'hash');
  trie.remove('a.b.c', 'deep');
  assert.equal([...trie.matchValues('a.b')].sort(), ['hash', 'shallow']);
  trie.remove('a.b', 'shallow');
  assert.equal([...trie.matchValues('a.b.c')], ['hash']);
});

// Small alphabets make collisions (and so real matches) common.
const segment = fc.constantFrom('a', 'b', 'c');
const topicArb = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('.'));
const patternArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', 'c', '*'), { minLength: 0, maxLength: 5 }), fc.boolean())
  .filter(([segments, hash]) => segments.length > 0 || hash)
  .map(([segments, hash]) => [...segments, ...(hash ? ['#'] : [])].join('.'));

test('property: the trie agrees with the reference matcher on random patterns and topics', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(patternArb, { minLength: 1, maxLength: 30 }),
      fc.array(topicArb, { minLength: 1, maxLength: 20 }),
      (patterns, topics) => {
        const trie = new TopicTrie<string>();
        for (const pattern of patterns) trie.add(pattern, pattern);
        for (const topic of topics) {
          const expected = patterns.filter((p) => topicMatches(p, topic)).sort();
          assert.equal([...trie.matchValues(topic)].sort(), expected, topic);
          assert.is(trie.hasMatch(topic), expected.length > 0);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('property: after removing a random subset, only the rest match', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(patternArb, { minLength: 1, maxLength: 30 }),
      fc.array(fc.boolean(), { minLength: 30, maxLength: 30 }),
      fc.array(topicArb, { minLength: 1, maxLength: 10 }),
      (patterns, removeMask, topics) => {
        const trie = new TopicTrie<string>();
        for (const pattern of patterns) trie.add(pattern, pattern);
        const kept = patterns.filter((pattern, i) => !(removeMask[i] && trie.remove(pattern, pattern)));
        assert.is(trie.size, kept.length);
        for (const topic of topics) {
          const expected = kept.filter((p) => topicMatches(p, topic)).sort();
          assert.equal([...trie.matchValues(topic)].sort(), expected);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test.run();
