/** Per-topic counters for the stats endpoints, kept for a bounded number of topics. */
export interface TopicRecord {
  readonly topic: string;
  readonly messages: number;
  /** Milliseconds since epoch of the last publish. */
  readonly lastPublishedAt: number;
  /** Milliseconds since epoch of the first publish this record counts. */
  readonly firstPublishedAt: number;
}

/**
 * Counts publishes per concrete topic. Bounded: when more than `capacity`
 * topics are known, one not published to lately is forgotten, so a client
 * publishing to random topics cannot grow the broker's memory without limit.
 *
 * Eviction is CLOCK (second chance), not exact LRU: a publish only sets a
 * flag on its entry instead of re-inserting it into the Map, which kept every
 * publish paying a delete and an insert. When a new topic overflows the
 * bound, entries are visited oldest first; a flagged one loses its flag and
 * moves to the back, the first unflagged one is evicted. A new topic starts
 * unflagged, so a flood of one-off topics evicts its own kind before it can
 * push out a topic that is published to again.
 */
export class TopicStats {
  readonly #capacity: number;
  // Insertion order is the clock's hand: the first entry is visited first.
  readonly #topics = new Map<string, { messages: number; lastPublishedAt: number; firstPublishedAt: number; recent: boolean; group: number }>();
  readonly #classify: ((topic: string) => number) | undefined;

  /** `classify` gives each topic a group (see metrics/topic-groups.ts), decided once per entry. */
  constructor(capacity = 10_000, classify?: (topic: string) => number) {
    this.#capacity = capacity;
    this.#classify = classify;
  }

  /** Counts one publish to `topic`; returns the topic's group (-1 without `classify`). */
  record(topic: string, now = Date.now()): number {
    const entry = this.#topics.get(topic);
    if (entry) {
      entry.messages++;
      entry.lastPublishedAt = now;
      entry.recent = true;
      return entry.group;
    }
    const group = this.#classify ? this.#classify(topic) : -1;
    this.#topics.set(topic, { messages: 1, lastPublishedAt: now, firstPublishedAt: now, recent: false, group });
    if (this.#topics.size > this.#capacity) this.#evictOne();
    return group;
  }

  #evictOne(): void {
    // Ends: each pass clears the flags it meets, so by the second lap one is unflagged.
    for (const [topic, entry] of this.#topics) {
      if (!entry.recent) {
        this.#topics.delete(topic);
        return;
      }
      entry.recent = false;
      this.#topics.delete(topic);
      this.#topics.set(topic, entry);
    }
  }

  get(topic: string): TopicRecord | undefined {
    const entry = this.#topics.get(topic);
    return entry && { topic, messages: entry.messages, lastPublishedAt: entry.lastPublishedAt, firstPublishedAt: entry.firstPublishedAt };
  }

  list(): TopicRecord[] {
    return [...this.#topics].map(([topic, entry]) => ({
      topic,
      messages: entry.messages,
      lastPublishedAt: entry.lastPublishedAt,
      firstPublishedAt: entry.firstPublishedAt,
    }));
  }

  get size(): number {
    return this.#topics.size;
  }
}
