import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  TopicError,
  assertPattern,
  assertTopic,
  captureParams,
  findTopicProblem,
  parsePattern,
  patternCovers,
  topicMatches,
  type TopicProblem,
} from '../src/index.js';
import { matchCases } from './fixtures/topic-cases.js';

// Case tables. To extend: add a row; the same rules are pinned at the type
// level in types.test-d.ts and for the trie in topic-trie.test.ts.

const validTopics = ['a', 'order.created', 'log.error.payments', 'a-b_c:d@e', 'ünïcode.tópic', 'x'.repeat(255)];
const validPatterns = ['#', '*', 'order.*', 'order.#', '*.created', '*.*.#', 'a.*.c.#', ...validTopics];

const invalidTopics: Array<[unknown, TopicProblem]> = [
  ['', 'empty'],
  [42, 'not_a_string'],
  [undefined, 'not_a_string'],
  ['.a', 'empty_segment'],
  ['a.', 'empty_segment'],
  ['a..b', 'empty_segment'],
  ['a b', 'invalid_character'],
  ['a\tb', 'invalid_character'],
  ['a\u00a0b', 'invalid_character'],
  ['a.>', 'invalid_character'],
  ['a\u0000', 'invalid_character'],
  ['order.*', 'wildcard_in_topic'],
  ['order.#', 'wildcard_in_topic'],
  ['ord*er', 'wildcard_in_topic'],
  ['x'.repeat(256), 'too_long'],
  [Array.from({ length: 33 }, () => 'a').join('.'), 'too_many_segments'],
];

const invalidPatterns: Array<[unknown, TopicProblem]> = [
  ['', 'empty'],
  [null, 'not_a_string'],
  ['a..#', 'empty_segment'],
  ['a.#.b', 'hash_not_last'],
  ['#.a', 'hash_not_last'],
  ['ord*', 'partial_wildcard'],
  ['*a', 'partial_wildcard'],
  ['a.b#', 'partial_wildcard'],
  ['##', 'partial_wildcard'],
  ['a.**', 'partial_wildcard'],
  ['a b.*', 'invalid_character'],
  ['x'.repeat(256), 'too_long'],
];

const test = suite('topic rules');

test('accepts valid topics and patterns', () => {
  for (const topic of validTopics) {
    assert.is(findTopicProblem(topic, 'topic'), undefined, topic);
    assertTopic(topic);
  }
  for (const pattern of validPatterns) {
    assert.is(findTopicProblem(pattern, 'pattern'), undefined, pattern);
    assertPattern(pattern);
  }
});

test('names the problem of each invalid topic', () => {
  for (const [topic, problem] of invalidTopics) {
    assert.is(findTopicProblem(topic, 'topic'), problem, String(topic));
    try {
      assertTopic(topic);
      assert.unreachable(`accepted ${String(topic)}`);
    } catch (error) {
      assert.instance(error, TopicError);
      assert.is((error as TopicError).code, 'invalid_topic');
      assert.is((error as TopicError).problem, problem);
    }
  }
});

test('names the problem of each invalid pattern', () => {
  for (const [pattern, problem] of invalidPatterns) {
    assert.is(findTopicProblem(pattern, 'pattern'), problem, String(pattern));
    try {
      assertPattern(pattern);
      assert.unreachable(`accepted ${String(pattern)}`);
    } catch (error) {
      assert.instance(error, TopicError);
      assert.is((error as TopicError).code, 'invalid_pattern');
      assert.is((error as TopicError).problem, problem);
    }
  }
});

test('limits are configurable', () => {
  const limits = { maxLength: 5, maxSegments: 2 };
  assert.is(findTopicProblem('abcdef', 'topic', limits), 'too_long');
  assert.is(findTopicProblem('a.b.c', 'topic', limits), 'too_many_segments');
  assert.is(findTopicProblem('a.b', 'topic', limits), undefined);
  assert.is(findTopicProblem(Array(32).fill('a').join('.'), 'topic'), undefined);
});

test('the reference matcher follows the case table', () => {
  for (const [pattern, topic, expected] of matchCases) {
    assert.is(topicMatches(pattern, topic), expected, `${pattern} vs ${topic}`);
  }
});

test('patternCovers agrees with the matcher on every small pattern pair (coverage means: every topic of inner matches outer)', () => {
  // Every pattern of up to 3 segments over {a, b, *} with or without a
  // trailing '#', checked against every topic of up to 5 segments over
  // {a, b, c}: deep enough that a '#' always has a topic beyond the others.
  const heads: string[][] = [[]];
  for (let length = 1; length <= 3; length++) {
    for (const head of heads.filter((h) => h.length === length - 1)) for (const s of ['a', 'b', '*']) heads.push([...head, s]);
  }
  const patterns = heads.flatMap((head) => [head.join('.'), [...head, '#'].join('.')]).filter((p) => p !== '');
  const topics: string[] = [];
  let level = [''];
  for (let length = 1; length <= 5; length++) {
    level = level.flatMap((prefix) => ['a', 'b', 'c'].map((s) => (prefix ? `${prefix}.${s}` : s)));
    topics.push(...level);
  }
  let covered = 0;
  for (const outer of patterns) {
    for (const inner of patterns) {
      const expected = topics.every((topic) => !topicMatches(inner, topic) || topicMatches(outer, topic));
      assert.is(patternCovers(outer, inner), expected, `${outer} covers ${inner}`);
      if (expected) covered++;
    }
  }
  assert.ok(covered > patterns.length, 'the table has non-trivial coverings');
  assert.ok(patternCovers('inventory.#', 'inventory.*.low'));
  assert.ok(patternCovers('inventory.#', 'inventory'));
  assert.not.ok(patternCovers('order.*', 'order.#'));
  assert.not.ok(patternCovers('order.#', '#'));
});

// --- captures ------------------------------------------------------------------

test('parsePattern reads {name} segments as * and keeps their names by position', () => {
  assert.equal(parsePattern('order.{id}.shipped'), { pattern: 'order.*.shipped', captures: [undefined, 'id', undefined] });
  assert.equal(parsePattern('{tenant}.order.{_id2}.#'), { pattern: '*.order.*.#', captures: ['tenant', undefined, '_id2', undefined] });
  // No braces: the pattern as given, no captures.
  assert.equal(parsePattern('order.*.#'), { pattern: 'order.*.#' });
  assert.equal(captureParams(['tenant', undefined, 'id', undefined], 't1.order.o7.paid.late'), { tenant: 't1', id: 'o7' });
});

test('a capture named __proto__ is an own field of params, not the prototype', () => {
  const { captures } = parsePattern('a.{__proto__}');
  const params = captureParams(captures!, 'a.x');
  assert.ok(Object.hasOwn(params, '__proto__'));
  assert.is(Object.getPrototypeOf(params), Object.prototype);
  assert.is(Object.getOwnPropertyDescriptor(params, '__proto__')?.value, 'x');
});

test('parsePattern refuses braces that are not a whole {name} segment, repeated names, and what assertPattern refuses', () => {
  const cases: Array<[string, TopicProblem]> = [
    ['a.{x', 'invalid_capture'],
    ['a.x}', 'invalid_capture'],
    ['a.b{x}', 'invalid_capture'],
    ['a.{x}b', 'invalid_capture'],
    ['a.{}', 'invalid_capture'],
    ['a.{1x}', 'invalid_capture'],
    ['a.{x-y}', 'invalid_capture'],
    ['a.{{x}}', 'invalid_capture'],
    ['a.{x}.{x}', 'duplicate_capture'],
    ['{x}.b.{y}.{x}.#', 'duplicate_capture'],
    ['a.{x}.#.b', 'hash_not_last'],
    ['a..{x}', 'empty_segment'],
    ['a.{x}.*b', 'partial_wildcard'],
    [`a.{${'x'.repeat(260)}}`, 'too_long'],
    [Array.from({ length: 33 }, (_, i) => `{c${i}}`).join('.'), 'too_many_segments'],
  ];
  for (const [pattern, problem] of cases) {
    try {
      parsePattern(pattern);
      assert.unreachable(`${pattern} was accepted`);
    } catch (error) {
      assert.instance(error, TopicError, pattern);
      assert.equal([(error as TopicError).code, (error as TopicError).problem], ['invalid_pattern', problem], pattern);
    }
  }
  // The written pattern counts against the length limit, not the shorter * form.
  const long = `a.{${'x'.repeat(253)}}`;
  assert.is(findTopicProblem('a.*', 'pattern'), undefined);
  assert.throws(() => parsePattern(long), (error: TopicError) => error.problem === 'too_long');
});

test('captures match as * and capture exactly the segments they stand for (generated)', () => {
  const segment = fc.stringMatching(/^[a-z0-9]{1,3}$/);
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }), fc.boolean(), (topicSegments, capture, hash) => {
      const topic = topicSegments.join('.');
      const kept = hash ? topicSegments.slice(0, Math.max(1, topicSegments.length - 1)) : topicSegments;
      const written = kept.map((part, index) => (capture[index] ? `{c${index}}` : part));
      const text = hash ? `${written.join('.')}.#` : written.join('.');
      const parsed = parsePattern(text);
      const star = (hash ? [...kept.map((part, index) => (capture[index] ? '*' : part)), '#'] : kept.map((part, index) => (capture[index] ? '*' : part))).join('.');
      assert.is(parsed.pattern, star);
      assert.ok(topicMatches(parsed.pattern, topic), `${text} matches ${topic}`);
      const expected = Object.fromEntries(kept.flatMap((part, index) => (capture[index] ? [[`c${index}`, part]] : [])));
      assert.equal(parsed.captures ? captureParams(parsed.captures, topic) : {}, expected);
    }),
    { numRuns: 500, seed: 36 },
  );
});

test.run();
