import { TopicError, type TopicProblem } from './errors.js';

/**
 * Topic rules, shared by every channel, transport and the broker:
 *
 * - A topic is dot-separated segments: `order.created`, `log.error.payments`.
 * - A pattern may use `*` for exactly one segment and, as its last segment
 *   only, `#` for zero or more segments: `order.*`, `log.#`, `#`.
 *   `events.#` therefore matches `events`, `events.order` and `events.order.created`.
 * - Segments are non-empty and hold no whitespace, control characters, `*`, `#`
 *   or `>` (`>` is NATS's wildcard; refusing it keeps topics mappable 1:1 onto
 *   NATS subjects).
 */

/** Bounds on topics; both keep trie walks and wire frames small. */
export interface TopicLimits {
  /**
   * Longest topic or pattern, in UTF-16 code units.
   * @default 255
   */
  readonly maxLength: number;
  /**
   * Most segments in a topic or pattern; bounds the trie's depth.
   * @default 32
   */
  readonly maxSegments: number;
}

/** The default {@link TopicLimits}. */
export const topicLimitDefaults: TopicLimits = { maxLength: 255, maxSegments: 32 };

const DOT = 0x2e;
const STAR = 0x2a;
const HASH = 0x23;
const GREATER = 0x3e;

/**
 * Returns why `text` is not a valid topic (`kind: 'topic'`) or pattern
 * (`kind: 'pattern'`), or `undefined` when it is valid. One pass, no allocation.
 */
export function findTopicProblem(
  text: unknown,
  kind: 'topic' | 'pattern',
  limits: TopicLimits = topicLimitDefaults,
): TopicProblem | undefined {
  if (typeof text !== 'string') return 'not_a_string';
  if (text.length === 0) return 'empty';
  if (text.length > limits.maxLength) return 'too_long';
  let segments = 1;
  let segmentStart = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i < text.length ? text.charCodeAt(i) : DOT;
    if (code === DOT) {
      const length = i - segmentStart;
      if (length === 0) return 'empty_segment';
      const first = text.charCodeAt(segmentStart);
      if (first === STAR || first === HASH) {
        if (kind === 'topic') return 'wildcard_in_topic';
        if (length > 1) return 'partial_wildcard';
        if (first === HASH && i !== text.length) return 'hash_not_last';
      }
      if (i < text.length && ++segments > limits.maxSegments) return 'too_many_segments';
      segmentStart = i + 1;
      continue;
    }
    if (code === STAR || code === HASH) {
      if (kind === 'topic') return 'wildcard_in_topic';
      // A wildcard must be the whole segment: `ord*` or `a#` mean nothing here.
      if (i !== segmentStart) return 'partial_wildcard';
      continue;
    }
    if (code <= 0x20 || code === 0x7f || code === GREATER || isUnicodeSpace(code)) {
      return 'invalid_character';
    }
  }
  return undefined;
}

function isUnicodeSpace(code: number): boolean {
  return (
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

const problemText: Record<TopicProblem, string> = {
  not_a_string: 'must be a string',
  empty: 'must not be empty',
  too_long: 'is longer than the limit',
  too_many_segments: 'has more segments than the limit',
  empty_segment: 'has an empty segment (leading, trailing or doubled ".")',
  invalid_character: 'contains whitespace, a control character or ">"',
  wildcard_in_topic: 'contains a wildcard; only subscription patterns may use "*" or "#"',
  partial_wildcard: 'uses "*" or "#" inside a segment; a wildcard must be a whole segment',
  hash_not_last: 'uses "#" before the last segment',
};

/** Throws a {@link TopicError} (`invalid_topic`) unless `topic` is a concrete topic. */
export function assertTopic(
  topic: unknown,
  limits: TopicLimits = topicLimitDefaults,
): asserts topic is string {
  const problem = findTopicProblem(topic, 'topic', limits);
  if (problem) throw topicError('invalid_topic', topic, problem, limits);
}

/** Throws a {@link TopicError} (`invalid_pattern`) unless `pattern` is a valid pattern. */
export function assertPattern(
  pattern: unknown,
  limits: TopicLimits = topicLimitDefaults,
): asserts pattern is string {
  const problem = findTopicProblem(pattern, 'pattern', limits);
  if (problem) throw topicError('invalid_pattern', pattern, problem, limits);
}

function topicError(
  code: 'invalid_topic' | 'invalid_pattern',
  text: unknown,
  problem: TopicProblem,
  limits: TopicLimits,
): TopicError {
  const shown = typeof text === 'string' ? text : String(text);
  const limit =
    problem === 'too_long'
      ? ` (${shown.length} > ${limits.maxLength})`
      : problem === 'too_many_segments'
        ? ` (max ${limits.maxSegments})`
        : '';
  const label = code === 'invalid_topic' ? 'Topic' : 'Pattern';
  const preview = shown.length > 80 ? `${shown.slice(0, 77)}...` : shown;
  return new TopicError(code, shown, problem, `${label} "${preview}" ${problemText[problem]}${limit}`);
}

/** True when `pattern` contains a wildcard segment. */
export function isWildcardPattern(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('#');
}

/**
 * Does `topic` match `pattern`? The plain reference definition: the trie must
 * agree with it (see the property test), and it is the one to read for the rules.
 * Inputs are assumed valid.
 */
export function topicMatches(pattern: string, topic: string): boolean {
  return segmentsMatch(pattern.split('.'), 0, topic.split('.'), 0);
}

function segmentsMatch(pattern: string[], p: number, topic: string[], t: number): boolean {
  if (p === pattern.length) return t === topic.length;
  const segment = pattern[p];
  if (segment === '#') return true;
  if (t === topic.length) return false;
  if (segment !== '*' && segment !== topic[t]) return false;
  return segmentsMatch(pattern, p + 1, topic, t + 1);
}

/**
 * Does `outer` cover `inner`: does every topic matching `inner` also match
 * `outer`? (`inventory.#` covers `inventory.*.low` and `inventory`; `order.*`
 * does not cover `order.#`.) What a subscribe permission needs: a grant of
 * `outer` allows subscribing `inner`. Inputs are assumed valid.
 */
export function patternCovers(outer: string, inner: string): boolean {
  // A topic has at least one segment, so a lone '#' is "one or more", which '*.#' covers too.
  if (inner === '#') return outer === '#' || outer === '*.#';
  return segmentsCover(outer.split('.'), 0, inner.split('.'), 0);
}

function segmentsCover(outer: string[], o: number, inner: string[], i: number): boolean {
  if (outer[o] === '#') return true; // whatever inner still matches, '#' does too
  if (o === outer.length) return i === inner.length;
  if (i === inner.length) return false; // outer still needs a segment (a lone '#' was handled above)
  const segment = inner[i];
  if (segment === '#') return false; // inner reaches deeper than any outer without '#'
  if (outer[o] !== '*' && outer[o] !== segment) return false; // covers a literal, or '*' by '*' only
  return segmentsCover(outer, o + 1, inner, i + 1);
}

// ---------------------------------------------------------------------------
// The same rules at the type level, so `on('order.*')` knows which events it gets.

/** `'a.b.c'` → `['a', 'b', 'c']`. */
export type TopicSegments<TText extends string> = TText extends `${infer Head}.${infer Rest}`
  ? [Head, ...TopicSegments<Rest>]
  : [TText];

type SegmentsMatch<
  TTopic extends readonly string[],
  TPattern extends readonly string[],
> = TPattern extends readonly ['#']
  ? true
  : TPattern extends readonly [infer PHead extends string, ...infer PRest extends string[]]
    ? TTopic extends readonly [infer THead extends string, ...infer TRest extends string[]]
      ? PHead extends '*'
        ? THead extends '' // a segment is never empty
          ? false
          : SegmentsMatch<TRest, PRest>
        : [PHead] extends [THead]
          ? SegmentsMatch<TRest, PRest>
          : false
      : false
    : TTopic extends readonly []
      ? true
      : false;

/** `true` when the literal topic `TTopic` matches the literal pattern `TPattern`. */
export type TopicMatchesPattern<TTopic extends string, TPattern extends string> = SegmentsMatch<
  TopicSegments<TTopic>,
  TopicSegments<TPattern>
>;

/**
 * The members of the union `TTopics` that `TPattern` matches. A non-literal
 * pattern (`string`) could match anything, so it yields all of them; an
 * untyped topic set (`string`) stays `string`.
 */
export type MatchingTopics<TTopics extends string, TPattern extends string> = string extends TTopics
  ? TTopics
  : string extends TPattern
    ? TTopics
    : TTopics extends unknown
      ? TopicMatchesPattern<TTopics, TPattern> extends true
        ? TTopics
        : never
      : never;
