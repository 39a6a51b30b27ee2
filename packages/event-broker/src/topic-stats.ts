/** Per-topic counters for the stats endpoints, kept for a bounded number of topics. */
export interface TopicRecord {
  readonly topic: string;
  readonly messages: number;
  /** Milliseconds since epoch of the last publish. */
  readonly lastPublishedAt: number;
}

/**
 * Counts publishes per concrete topic. Bounded: when more than `capacity`
 * topics are known, the least recently published is forgotten, so a client
 * publishing to random topics cannot grow the broker's memory without limit.
 */
export class TopicStats {
  readonly #capacity: number;
  // Map keeps insertion order; re-inserting on each publish makes it LRU.
  readonly #topics = new Map<string, { messages: number; lastPublishedAt: number }>();

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
  }

  record(topic: string, now = Date.now()): void {
    const entry = this.#topics.get(topic);
    if (entry) {
      this.#topics.delete(topic);
      entry.messages++;
      entry.lastPublishedAt = now;
      this.#topics.set(topic, entry);
      return;
    }
    this.#topics.set(topic, { messages: 1, lastPublishedAt: now });
    if (this.#topics.size > this.#capacity) {
      this.#topics.delete(this.#topics.keys().next().value!);
    }
  }

  get(topic: string): TopicRecord | undefined {
    const entry = this.#topics.get(topic);
    return entry && { topic, ...entry };
  }

  list(): TopicRecord[] {
    return [...this.#topics].map(([topic, entry]) => ({ topic, ...entry }));
  }

  get size(): number {
    return this.#topics.size;
  }
}
