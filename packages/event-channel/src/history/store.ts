// The contract every history store implements (memory, durable log), and the
// one shared test suite runs against (packages/event-channel/test/history-store-suite.ts).
import type { EventEnvelope } from '../envelope.js';

/** How long a topic's history is kept; whichever bound is hit first trims. */
export interface HistoryRetention {
  /** Most events kept per topic. */
  readonly maxEvents: number;
  /** Longest an event is kept, in milliseconds. */
  readonly maxAgeMs: number;
}

/** One stored event: its sequence number and the envelope as routed (with `offset`). */
export interface StoredEvent {
  readonly seq: number;
  readonly envelope: EventEnvelope;
}

/**
 * The reading side of a history store: what a resume, a page of history and
 * deduplication need. A broker whose history the cluster keeps (JetStream)
 * reads a local mirror through it and stores elsewhere (asynchronously:
 * the mirror delivers what it takes, so replay and going live stay one step).
 */
export interface HistoryReader {
  /** `'memory'`, `'log'`, `'jetstream'`… for logs and stats. */
  readonly kind: string;
  readonly epoch: string;
  /** The last sequence number assigned; 0 before the first append. */
  readonly head: number;
  /** Events after `after` (a seq) whose topic matches `pattern`, oldest first, at most `limit`. */
  read(pattern: string, after: number, limit: number): StoredEvent[];
  /** The last `count` events whose topic matches `pattern`, oldest first. */
  readLast(pattern: string, count: number): StoredEvent[];
  /**
   * True when an event matching `pattern` with a seq above `after` was
   * dropped (by retention, or forgotten with its topic): a reader at `after`
   * cannot be brought up to date. Errs towards true, never towards silence.
   */
  trimmedAfter(pattern: string, after: number): boolean;
  /** The stored event with this envelope id, if stored within the deduplication window. */
  findById(id: string): StoredEvent | undefined;
  /** Flushes and releases files. */
  close(): Promise<void>;
}

/**
 * An ordered, bounded log of the events on history topics. One sequence
 * counts up across every topic (`head` is the last one assigned), so a reader
 * that saw seq N on a connection has seen every event routed to it before N.
 * `epoch` changes whenever continuity is broken; offsets are `<epoch>:<seq>`.
 *
 * Every method is synchronous on purpose: the broker appends and routes in
 * one step, and replays a subscription's history and makes it live in one
 * step, so no publish can fall between them (no gap, no duplicate at the seam).
 */
export interface HistoryStore extends HistoryReader {
  /**
   * Stores an envelope and returns it with its `offset`. Throws an
   * `EventwireError` `unavailable` when it cannot (a file it cannot open or
   * write): the event must then not be routed or acknowledged.
   */
  append(envelope: EventEnvelope, retention: HistoryRetention): EventEnvelope;
}
