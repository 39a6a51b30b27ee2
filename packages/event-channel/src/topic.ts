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
  invalid_capture: 'uses "{" or "}" other than as a whole-segment capture "{name}" (a letter or "_", then letters, digits or "_")',
  duplicate_capture: 'names the same capture twice',
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

// ---------------------------------------------------------------------------
// Captures: `order.{id}.shipped` is `order.*.shipped` whose `*` segment is
// handed to the handler as `params.id`. Only the APIs that take a pattern from
// code (a channel's on/once/subscribe) read them; what travels, what tries and
// transports match, is always the plain `*` pattern.

/** A pattern with its captures read: `pattern` is what transports and tries see. */
export interface ParsedPattern {
  /** The pattern with every `{name}` segment as `*`. */
  readonly pattern: string;
  /** Per segment, the capture it names (absent when the pattern has none). */
  readonly captures?: readonly (string | undefined)[];
}

const CAPTURE = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * Reads `{name}` segments of a pattern given to an API (a one-segment
 * wildcard whose value is captured) and checks the rest as {@link assertPattern}
 * does. Throws a {@link TopicError} (`invalid_pattern`): `invalid_capture` for
 * braces that are not a whole `{name}` segment, `duplicate_capture` for a name
 * used twice. A pattern without braces costs one `indexOf`.
 */
export function parsePattern(text: unknown, limits: TopicLimits = topicLimitDefaults): ParsedPattern {
  if (typeof text !== 'string' || (text.indexOf('{') < 0 && text.indexOf('}') < 0)) {
    assertPattern(text, limits);
    return { pattern: text };
  }
  const segments = text.split('.');
  const captures: (string | undefined)[] = [];
  const seen = new Set<string>();
  for (let index = 0; index < segments.length; index++) {
    const segment = segments[index]!;
    if (segment.indexOf('{') < 0 && segment.indexOf('}') < 0) {
      captures.push(undefined);
      continue;
    }
    const name = CAPTURE.exec(segment)?.[1];
    if (name === undefined) throw topicError('invalid_pattern', text, 'invalid_capture', limits);
    if (seen.has(name)) throw topicError('invalid_pattern', text, 'duplicate_capture', limits);
    seen.add(name);
    captures.push(name);
    segments[index] = '*';
  }
  const pattern = segments.join('.');
  // Length and segment limits count the pattern as written.
  const problem = findTopicProblem(text.length > limits.maxLength ? text : pattern, 'pattern', limits);
  if (problem) throw topicError('invalid_pattern', text, problem, limits);
  return { pattern, captures };
}

/**
 * The captured segments of `topic`, a topic `parsed` matches, by name:
 * `order.{id}.#` and `order.7.shipped` → `{ id: '7' }`. Plain data
 * (`Object.fromEntries`: a capture named `__proto__` is an own field).
 */
export function captureParams(captures: readonly (string | undefined)[], topic: string): Readonly<Record<string, string>> {
  const segments = topic.split('.');
  const entries: [string, string][] = [];
  for (let index = 0; index < captures.length; index++) {
    const name = captures[index];
    if (name !== undefined) entries.push([name, segments[index]!]);
  }
  return Object.fromEntries(entries);
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

// Captures at the type level: `on('order.{id}.shipped', (data, event) => event.params.id)`.

type NormaliseSegments<TSegments extends readonly string[]> = TSegments extends readonly [
  infer Head extends string,
  ...infer Rest extends string[],
]
  ? [Head extends `{${string}}` ? '*' : Head, ...NormaliseSegments<Rest>]
  : [];

type JoinSegments<TSegments extends readonly string[]> = TSegments extends readonly [infer Only extends string]
  ? Only
  : TSegments extends readonly [infer Head extends string, ...infer Rest extends string[]]
    ? `${Head}.${JoinSegments<Rest>}`
    : '';

/** `'order.{id}.shipped'` → `'order.*.shipped'`: the pattern a capture pattern matches as. */
export type NormalisePattern<TPattern extends string> = string extends TPattern
  ? string
  : TPattern extends `${string}{${string}`
    ? JoinSegments<NormaliseSegments<TopicSegments<TPattern>>>
    : TPattern;

type CaptureNames<TSegments extends readonly string[]> = TSegments extends readonly [
  infer Head extends string,
  ...infer Rest extends string[],
]
  ? Head extends `{${infer Name}}`
    ? [Name, ...CaptureNames<Rest>]
    : CaptureNames<Rest>
  : [];

type FirstRepeated<TNames extends readonly string[]> = TNames extends readonly [
  infer Head extends string,
  ...infer Rest extends string[],
]
  ? Head extends Rest[number]
    ? Head
    : FirstRepeated<Rest>
  : never;

/** The names a pattern captures, as a union (`never` when none). */
export type CaptureName<TPattern extends string> = CaptureNames<TopicSegments<TPattern>>[number];

/** The capture name `TPattern` uses twice, else `never`. */
export type DuplicateCapture<TPattern extends string> = FirstRepeated<CaptureNames<TopicSegments<TPattern>>>;

/** `'tenant.{tenant}.order.{id}.#'` → `{ readonly tenant: string; readonly id: string }`. */
export type PatternParams<TPattern extends string> = string extends TPattern
  ? Readonly<Record<string, string>>
  : { readonly [K in CaptureName<TPattern>]: string };

/**
 * What an event (or a hook's context) gains from the pattern it came
 * through: `{ params }` with exactly its capture names, nothing for a pattern
 * without captures, optional `params` for a pattern only known as `string`.
 */
export type PatternCaptures<TPattern extends string> = string extends TPattern
  ? { readonly params?: Readonly<Record<string, string>> }
  : [CaptureName<TPattern>] extends [never]
    ? unknown
    : { readonly params: PatternParams<TPattern> };
