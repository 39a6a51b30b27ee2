// Which topics keep history, and for how long: the broker's `history` option
// (and a MemoryHub's, so memory:// keeps the same semantics).
import { findTopicProblem, parsePattern } from '../topic.js';
import { TopicTrie } from '../topic-trie.js';
import type { HistoryRetention } from './store.js';

/** One `history` entry: topics matching `pattern` are stored. */
export interface HistoryRule {
  readonly pattern: string;
  /** Most events kept per topic. @default 1000 */
  readonly maxEvents?: number;
  /** Longest an event is kept, in milliseconds. @default 86_400_000 (24 h) */
  readonly maxAgeMs?: number;
}

/** Defaults of {@link HistoryRule}. */
export const historyRuleDefaults = { maxEvents: 1000, maxAgeMs: 86_400_000 } as const;

/**
 * The compiled rules. A topic takes the retention of the first rule (in the
 * order given) that matches it. Lookups are cached per topic (bounded), since
 * the broker asks on every publish.
 */
export class HistoryRules {
  readonly rules: readonly (HistoryRetention & { readonly pattern: string })[];
  readonly #trie = new TopicTrie<number>();
  readonly #cache = new Map<string, HistoryRetention | null>();
  /**
   * The cached topics in the order cached, a ring: the oldest is evicted in
   * constant time (taking the Map's first key would skip every slot deleted
   * before it, more work with every miss until the Map rehashes).
   */
  readonly #cached: string[] = [];
  #next = 0;

  constructor(rules: readonly HistoryRule[]) {
    this.rules = rules.map((rule, index) => {
      // A `{name}` capture keeps history as the `*` it stands for.
      const { pattern } = parsePattern(rule.pattern);
      this.#trie.add(pattern, index);
      return {
        pattern,
        maxEvents: rule.maxEvents ?? historyRuleDefaults.maxEvents,
        maxAgeMs: rule.maxAgeMs ?? historyRuleDefaults.maxAgeMs,
      };
    });
  }

  /** The retention for a concrete topic, or undefined when it keeps no history. */
  retentionFor(topic: string): HistoryRetention | undefined {
    const cached = this.#cache.get(topic);
    if (cached !== undefined) return cached ?? undefined;
    let first: number | undefined;
    this.#trie.forEachMatch(topic, (index) => {
      if (first === undefined || index < first) first = index;
    });
    const retention = first === undefined ? null : this.rules[first]!;
    if (this.#cached.length < CACHE_SIZE) this.#cached.push(topic);
    else {
      this.#cache.delete(this.#cached[this.#next]!);
      this.#cached[this.#next] = topic;
      this.#next = (this.#next + 1) % CACHE_SIZE;
    }
    this.#cache.set(topic, retention);
    return retention ?? undefined;
  }

  /** Whether some topic matching `pattern` keeps history (so a `since` can be served). */
  covers(pattern: string): boolean {
    return this.rules.some((rule) => patternsOverlap(rule.pattern, pattern));
  }
}

const CACHE_SIZE = 4096;

/** True when some topic matches both patterns. */
export function patternsOverlap(a: string, b: string): boolean {
  if (findTopicProblem(a, 'pattern') || findTopicProblem(b, 'pattern')) return false;
  return overlap(a.split('.'), 0, b.split('.'), 0);
}

function overlap(a: string[], i: number, b: string[], j: number): boolean {
  if (a[i] === '#' || b[j] === '#') return true; // '#' also matches zero segments
  if (i === a.length || j === b.length) return i === a.length && j === b.length;
  if (a[i] !== '*' && b[j] !== '*' && a[i] !== b[j]) return false;
  return overlap(a, i + 1, b, j + 1);
}
