import type { EventEnvelope } from '../envelope.js';
import { EventwireError } from '../errors.js';
import { createEventIdGenerator } from '../event-id.js';
import { formatOffset } from '../offset.js';
import { topicMatches } from '../topic.js';
import { estimateEventBytes } from './event-size.js';
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
   * reader behind it is told of a gap).
   * @default 1_000_000
   */
  readonly maxEvents?: number;
  /**
   * Most bytes held in all: past it the globally oldest events go, as past
   * `maxEvents` (and a reader behind them is told of a gap). What an event
   * counts is its estimated heap cost (`estimateEventBytes`: its values
   * walked, plus a measured per-event overhead), for as long as the store
   * references it: in a topic's log, or still remembered for deduplication.
   * It bounds the heap the store holds within a measured factor
   * (bench/RESULTS.md, "History memory bound"); with 1 MiB events and no such
   * bound, `maxEvents` alone would let it hold a terabyte. The fixed default
   * suits a browser or a test; the broker passes its own
   * (`historyMaxMemoryBytes`, from the memory the process may use).
   * @default 268_435_456 (256 MiB)
   */
  readonly maxBytes?: number;
  /** How long an event id is remembered for deduplicating re-sent publishes. @default 120_000 */
  readonly dedupWindowMs?: number;
  /** Most event ids remembered for deduplication, whatever the window (bounds memory at high rates). @default 200_000 */
  readonly maxDedupIds?: number;
  /** The clock, injectable for retention tests. @default Date.now */
  readonly now?: () => number;
  /** The epoch, for a store rebuilt from a durable log. @default a new ULID */
  readonly epoch?: string;
}

/** Defaults of {@link MemoryHistoryStoreOptions}. */
export const memoryHistoryStoreDefaults = {
  maxTopics: 100_000,
  maxEvents: 1_000_000,
  maxBytes: 268_435_456,
  dedupWindowMs: 120_000,
  maxDedupIds: 200_000,
} as const;

interface Entry {
  readonly seq: number;
  readonly envelope: EventEnvelope;
  readonly storedAt: number;
  /** Its estimated heap cost, counted in the store's `bytes` while `holders` > 0. */
  readonly bytes: number;
  /** Where the store still references it: its topic's log, the deduplication queue (0–2). */
  holders: number;
}

/**
 * One topic's events, oldest first; `start` skips trimmed ones without
 * shifting the array each time. It is also a link of the store's list of
 * topics, least recently published first (`older`/`newer`).
 */
class TopicLog {
  readonly topic: string;
  /** Slots before `start` are cleared (undefined): a trimmed event is not kept alive by the array until it is compacted. */
  entries: (Entry | undefined)[] = [];
  older: TopicLog | undefined;
  newer: TopicLog | undefined;
  start = 0;
  /** Highest seq dropped from this topic by retention. */
  trimmedThrough = 0;
  retention: HistoryRetention;

  constructor(topic: string, retention: HistoryRetention) {
    this.topic = topic;
    this.retention = retention;
  }

  get size(): number {
    return this.entries.length - this.start;
  }

  get last(): Entry | undefined {
    return this.size > 0 ? this.entries[this.entries.length - 1] : undefined;
  }

  /** Applies the retention, handing each dropped entry to `release`; returns how many it dropped. */
  trim(now: number, release: (entry: Entry) => void): number {
    const { maxEvents, maxAgeMs } = this.retention;
    const before = this.start;
    while (this.size > 0 && (this.size > maxEvents || now - this.entries[this.start]!.storedAt > maxAgeMs)) release(this.dropOldest());
    const dropped = this.start - before;
    // Compact once the dead prefix is at least half the array.
    if (this.start > 64 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
    return dropped;
  }

  dropOldest(): Entry {
    const entry = this.entries[this.start]!;
    this.entries[this.start] = undefined;
    this.trimmedThrough = entry.seq;
    this.start++;
    return entry;
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
  /**
   * Topics by name. Never re-inserted to keep an order, and never iterated
   * from its start to find the oldest: a Map keeps its deleted slots until it
   * rehashes, so both made every append pay for the slots deleted before it
   * (appends fell from 30k to under 6k/s over 1M events; bench/RESULTS.md).
   * The order lives in the linked list `#oldest` … `#newest` instead.
   */
  readonly #topics = new Map<string, TopicLog>();
  /** The topic published to least recently, and most recently. */
  #oldest: TopicLog | undefined;
  #newest: TopicLog | undefined;
  /** Recent appends by id, for deduplication. */
  readonly #ids = new Map<string, Entry>();
  /**
   * The same appends in order, oldest from `#idsStart`: pruning takes from the
   * front in constant time (amortised: the dead prefix is cut off once it is
   * half the array), where iterating the Map from its start skipped every
   * slot deleted before.
   */
  #idQueue: (Entry | undefined)[] = [];
  #idsStart = 0;
  /** Highest seq among the events of forgotten topics. */
  #forgottenThrough = 0;
  readonly #maxTopics: number;
  readonly #maxEvents: number;
  readonly #maxBytes: number;
  /** Events held, over every topic. */
  #total = 0;
  /** Estimated heap bytes of the events referenced (in a log or the deduplication queue). */
  #bytes = 0;
  /** Drops a log's reference to an entry (passed to `TopicLog.trim`). */
  readonly #releaseFromLog = (entry: Entry): void => this.#release(entry);
  readonly #dedupWindowMs: number;
  readonly #maxDedupIds: number;
  readonly #now: () => number;

  constructor(options: MemoryHistoryStoreOptions = {}) {
    this.epoch = options.epoch ?? createEventIdGenerator()();
    this.#maxTopics = options.maxTopics ?? memoryHistoryStoreDefaults.maxTopics;
    this.#maxEvents = options.maxEvents ?? memoryHistoryStoreDefaults.maxEvents;
    this.#maxBytes = options.maxBytes ?? memoryHistoryStoreDefaults.maxBytes;
    if (!(this.#maxBytes > 0)) throw new EventwireError('internal', 'History maxBytes must be above 0');
    this.#dedupWindowMs = options.dedupWindowMs ?? memoryHistoryStoreDefaults.dedupWindowMs;
    this.#maxDedupIds = options.maxDedupIds ?? memoryHistoryStoreDefaults.maxDedupIds;
    this.#now = options.now ?? Date.now;
  }

  get head(): number {
    return this.#head;
  }

  /** Estimated heap bytes of the events held (at most `maxBytes`, but for one event larger than it). */
  get bytes(): number {
    return this.#bytes;
  }

  append(envelope: EventEnvelope, retention: HistoryRetention): EventEnvelope {
    const stored: EventEnvelope = { ...envelope, offset: formatOffset(this.epoch, this.#head + 1) };
    this.restore(stored, this.#head + 1, this.#now(), retention);
    return stored;
  }

  /**
   * Adds an event that already has its seq (a durable store rebuilding its
   * index from disk, or writing before indexing). `seq` must be above `head`.
   * Its `offset` may be left out: readers then get `<epoch>:<seq>` added to a
   * copy (a store rebuilt from disk saves a string per event that way).
   */
  restore(stored: EventEnvelope, seq: number, storedAt: number, retention: HistoryRetention): void {
    if (!(retention.maxEvents > 0)) throw new EventwireError('internal', 'History retention needs maxEvents > 0');
    if (!(seq > this.#head)) throw new EventwireError('internal', `History seq ${seq} is not above the head ${this.#head}`);
    const now = this.#now();
    const envelope = stored;
    this.#head = seq;
    let log = this.#topics.get(envelope.topic);
    if (log) {
      log.retention = retention;
      this.#unlink(log);
    } else {
      if (this.#topics.size >= this.#maxTopics) this.#forgetOldestTopic();
      log = new TopicLog(envelope.topic, retention);
      this.#topics.set(envelope.topic, log);
    }
    this.#linkNewest(log);
    const entry: Entry = { seq, envelope: stored, storedAt, bytes: estimateEventBytes(stored), holders: 2 };
    this.#bytes += entry.bytes;
    log.entries.push(entry);
    this.#total += 1 - log.trim(now, this.#releaseFromLog);
    while (this.#total > this.#maxEvents) this.#dropGloballyOldest();
    this.#ids.set(envelope.id, entry);
    this.#idQueue.push(entry);
    this.#pruneIds(now);
    this.#enforceBytes();
  }

  /** Events up to `seq` are gone (a durable store dropped their file): readers behind it get a gap. */
  forgetThrough(seq: number): void {
    if (seq > this.#forgottenThrough) this.#forgottenThrough = seq;
    for (const log of this.#topics.values()) {
      while (log.size > 0 && log.entries[log.start]!.seq <= seq) {
        this.#release(log.dropOldest());
        this.#total--;
      }
    }
  }

  read(pattern: string, after: number, limit: number): StoredEvent[] {
    const now = this.#now();
    const found: Entry[] = [];
    for (const [topic, log] of this.#topics) {
      if (!topicMatches(pattern, topic)) continue;
      this.#total -= log.trim(now, this.#releaseFromLog);
      const last = log.last;
      if (!last || last.seq <= after) continue;
      // Each topic contributes at most `limit`: the overall first `limit` are among them.
      const from = log.firstAfter(after);
      for (let i = from; i < log.entries.length && i < from + limit; i++) found.push(log.entries[i]!);
    }
    return found.sort((a, b) => a.seq - b.seq).slice(0, limit).map((entry) => this.#toStored(entry));
  }

  readLast(pattern: string, count: number): StoredEvent[] {
    if (count <= 0) return [];
    const now = this.#now();
    const found: Entry[] = [];
    for (const [topic, log] of this.#topics) {
      if (!topicMatches(pattern, topic)) continue;
      this.#total -= log.trim(now, this.#releaseFromLog);
      for (let i = Math.max(log.start, log.entries.length - count); i < log.entries.length; i++) found.push(log.entries[i]!);
    }
    return found.sort((a, b) => a.seq - b.seq).slice(-count).map((entry) => this.#toStored(entry));
  }

  trimmedAfter(pattern: string, after: number): boolean {
    if (this.#forgottenThrough > after) return true;
    const now = this.#now();
    for (const [topic, log] of this.#topics) {
      if (!topicMatches(pattern, topic)) continue;
      this.#total -= log.trim(now, this.#releaseFromLog);
      if (log.trimmedThrough > after) return true;
    }
    return false;
  }

  findById(id: string): StoredEvent | undefined {
    const entry = this.#ids.get(id);
    if (!entry || this.#now() - entry.storedAt > this.#dedupWindowMs) return undefined;
    return this.#toStored(entry);
  }

  /**
   * Nothing to release: memory goes with the store object. A closed memory
   * store stays readable, so one instance can outlive a broker (an in-process
   * restart, as tests do to stand in for a data directory).
   */
  async close(): Promise<void> {}

  #toStored(entry: Entry): StoredEvent {
    const { seq, envelope } = entry;
    return { seq, envelope: envelope.offset === undefined ? { ...envelope, offset: formatOffset(this.epoch, seq) } : envelope };
  }

  /** Over `maxEvents`: the oldest event of the least recently published topic goes. */
  #dropGloballyOldest(): void {
    const log = this.#oldest!;
    if (log.size <= 1) return this.#forgetOldestTopic();
    // Its trimmedThrough moves: readers of that topic behind it get a gap, others do not.
    this.#release(log.dropOldest());
    this.#total--;
  }

  /**
   * Over `maxBytes`: the oldest id remembered only for deduplication is
   * forgotten (its event already left its log), else the oldest event of the
   * least recently published topic goes, as past `maxEvents`. Each step
   * drops a reference, so it ends; the newest event stays even alone over
   * the bound (it was acknowledged: it must be readable at least once).
   */
  #enforceBytes(): void {
    while (this.#bytes > this.#maxBytes) {
      const oldestId = this.#idQueue[this.#idsStart];
      if (oldestId && oldestId.holders === 1 && this.#dropOldestId()) continue;
      if (this.#total <= 1) {
        // Only the newest event is left in a log: what else is held is in the deduplication queue.
        if (!this.#dropOldestId()) break;
        continue;
      }
      this.#dropGloballyOldest();
    }
    this.#compactIds();
  }

  /** Forgets the oldest remembered id; false when none is left but the newest event's. */
  #dropOldestId(): boolean {
    if (this.#idsStart >= this.#idQueue.length - 1) return false;
    this.#forgetFrontId();
    return true;
  }

  /** Takes the oldest entry off the deduplication queue (there is one) and forgets its id. */
  #forgetFrontId(): void {
    const entry = this.#idQueue[this.#idsStart]!;
    this.#idQueue[this.#idsStart++] = undefined;
    // The id may have been stored again since (a re-sent publish after the window): that one stays.
    if (this.#ids.get(entry.envelope.id) === entry) this.#ids.delete(entry.envelope.id);
    this.#release(entry);
  }

  /** One place no longer references `entry`: when none does, its bytes are no longer held. */
  #release(entry: Entry): void {
    if (--entry.holders === 0) this.#bytes -= entry.bytes;
  }

  #forgetOldestTopic(): void {
    const log = this.#oldest!;
    this.#unlink(log);
    this.#topics.delete(log.topic);
    this.#total -= log.size;
    for (let i = log.start; i < log.entries.length; i++) this.#release(log.entries[i]!);
    const last = log.last?.seq ?? log.trimmedThrough;
    if (last > this.#forgottenThrough) this.#forgottenThrough = last;
  }

  #unlink(log: TopicLog): void {
    if (log.older) log.older.newer = log.newer;
    else this.#oldest = log.newer;
    if (log.newer) log.newer.older = log.older;
    else this.#newest = log.older;
    log.older = log.newer = undefined;
  }

  #linkNewest(log: TopicLog): void {
    log.older = this.#newest;
    if (this.#newest) this.#newest.newer = log;
    else this.#oldest = log;
    this.#newest = log;
  }

  /** Forgets ids past the window or over `maxDedupIds`, oldest first: constant work per append, amortised. */
  #pruneIds(now: number): void {
    while (this.#idsStart < this.#idQueue.length) {
      const entry = this.#idQueue[this.#idsStart]!;
      if (now - entry.storedAt <= this.#dedupWindowMs && this.#ids.size <= this.#maxDedupIds) break;
      this.#forgetFrontId();
    }
    this.#compactIds();
  }

  #compactIds(): void {
    const queue = this.#idQueue;
    if (this.#idsStart > 64 && this.#idsStart * 2 > queue.length) {
      this.#idQueue = queue.slice(this.#idsStart);
      this.#idsStart = 0;
    }
  }
}
