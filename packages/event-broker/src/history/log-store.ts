// The durable history store: an append-only segment log on disk, with the
// index (and the retained events) in memory, rebuilt from the log on open.
import {
  closeSync,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { EventwireError, createEventIdGenerator, type EventEnvelope } from '@eventwire/event-channel';
import {
  MemoryHistoryStore,
  formatOffset,
  type HistoryRetention,
  type HistoryStore,
  type StoredEvent,
} from '@eventwire/event-channel/protocol';

/** When appended records are forced to disk. */
export type FsyncPolicy = 'always' | 'never' | number;

/** Options of {@link LogHistoryStore}. */
export interface LogHistoryStoreOptions {
  /** The directory of the log (created if missing). */
  readonly dir: string;
  /**
   * `'always'`: fdatasync before each publish is acknowledged (survives power
   * loss; slowest, and each sync holds the event loop: on a disk that syncs
   * slowly, every connection waits). A number: the log is synced that often
   * on the thread pool, off the event loop, so at most that many milliseconds
   * plus one sync's duration of acknowledged events can be lost to a power
   * cut (never to a crash of the process, whose writes the OS already holds).
   * `'never'`: leave it to the OS.
   * @default 100
   */
  readonly fsync?: FsyncPolicy;
  /** A segment file is closed and a new one started past this size. @default 67_108_864 (64 MiB) */
  readonly segmentBytes?: number;
  /** Oldest segments are deleted past this total (their readers get a gap). @default 1_073_741_824 (1 GiB) */
  readonly maxBytes?: number;
  /**
   * Most bytes of retained events held in memory (the index reads are served
   * from): `MemoryHistoryStoreOptions.maxBytes`. Past it the oldest events
   * leave memory, though still on disk until their segment goes, and readers
   * behind them are told of a gap; on open, the newest that fit are loaded.
   * @default 268_435_456 (256 MiB; the broker passes `historyMaxMemoryBytes`)
   */
  readonly memoryMaxBytes?: number;
  /** @default 120_000 */
  readonly dedupWindowMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Receives what opening repaired (a torn tail truncated) and background fsync failures. */
  readonly onWarning?: (message: string) => void;
  /**
   * When an append fails (a full disk, no file descriptor left, an I/O
   * error), how long the `unavailable` refusal tells the client to wait before
   * publishing again (`retryAfterMs` in the error frame, `Retry-After` on
   * HTTP). The store tries again on the next append, so a freed disk or
   * descriptor is used at once; the hint only spaces out the retries.
   * @default 1000
   */
  readonly retryAfterMs?: number;
}

/** Defaults of {@link LogHistoryStoreOptions}. */
export const logHistoryStoreDefaults = { fsync: 100, segmentBytes: 67_108_864, maxBytes: 1_073_741_824, retryAfterMs: 1000 } as const;

/**
 * Record layout: `u32 length | u32 crc32(payload) | payload`, little-endian,
 * payload the JSON `{ seq, at, keep: [maxEvents, maxAgeMs], event }`. A
 * record that is short, over-long, fails its CRC or its JSON is a torn write:
 * on open it and everything after it in that segment are cut off, never served.
 */
const HEADER_BYTES = 8;
/** A record larger than this is corruption, not data (the broker's frames are far smaller). */
const MAX_RECORD_BYTES = 64 * 1024 * 1024;
const SEGMENT_SUFFIX = '.log';

interface Segment {
  readonly path: string;
  /** The first seq it holds (its name). */
  readonly firstSeq: number;
  lastSeq: number;
  bytes: number;
  /** When the newest record in it was stored, and the longest retention among its records. */
  newestAt: number;
  longestAgeMs: number;
}

/**
 * History in an append-only segment log (`<dir>/<first seq>.log`) with the
 * epoch in `<dir>/epoch`: it survives restarts and `kill -9`, keeping its
 * epoch, so reconnecting clients resume without a gap. Retained events are
 * also kept in memory (a `MemoryHistoryStore` with the same epoch and its
 * bounds: 100,000 topics, 1,000,000 events, `memoryMaxBytes`), so reads never touch the disk;
 * the disk is for surviving restarts.
 *
 * A write that fails (no file descriptor, a full disk, an I/O error) throws
 * `unavailable` before the event gets a seq: the broker refuses the publish,
 * and the next append tries again, so it recovers without a restart.
 */
export class LogHistoryStore implements HistoryStore {
  readonly kind = 'log';
  readonly epoch: string;
  readonly dir: string;
  readonly #memory: MemoryHistoryStore;
  readonly #segments: Segment[] = [];
  readonly #fsync: FsyncPolicy;
  readonly #segmentBytes: number;
  readonly #maxBytes: number;
  readonly #retryAfterMs: number;
  /** Bytes of every segment, kept as they change (summing the segments on every append grew with their number). */
  #bytes = 0;
  readonly #now: () => number;
  readonly #warn: (message: string) => void;
  #fd: number | undefined;
  #dirty = false;
  /** A background fsync is running (see #syncInBackground). */
  #syncing = false;
  #syncTimer: ReturnType<typeof setInterval> | undefined;
  #closed = false;

  constructor(options: LogHistoryStoreOptions) {
    this.dir = options.dir;
    this.#fsync = options.fsync ?? logHistoryStoreDefaults.fsync;
    this.#segmentBytes = options.segmentBytes ?? logHistoryStoreDefaults.segmentBytes;
    this.#maxBytes = options.maxBytes ?? logHistoryStoreDefaults.maxBytes;
    this.#retryAfterMs = options.retryAfterMs ?? logHistoryStoreDefaults.retryAfterMs;
    this.#now = options.now ?? Date.now;
    this.#warn = options.onWarning ?? (() => {});
    mkdirSync(this.dir, { recursive: true });
    this.epoch = readOrCreateEpoch(this.dir, hasSegments(this.dir));
    this.#memory = new MemoryHistoryStore({
      epoch: this.epoch,
      now: this.#now,
      ...(options.dedupWindowMs !== undefined && { dedupWindowMs: options.dedupWindowMs }),
      ...(options.memoryMaxBytes !== undefined && { maxBytes: options.memoryMaxBytes }),
    });
    this.#load();
    if (typeof this.#fsync === 'number' && this.#fsync > 0) {
      this.#syncTimer = setInterval(() => this.#syncInBackground(), this.#fsync);
      this.#syncTimer.unref();
    }
  }

  get head(): number {
    return this.#memory.head;
  }

  /** Bytes of every segment on disk. */
  get bytes(): number {
    return this.#bytes;
  }

  append(envelope: EventEnvelope, retention: HistoryRetention): EventEnvelope {
    if (this.#closed) throw new EventwireError('unavailable', 'The history store is closed');
    const seq = this.#memory.head + 1;
    const at = this.#now();
    const stored: EventEnvelope = { ...envelope, offset: formatOffset(this.epoch, seq) };
    const payload = Buffer.from(JSON.stringify({ seq, at, keep: [retention.maxEvents, retention.maxAgeMs], event: stored }));
    const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
    record.writeUInt32LE(payload.length, 0);
    record.writeUInt32LE(crc32(payload), 4);
    payload.copy(record, HEADER_BYTES);
    this.#write(record, seq, at, retention.maxAgeMs);
    this.#memory.restore(stored, seq, at, retention);
    this.#enforceBytes();
    return stored;
  }

  read(pattern: string, after: number, limit: number): StoredEvent[] {
    return this.#memory.read(pattern, after, limit);
  }

  readLast(pattern: string, count: number): StoredEvent[] {
    return this.#memory.readLast(pattern, count);
  }

  trimmedAfter(pattern: string, after: number): boolean {
    return this.#memory.trimmedAfter(pattern, after);
  }

  findById(id: string): StoredEvent | undefined {
    return this.#memory.findById(id);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#syncTimer);
    this.#syncNow();
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  // ---------------------------------------------------------------------------

  /** Writes one record to the active segment; on any failure nothing of it stays and `unavailable` is thrown. */
  #write(record: Buffer, seq: number, at: number, maxAgeMs: number): void {
    let segment = this.#segments.at(-1);
    try {
      if (this.#fd === undefined || !segment || segment.bytes + record.length > this.#segmentBytes) {
        segment = this.#startSegment(seq);
      }
      const fd = this.#fd!;
      let written = 0;
      try {
        while (written < record.length) written += writeSync(fd, record, written, record.length - written, segment.bytes + written);
      } catch (error) {
        // A torn write would corrupt what follows it: cut it off again.
        try {
          ftruncateSync(fd, segment.bytes);
        } catch {
          // The file is in trouble: start a fresh segment on the next append.
          this.#dropActive();
        }
        throw error;
      }
      if (this.#fsync === 'always') fdatasyncSync(fd);
      else this.#dirty = true;
    } catch (error) {
      throw new EventwireError('unavailable', `History could not store the event: ${(error as Error).message}`, {
        cause: error,
        retryAfterMs: this.#retryAfterMs,
      });
    }
    segment.bytes += record.length;
    this.#bytes += record.length;
    segment.lastSeq = seq;
    segment.newestAt = at;
    segment.longestAgeMs = Math.max(segment.longestAgeMs, maxAgeMs);
  }

  #startSegment(firstSeq: number): Segment {
    this.#syncNow();
    this.#dropActive();
    const path = join(this.dir, `${String(firstSeq).padStart(20, '0')}${SEGMENT_SUFFIX}`);
    const fd = openSync(path, 'a+');
    const segment: Segment = { path, firstSeq, lastSeq: firstSeq - 1, bytes: fstatSync(fd).size, newestAt: 0, longestAgeMs: 0 };
    this.#fd = fd;
    const last = this.#segments.at(-1);
    if (last?.path === path) {
      this.#bytes -= last.bytes;
      this.#segments[this.#segments.length - 1] = segment;
    } else this.#segments.push(segment);
    this.#bytes += segment.bytes;
    this.#compact();
    return segment;
  }

  #dropActive(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // already unusable
    }
    this.#fd = undefined;
  }

  /**
   * The interval's fsync, on libuv's thread pool: a disk that takes seconds
   * to sync (an overloaded cloud volume) must not stall the event loop, and
   * with it every connection and heartbeat of the broker, while it does.
   * Appends go on meanwhile and mark the log dirty for the next round; one
   * sync at a time. A segment roll and `close()` still sync in line, so a
   * segment is never closed unsynced.
   */
  #syncInBackground(): void {
    if (!this.#dirty || this.#fd === undefined || this.#syncing) return;
    const fd = this.#fd;
    this.#dirty = false;
    this.#syncing = true;
    fdatasync(fd, (error) => {
      this.#syncing = false;
      // A segment roll or close synced in line meanwhile and closed the file: that covered it.
      if (!error || fd !== this.#fd) return;
      this.#dirty = true;
      this.#warn(`history fsync failed: ${error.message}`);
    });
  }

  /** Syncs in line what was written, including what a background sync still in flight covers (its file may be closed next). */
  #syncNow(): void {
    if ((!this.#dirty && !this.#syncing) || this.#fd === undefined) return;
    try {
      fdatasyncSync(this.#fd);
      this.#dirty = false;
    } catch (error) {
      this.#warn(`history fsync failed: ${(error as Error).message}`);
    }
  }

  /** Deletes closed segments whose every record is past its retention. */
  #compact(): void {
    const now = this.#now();
    while (this.#segments.length > 1) {
      const oldest = this.#segments[0]!;
      if (oldest.bytes > 0 && now - oldest.newestAt <= oldest.longestAgeMs) break;
      this.#deleteOldest();
    }
  }

  /** Over `maxBytes`: the oldest closed segments go, and readers behind them are told of a gap. */
  #enforceBytes(): void {
    while (this.#segments.length > 1 && this.#bytes > this.#maxBytes) this.#deleteOldest();
  }

  #deleteOldest(): void {
    const oldest = this.#segments.shift()!;
    this.#bytes -= oldest.bytes;
    rmSync(oldest.path, { force: true });
    this.#memory.forgetThrough(oldest.lastSeq);
  }

  /** Rebuilds the index from the segments, cutting off a torn tail. */
  #load(): void {
    // One copy of each topic and source string for every record that names it,
    // not one per record as JSON.parse makes them (bounded: cleared when full).
    const strings = new Map<string, string>();
    const intern = (value: string): string => {
      const known = strings.get(value);
      if (known !== undefined) return known;
      if (strings.size >= 100_000) strings.clear();
      strings.set(value, value);
      return value;
    };
    const names = readdirSync(this.dir)
      .filter((name) => name.endsWith(SEGMENT_SUFFIX) && /^\d+$/.test(name.slice(0, -SEGMENT_SUFFIX.length)))
      .sort();
    for (const name of names) {
      const path = join(this.dir, name);
      const firstSeq = Number(name.slice(0, -SEGMENT_SUFFIX.length));
      const data = readFileSync(path);
      const segment: Segment = { path, firstSeq, lastSeq: firstSeq - 1, bytes: 0, newestAt: 0, longestAgeMs: 0 };
      let position = 0;
      while (position < data.length) {
        const record = decodeRecord(data, position);
        if (!record || record.seq <= this.#memory.head) break;
        const [maxEvents, maxAgeMs] = record.keep;
        // The parsed event is this store's own: completed in place, not copied.
        const stored = record.event;
        stored.topic = intern(stored.topic);
        stored.source = intern(stored.source);
        // Not kept: the memory store derives it from the seq and the log's
        // epoch when the event is read (a string less per event; and a record
        // written under an epoch file since lost must not carry the old epoch).
        stored.offset = undefined;
        this.#memory.restore(stored as EventEnvelope, record.seq, record.at, { maxEvents, maxAgeMs });
        segment.lastSeq = record.seq;
        segment.newestAt = record.at;
        segment.longestAgeMs = Math.max(segment.longestAgeMs, maxAgeMs);
        position += record.bytes;
      }
      if (position < data.length) {
        // A torn or corrupt record: drop it and what follows in this segment, never serve it.
        this.#warn(`history: ${name}: cut ${data.length - position} bytes of a torn or corrupt record at byte ${position}`);
        const fd = openSync(path, 'r+');
        try {
          ftruncateSync(fd, position);
          fdatasyncSync(fd);
        } finally {
          closeSync(fd);
        }
      }
      segment.bytes = position;
      if (segment.bytes === 0 && name !== names.at(-1)) {
        rmSync(path, { force: true });
        continue;
      }
      this.#segments.push(segment);
      this.#bytes += segment.bytes;
    }
    // A hole between segments (a record lost mid-log): readers behind it get a gap.
    for (let i = 1; i < this.#segments.length; i++) {
      const previous = this.#segments[i - 1]!;
      if (this.#segments[i]!.firstSeq > previous.lastSeq + 1) this.#memory.forgetThrough(this.#segments[i]!.firstSeq - 1);
    }
    this.#compact();
  }
}

/**
 * An envelope fresh from JSON.parse, completed in place before it is stored;
 * its `offset` is cleared (set to undefined, not deleted, which would turn the
 * object into a slower dictionary), and the memory store reads that as absent.
 */
type ParsedEnvelope = { -readonly [K in Exclude<keyof EventEnvelope, 'offset'>]: EventEnvelope[K] } & { offset?: string | undefined };

interface DecodedRecord {
  readonly seq: number;
  readonly at: number;
  readonly keep: [number, number];
  readonly event: ParsedEnvelope;
  /** Header and payload. */
  readonly bytes: number;
}

function decodeRecord(data: Buffer, position: number): DecodedRecord | undefined {
  if (position + HEADER_BYTES > data.length) return undefined;
  const length = data.readUInt32LE(position);
  if (length === 0 || length > MAX_RECORD_BYTES || position + HEADER_BYTES + length > data.length) return undefined;
  const payload = data.subarray(position + HEADER_BYTES, position + HEADER_BYTES + length);
  if (crc32(payload) !== data.readUInt32LE(position + 4)) return undefined;
  try {
    const value = JSON.parse(payload.toString('utf8')) as Partial<DecodedRecord>;
    const keep = value.keep;
    if (!Number.isSafeInteger(value.seq) || typeof value.at !== 'number' || !Array.isArray(keep) || typeof value.event !== 'object') return undefined;
    return { seq: value.seq!, at: value.at, keep: keep as [number, number], event: value.event as ParsedEnvelope, bytes: HEADER_BYTES + length };
  } catch {
    return undefined;
  }
}

function hasSegments(dir: string): boolean {
  return readdirSync(dir).some((name) => name.endsWith(SEGMENT_SUFFIX));
}

/**
 * The epoch survives restarts; a new directory, or a log whose segments were
 * deleted, starts a new one (its sequence starts again at 1, so the old
 * offsets must not compare with the new ones).
 */
function readOrCreateEpoch(dir: string, continued: boolean): string {
  const path = join(dir, 'epoch');
  if (continued && existsSync(path)) {
    const epoch = readFileSync(path, 'utf8').trim();
    if (/^[0-9A-Z]{10,40}$/.test(epoch)) return epoch;
  }
  const epoch = createEventIdGenerator()();
  // Written whole or not at all: a crash mid-write must not leave half an epoch.
  writeFileSync(`${path}.tmp`, `${epoch}\n`);
  renameSync(`${path}.tmp`, path);
  return epoch;
}
