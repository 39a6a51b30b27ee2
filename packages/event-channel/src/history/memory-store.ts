import type { EventEnvelope } from '../envelope.js';
import { EventwireError } from '../errors.js';
import { createEventIdGenerator } from '../event-id.js';
import { formatOffset } from '../offset.js';
import { topicMatches } from '../topic.js';
import type { HistoryRetention, HistoryStore, StoredEvent } from './store.js';

/** Options of {@link MemoryHistoryStore}. */
export interface MemoryHistoryStoreOptions {
  /**
   * Most topics kept; past it the topic published to least recently is
   * forgotten (and any reader behind its events is told of a gap).
   * @default 100_000
   */
  readonly maxTopics?: number;
  /**
   * Most events held in all, whatever the per-topic retention says: past it
   * the oldest event of the topic published to least recently goes (and a
   * reader behind it is told of a gap). Bounds memory.
   * @default 1_000_000
   */
  readonly maxEvents?: number;
  /** How long an event id is remembered for deduplicating re-sent publishes. @default 120_000 */
  readonly dedupWindowMs?: number;
  /** Most event ids remembered for deduplication, whatever the window (bounds memory at high rates). @default 200_000 */
  readonly maxDedupIds?: number;
  /** The clock, injectable for retention tests. @default Date.now */
  readonly now?: () => number;
  /** The epoch, for a store rebuilt from a durable log. @default a new ULID */
  readonly epoch?: string;
}

interface Entry {
  readonly seq: number;
  readonly envelope: EventEnvelope;
  readonly storedAt: number;
}

/** One topic's events, oldest first; `start` skips trimmed ones without shifting the array each time. */
class TopicLog {
  entries: Entry[] = [];
  start = 0;
  /** Highest seq dropped from this topic by retention. */
  trimmedThrough = 0;
  retention: HistoryRetention;

  constructor(retention: HistoryRetention) {
    this.retention = retention;
  }

  get size(): number {
    return this.entries.length - this.start;
  }

  get last(): Entry | undefined {
    return this.size > 0 ? this.entries[this.entries.length - 1] : undefined;
  }

  /** Applies the retention; returns how many events it dropped. */
  trim(now: number): number {
    const { maxEvents, maxAgeMs } = this.retention;
    const before = this.start;
    while (this.size > 0 && (this.size > maxEvents || now - this.entries[this.start]!.storedAt > maxAgeMs)) this.dropOldest();
    const dropped = this.start - before;
    // Compact once the dead prefix is at least half the array.
    if (this.start > 64 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return dropped;
  }

  dropOldest(): void {
    this.trimmedThrough = this.entries[this.start]!.seq;
    this.start++;
  }

  /** Index of the first live entry with seq > after (binary search). */
  firstAfter(after: number): number {
    let low = this.start;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle]!.seq <= after) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/**
 * History in memory: bounded per topic by count and age, and by the number
 * of topics. The default when the broker has no data directory. Its epoch is
 * new on every start, since a restart loses everything it held.
 */
export class MemoryHistoryStore implements HistoryStore {
  readonly kind = 'memory';
  readonly epoch: string;
  #head = 0;
  readonly #topics = new Map<string, TopicLog>();
  /** Ids of recent appends, oldest first (a Map keeps insertion order). */
  readonly #ids = new Map<string, Entry>();
  /** Highest seq among the events of forgotten topics. */
  #forgottenThrough = 0;
  readonly #maxTopics: number;
  readonly #maxEvents: number;
  /** Events held, over every topic. */
  #total = 0;
  readonly #dedupWindowMs: number;
  readonly #maxDedupIds: number;
  readonly #now: () => number;

  constructor(options: MemoryHistoryStoreOptions = {}) {
    this.epoch = options.epoch ?? createEventIdGenerator()();
    this.#maxTopics = options.maxTopics ?? 100_000;
    this.#maxEvents = options.maxEvents ?? 1_000_000;
    this.#dedupWindowMs = options.dedupWindowMs ?? 120_000;
    this.#maxDedupIds = options.maxDedupIds ?? 200_000;
    this.#now = options.now ?? Date.now;
  }

  get head(): number {
    return this.#head;
  }

  append(envelope: EventEnvelope, retention: HistoryRetention): EventEnvelope {
    const stored: EventEnvelope = { ...envelope, offset: formatOffset(this.epoch, this.#head + 1) };
    this.restore(stored, this.#head + 1, this.#now(), retention);
    return stored;
  }

  /**
   * Adds an event that already has its seq and offset (a durable store
   * rebuilding its index from disk, or writing before indexing). `seq` must
   * be above `head`.
   */
  restore(stored: EventEnvelope, seq: number, storedAt: number, retention: HistoryRetention): void {
    if (!(retention.maxEvents > 0)) throw new EventwireError('internal', 'History retention needs maxEvents > 0');
    if (!(seq > this.#head)) throw new EventwireError('internal', `History seq ${seq} is not above the head ${this.#head}`);
    const now = this.#now();
    const envelope = stored;
    this.#head = seq;
    let log = this.#topics.get(envelope.topic);
    if (log) {
      // Re-insert so the Map's order is "least recently published first".
      this.#topics.delete(envelope.topic);
      log.retention = retention;
    } else {
      log = new TopicLog(retention);
      if (this.#topics.size >= this.#maxTopics) this.#forgetOldestTopic();
    }
    this.#topics.set(envelope.topic, log);
    const entry: Entry = { seq, envelope: stored, storedAt };
    log.entries.push(entry);
    this.#total += 1 - log.trim(now);
    while (this.#total > this.#maxEvents) this.#dropGloballyOldest();
    this.#ids.set(envelope.id, entry);
    this.#pruneIds(now);
  }

  /** Events up to `seq` are gone (a durable store dropped their file): readers behind it get a gap. */
  forgetThrough(seq: number): void {
    if (seq > this.#forgottenThrough) this.#forgottenThrough = seq;
    for (const log of this.#topics.values()) {
      while (log.size > 0 && log.entries[log.start]!.seq <= seq) {
        log.dropOldest();
        this.#total--;
      }
    }
  }

  read(pattern: string, after: number, limit: number): StoredEvent[] {
    const now = this.#now();
    const found: Entry[] = [];
    for (const [topic, log] of this.#topics) {
      if (!topicMatches(pattern, topic)) continue;
      this.#total -= log.trim(now);
      const last = log.last;
      if (!last || last.seq <= after) continue;
      // Each topic contributes at most `limit`: the overall first `limit` are among them.
      const from = log.firstAfter(after);
      for (let i = from; i < log.entries.length && i < from + limit; i++) found.push(log.entries[i]!);
    }
    return found.sort((a, b) => a.seq - b.seq).slice(0, limit).map(toStored);
  }

  readLast(pattern: string, count: number): StoredEvent[] {
    if (count <= 0) return [];
    const now = this.#now();
    const found: Entry[] = [];
    for (const [topic, log] of this.#topics) {
      if (!topicMatches(pattern, topic)) continue;
      this.#total -= log.trim(now);
      for (let i = Math.max(log.start, log.entries.length - count); i < log.entries.length; i++) found.push(log.entries[i]!);
    }
    return found.sort((a, b) => a.seq - b.seq).slice(-count).map(toStored);
  }

  trimmedAfter(pattern: string, after: number): boolean {
    if (this.#forgottenThrough > after) return true;
    const now = this.#now();
    for (const [topic, log] of this.#topics) {
      if (!topicMatches(pattern, topic)) continue;
      this.#total -= log.trim(now);
      if (log.trimmedThrough > after) return true;
    }
    return false;
  }

  findById(id: string): StoredEvent | undefined {
    const entry = this.#ids.get(id);
    if (!entry || this.#now() - entry.storedAt > this.#dedupWindowMs) return undefined;
    return toStored(entry);
  }

  /**
   * Nothing to release: memory goes with the store object. A closed memory
   * store stays readable, so one instance can outlive a broker (an in-process
   * restart, as tests do to stand in for a data directory).
   */
  async close(): Promise<void> {}

  /** Over `maxEvents`: the oldest event of the least recently published topic goes. */
  #dropGloballyOldest(): void {
    const log = this.#topics.values().next().value!;
    if (log.size <= 1) return this.#forgetOldestTopic();
    // Its trimmedThrough moves: readers of that topic behind it get a gap, others do not.
    log.dropOldest();
    this.#total--;
  }

  #forgetOldestTopic(): void {
    const [topic, log] = this.#topics.entries().next().value!;
    this.#topics.delete(topic);
    this.#total -= log.size;
    const last = log.last?.seq ?? log.trimmedThrough;
    if (last > this.#forgottenThrough) this.#forgottenThrough = last;
  }

  #pruneIds(now: number): void {
    for (const [id, entry] of this.#ids) {
      if (now - entry.storedAt <= this.#dedupWindowMs && this.#ids.size <= this.#maxDedupIds) return;
      this.#ids.delete(id);
    }
  }
}

function toStored(entry: Entry): StoredEvent {
  return { seq: entry.seq, envelope: entry.envelope };
}
