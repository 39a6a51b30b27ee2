// The last event of each cache channel (Pusher's `cache-*`, `private-cache-*`,
// `private-encrypted-cache-*`, `presence-cache-*`), kept so a new subscriber
// gets it right after its subscription is confirmed, before anything live.
//
// Why not a history rule: rule patterns (and the JetStream subjects they
// become) match whole dot-separated segments only, so none can say "a first
// segment starting with cache-"; and a built-in rule would turn history on
// for every broker with the Pusher surface, which a Redis or PostgreSQL
// cluster refuses (their engines share events, not history). What is needed
// here is one event per topic, read synchronously at subscribe time: a map.
// Across a cluster it is replicated over the cluster bus (cluster-last-events.ts).
import type { EventEnvelope } from '@eventwire/event-channel';

/** How long a cache channel keeps its last event, and how many channels are kept. */
export interface LastEventsOptions {
  /**
   * How long after it was published the last event is still served; past
   * it a new subscriber gets `pusher:cache_miss`. Pusher documents no
   * figure we could verify; Soketi keeps 1 h.
   * @default 1_800_000 (30 minutes)
   */
  readonly ttlMs?: number;
  /**
   * Most cache channels remembered; past it the one written longest ago is forgotten.
   * @default 100_000
   */
  readonly maxChannels?: number;
  /** The clock (ms since the epoch); tests pass their own. @default Date.now */
  readonly now?: () => number;
}

export const lastEventsDefaults = { ttlMs: 1_800_000, maxChannels: 100_000 } as const;

/**
 * Whether a topic is a cache channel's: after the kind prefix (`private-`,
 * `presence-`) and an app's namespace (`N:`, pusher-apps.ts), the name starts
 * with `cache-` (or `encrypted-cache-` on a private channel). Anchored, unlike
 * Soketi's unanchored match that made `orders-cache-1` a cache channel.
 */
const CACHE_TOPIC = /^(?:(?:private-(?:[A-Za-z0-9_-]{1,64}:)?(?:encrypted-)?)|(?:presence-(?:[A-Za-z0-9_-]{1,64}:)?)|(?:[A-Za-z0-9_-]{1,64}:)?)cache-/;

export function isCacheTopic(topic: string): boolean {
  // Asked for every event routed (once, not per subscriber): the plain search
  // rules most topics out before the expression runs (bench/RESULTS.md, "Cache channels").
  return topic.includes('cache-') && CACHE_TOPIC.test(topic);
}

/**
 * Whether an event sets its cache channel's last event: every server-side
 * publish does (Pusher's HTTP API, `broker.publish`, a native or
 * broadcasting publish, an EventChannel emit), a Pusher client event
 * (`client-*`, a whisper) does not — as on Soketi, and so one browser cannot
 * decide what every later subscriber starts from.
 */
export function setsLastEvent(envelope: EventEnvelope): boolean {
  const name = envelope.metadata?.['event'];
  return !(typeof name === 'string' && name.startsWith('client-'));
}

interface Entry {
  readonly envelope: EventEnvelope;
  readonly expiresAt: number;
}

export class LastEvents {
  readonly ttlMs: number;
  readonly #maxChannels: number;
  readonly #now: () => number;
  /** By topic, oldest write first (a write moves its topic to the end). */
  readonly #entries = new Map<string, Entry>();
  /** Told of each event that entered at this broker (the cluster replicates it). */
  #onLocal: ((envelope: EventEnvelope) => void) | undefined;

  constructor(options: LastEventsOptions = {}) {
    this.ttlMs = options.ttlMs ?? lastEventsDefaults.ttlMs;
    this.#maxChannels = options.maxChannels ?? lastEventsDefaults.maxChannels;
    this.#now = options.now ?? Date.now;
  }

  /** Called for every event delivered here; keeps it when its topic is a cache channel's. `local`: it entered at this broker. */
  record(envelope: EventEnvelope, local: boolean): void {
    if (!isCacheTopic(envelope.topic) || !setsLastEvent(envelope)) return;
    this.set(envelope, this.ttlMs);
    if (local) this.#onLocal?.(envelope);
  }

  /** Keeps `envelope` as its topic's last event for `ttlMs` from now. */
  set(envelope: EventEnvelope, ttlMs: number): void {
    this.#entries.delete(envelope.topic);
    this.#entries.set(envelope.topic, { envelope, expiresAt: this.#now() + ttlMs });
    if (this.#entries.size > this.#maxChannels) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** The topic's last event, unless none was kept or it expired. */
  get(topic: string): EventEnvelope | undefined {
    const entry = this.#entries.get(topic);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(topic);
      return undefined;
    }
    return entry.envelope;
  }

  /** Every live entry with the time it has left (what a broker joining the cluster is sent). */
  *entries(): IterableIterator<{ envelope: EventEnvelope; ttlMs: number }> {
    const now = this.#now();
    for (const [topic, entry] of this.#entries) {
      if (entry.expiresAt <= now) this.#entries.delete(topic);
      else yield { envelope: entry.envelope, ttlMs: entry.expiresAt - now };
    }
  }

  has(topic: string): boolean {
    return this.get(topic) !== undefined;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** One listener (the cluster part) for events that entered here. */
  watchLocal(listener: (envelope: EventEnvelope) => void): void {
    this.#onLocal = listener;
  }
}
