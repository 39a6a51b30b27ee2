import { EventwireError, TopicTrie, type EventEnvelope, type GapReason } from '@eventwire/event-channel';
import { channelKind } from './auth/channels.js';

/** Anything that can receive routed events: a native session, a Synap socket… */
export interface Subscriber {
  /** Stable id for stats and logs. */
  readonly id: string;
  /** Called once per routed event, however many of its patterns match. Must not throw. */
  deliver(event: RoutedEvent): void;
  /**
   * Tells the client that events on `pattern` (one it holds) may have been
   * missed: the broker's cluster engine lost its subscription meanwhile.
   * Absent on surfaces whose protocol has no gap (Synap, Pusher,
   * broadcasting): the broker counts and logs those instead. Must not throw.
   */
  gap?(pattern: string, reason: GapReason): void;
}

/** See {@link Router.watchInterest}. */
export type InterestListener = (pattern: string, interested: boolean) => void;

/**
 * One published event on its way out. Each surface encodes it at most once,
 * whatever the number of its subscribers: the cost of a publish is one encode
 * per surface plus one socket write per subscriber.
 */
export class RoutedEvent {
  readonly envelope: EventEnvelope;
  // Most events reach one surface: its encoder and result sit in fields, and
  // a Map is built only for a second one (no arrays per publish).
  #encoder: ((envelope: EventEnvelope) => unknown) | undefined;
  #result: unknown;
  #others: Map<(envelope: EventEnvelope) => unknown, unknown> | undefined;

  constructor(envelope: EventEnvelope) {
    this.envelope = envelope;
  }

  /** `encode(envelope)`, computed on first use per encoder and reused. */
  encoded<T>(encode: (envelope: EventEnvelope) => T): T {
    // Each encoder's own result is kept beside it, so it has that encoder's type.
    if (this.#encoder === encode) return this.#result as T;
    if (this.#encoder === undefined) {
      const result = encode(this.envelope);
      this.#encoder = encode;
      this.#result = result;
      return result;
    }
    const others = (this.#others ??= new Map());
    if (others.has(encode)) return others.get(encode) as T;
    const result = encode(this.envelope);
    others.set(encode, result);
    return result;
  }
}

/** Options of a {@link Router}. */
export interface RouterOptions {
  /**
   * How many concrete topics keep their matched subscribers cached in front of
   * the trie. Bounded because topics are chosen by clients: past it the
   * oldest cached topic is forgotten.
   * @default 10_000
   */
  readonly matchCacheTopics?: number;
}

export const routerDefaults = {
  matchCacheTopics: 10_000,
} as const satisfies Required<RouterOptions>;

/** Who a topic reaches, as of one subscription generation. */
interface CachedMatch {
  readonly generation: number;
  /** Never mutated once cached: a route in progress may still iterate it. */
  readonly targets: readonly Subscriber[];
}

/**
 * Subscriptions of every surface in one trie. Knows nothing about sockets or
 * protocols: surfaces subscribe `Subscriber`s and the core routes envelopes.
 *
 * In front of the trie sits a per-topic match cache (as nats-server keeps one
 * in front of its sublist): a publish to a topic seen since the last
 * subscription change is one Map lookup instead of a trie walk, a `split`, a
 * Set and a closure (issue #35; bench/RESULTS.md). Any subscribe, unsubscribe
 * or removal that changes the trie bumps a generation number, and an entry of
 * an older generation is recomputed when next used, so churn costs nothing
 * until a topic is published to again.
 */
export class Router {
  readonly #trie = new TopicTrie<Subscriber>();
  readonly #matches = new Map<string, CachedMatch>();
  readonly #matchCacheTopics: number;
  #generation = 0;
  // One pattern (the usual case) is kept as a bare string; a Set from the second.
  readonly #patterns = new Map<Subscriber, string | Set<string>>();
  /** Subscribers per distinct pattern, kept only while someone watches interest (a cluster link, Pusher webhooks). */
  #interest: { readonly counts: Map<string, number>; readonly listeners: InterestListener[] } | undefined;

  constructor(options: RouterOptions = {}) {
    const capacity = options.matchCacheTopics ?? routerDefaults.matchCacheTopics;
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new EventwireError('invalid_config', `matchCacheTopics must be a non-negative integer, got ${String(capacity)}`);
    }
    this.#matchCacheTopics = capacity;
  }

  /**
   * Calls `listener(pattern, true)` when a pattern gets its first subscriber
   * and `(pattern, false)` when it loses its last: what a cluster link
   * subscribes to upstream, and what makes a Pusher channel occupied.
   * Patterns held now are reported at once. Several may watch.
   */
  watchInterest(listener: InterestListener): void {
    if (!this.#interest) {
      const counts = new Map<string, number>();
      for (const subscriber of this.#patterns.keys()) {
        for (const pattern of this.#patternsOf(subscriber)) counts.set(pattern, (counts.get(pattern) ?? 0) + 1);
      }
      this.#interest = { counts, listeners: [] };
    }
    this.#interest.listeners.push(listener);
    for (const pattern of this.#interest.counts.keys()) listener(pattern, true);
  }

  /** Adds a pattern for a subscriber; false when it already had it. */
  subscribe(subscriber: Subscriber, pattern: string): boolean {
    const held = this.#patterns.get(subscriber);
    if (held === undefined) this.#patterns.set(subscriber, pattern);
    else if (typeof held === 'string') {
      if (held === pattern) return false;
      this.#patterns.set(subscriber, new Set([held, pattern]));
    } else {
      if (held.has(pattern)) return false;
      held.add(pattern);
    }
    this.#trie.add(pattern, subscriber);
    this.#generation++;
    if (this.#interest) this.#countInterest(pattern, 1);
    return true;
  }

  /** Removes one pattern; false when the subscriber did not have it. */
  unsubscribe(subscriber: Subscriber, pattern: string): boolean {
    const held = this.#patterns.get(subscriber);
    if (held === undefined) return false;
    if (typeof held === 'string') {
      if (held !== pattern) return false;
      this.#patterns.delete(subscriber);
    } else {
      if (!held.delete(pattern)) return false;
      if (held.size === 1) this.#patterns.set(subscriber, held.values().next().value!);
    }
    this.#trie.remove(pattern, subscriber);
    this.#generation++;
    if (this.#interest) this.#countInterest(pattern, -1);
    return true;
  }

  /** Removes every pattern of a subscriber (it disconnected). */
  remove(subscriber: Subscriber): void {
    for (const pattern of this.#patternsOf(subscriber)) {
      this.#trie.remove(pattern, subscriber);
      // Per pattern, before the interest listeners run: one that counts
      // matches meanwhile caches what it sees under this generation only.
      this.#generation++;
      if (this.#interest) this.#countInterest(pattern, -1);
    }
    this.#patterns.delete(subscriber);
    // A stale entry would keep the departed connection (and all it holds)
    // alive until its topic is published to again or evicted: drop them all.
    this.#matches.clear();
  }

  #countInterest(pattern: string, change: 1 | -1): void {
    const { counts, listeners } = this.#interest!;
    const count = (counts.get(pattern) ?? 0) + change;
    if (count > 0) counts.set(pattern, count);
    else counts.delete(pattern);
    if (change === 1 && count === 1) for (const listener of listeners) listener(pattern, true);
    else if (change === -1 && count === 0) for (const listener of listeners) listener(pattern, false);
  }

  /** Whether a subscriber holds exactly this pattern. */
  has(subscriber: Subscriber, pattern: string): boolean {
    const held = this.#patterns.get(subscriber);
    return typeof held === 'string' ? held === pattern : (held?.has(pattern) ?? false);
  }

  /**
   * The patterns among `patterns` that `subscriber` does not hold yet;
   * throws `limit_exceeded` when holding them too would pass `max` (patterns
   * it holds already never count against it). Every surface's subscribe asks this.
   */
  newPatterns(subscriber: Subscriber, patterns: Iterable<string>, max: number, holder = 'A connection'): Set<string> {
    const fresh = new Set<string>();
    for (const pattern of patterns) if (!this.has(subscriber, pattern)) fresh.add(pattern);
    if (this.patternCount(subscriber) + fresh.size > max) {
      throw new EventwireError('limit_exceeded', `${holder} may hold at most ${max} subscriptions`);
    }
    return fresh;
  }

  /** How many patterns a subscriber holds. */
  patternCount(subscriber: Subscriber): number {
    const held = this.#patterns.get(subscriber);
    return held === undefined ? 0 : typeof held === 'string' ? 1 : held.size;
  }

  /**
   * Delivers to every matching subscriber once (but the one whose id is
   * `except`: a publish to others); returns how many that was.
   */
  route(event: RoutedEvent, except?: string): number {
    const targets = this.#targetsOf(event.envelope.topic);
    if (except === undefined) {
      for (let i = 0; i < targets.length; i++) targets[i]!.deliver(event);
      return targets.length;
    }
    let reached = 0;
    for (let i = 0; i < targets.length; i++) {
      const subscriber = targets[i]!;
      if (subscriber.id === except) continue;
      subscriber.deliver(event);
      reached++;
    }
    return reached;
  }

  /**
   * The distinct subscribers an event on `topic` reaches, from the cache when
   * no subscription changed since it was computed. The returned array is
   * shared: never mutate it.
   */
  #targetsOf(topic: string): readonly Subscriber[] {
    const cached = this.#matches.get(topic);
    if (cached !== undefined && cached.generation === this.#generation) return cached.targets;
    const targets = this.#computeTargets(topic);
    if (this.#matchCacheTopics === 0) return targets;
    if (cached === undefined && this.#matches.size >= this.#matchCacheTopics) {
      // First in, first out: O(1), and a flood of one-off topics cycles through
      // without growing the map.
      this.#matches.delete(this.#matches.keys().next().value!);
    }
    this.#matches.set(topic, { generation: this.#generation, targets });
    return targets;
  }

  #computeTargets(topic: string): Subscriber[] {
    const matched = this.#trie.matchValues(topic);
    if (channelKind(topic) === 'public') return [...matched];
    // A guarded channel reaches only those who subscribed its exact name
    // (and passed its rule doing so): never a wildcard such as '#'.
    const targets: Subscriber[] = [];
    for (const subscriber of matched) if (this.has(subscriber, topic)) targets.push(subscriber);
    return targets;
  }

  /** How many topics the match cache holds now (at most `matchCacheTopics`). */
  get matchCacheSize(): number {
    return this.#matches.size;
  }

  /** Whether some pattern matches `topic` (a guarded channel's may still refuse the subscriber: an upper bound). */
  hasMatch(topic: string): boolean {
    return this.#trie.hasMatch(topic);
  }

  /** How many distinct subscribers `topic` would reach now. */
  countMatching(topic: string): number {
    return this.#targetsOf(topic).length;
  }

  /** Subscribers with at least one pattern, and the total number of patterns. */
  counts(): { subscribers: number; subscriptions: number } {
    return { subscribers: this.#patterns.size, subscriptions: this.#trie.size };
  }

  /** Every distinct pattern currently subscribed. */
  patterns(): string[] {
    const all = new Set<string>();
    for (const subscriber of this.#patterns.keys()) for (const pattern of this.#patternsOf(subscriber)) all.add(pattern);
    return [...all];
  }

  /** Calls `visit` once per subscription: each subscriber with each pattern it holds. */
  forEachSubscription(visit: (subscriber: Subscriber, pattern: string) => void): void {
    for (const [subscriber, held] of this.#patterns) {
      if (typeof held === 'string') visit(subscriber, held);
      else for (const pattern of [...held]) visit(subscriber, pattern);
    }
  }

  #patternsOf(subscriber: Subscriber): Iterable<string> {
    const held = this.#patterns.get(subscriber);
    return held === undefined ? [] : typeof held === 'string' ? [held] : [...held];
  }
}
