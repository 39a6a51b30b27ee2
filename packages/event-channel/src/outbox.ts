import { deadlineClock, type PendingEmit } from './emit-deadline.js';
import { BufferOverflowError, EventwireError, toEventwireError } from './errors.js';

/** What a full outbox does with one more item. */
export type OutboxOverflow = 'reject' | 'drop-oldest';

/**
 * The outbox expiry of a transport's held emits: each leaves at its emit's
 * deadline, rejected with `timeout`.
 */
export function emitExpiry<TItem extends { readonly emit: PendingEmit }>(timeoutMs: number): OutboxExpiry<TItem> {
  return {
    deadline: (item) => item.emit.deadline,
    expired: (item) => item.emit.expire(timeoutMs),
  };
}

/**
 * How an outbox ends items that waited too long (the emits of a channel:
 * see `PendingEmit`). Without it, items wait until drained, however long.
 */
export interface OutboxExpiry<TItem> {
  /** When `item` must leave the outbox, on `deadlineClock()`. */
  deadline(item: TItem): number;
  /** `item` was removed because its deadline passed; it will not be drained. */
  expired(item: TItem): void;
}

/**
 * A bounded FIFO for work that waits for a connection. `push` applies the
 * overflow policy: `'reject'` throws `buffer_overflow` (the newest is refused),
 * `'drop-oldest'` evicts and returns the oldest item so its owner can be told.
 *
 * With an `expiry`, an item whose deadline passes is removed and handed to
 * `expired` — by the time it is due, not only at the next drain, so a caller
 * waiting on it is answered while the connection is still down. One timer
 * serves the whole outbox, set for the item at the front: items enter in the
 * order their deadlines were given (emit order, each `now + the transport's
 * one bound`; what `requeue` puts back in front was emitted earlier still),
 * so the front item is always the next due. Thousands of held emits cost one
 * timer, and the order of what is later drained is untouched.
 */
export class Outbox<TItem> {
  #items: TItem[] = [];
  readonly #capacity: number;
  readonly #overflow: OutboxOverflow;
  readonly #expiry: OutboxExpiry<TItem> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When #timer fires (the front item's deadline when it was set). */
  #timerAt = Number.POSITIVE_INFINITY;
  #dropped = 0;

  constructor(capacity: number, overflow: OutboxOverflow, expiry?: OutboxExpiry<TItem>) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`outbox size must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#overflow = overflow;
    this.#expiry = expiry;
  }

  get size(): number {
    return this.#items.length;
  }

  /** Items refused or evicted because the outbox was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds an item; returns an evicted item under `'drop-oldest'`. */
  push(item: TItem): TItem | undefined {
    if (this.#items.length < this.#capacity) {
      this.#items.push(item);
      this.#schedule();
      return undefined;
    }
    this.#dropped++;
    if (this.#overflow === 'reject') throw new BufferOverflowError('The outbox', this.#capacity);
    const evicted = this.#items.shift();
    this.#items.push(item);
    this.#schedule();
    return evicted;
  }

  /**
   * Puts items back at the front, in order (work that was in flight when the
   * connection dropped goes out again first). May exceed the capacity briefly:
   * these were already accepted once. Items already past their deadline are
   * expired at once instead.
   */
  requeue(items: readonly TItem[]): void {
    this.#items.unshift(...items);
    this.#expireDue();
  }

  /** Removes and returns everything, oldest first (what is already due is expired, not returned). */
  drain(): TItem[] {
    this.#expireDue();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const items = this.#items;
    this.#items = [];
    return items;
  }

  /** Expires every due item at the front, then sets the timer for the next one. */
  #expireDue(): void {
    const expiry = this.#expiry;
    if (!expiry) return;
    const now = deadlineClock();
    let due = 0;
    while (due < this.#items.length && expiry.deadline(this.#items[due]!) <= now) due++;
    // Removed before anyone is told: an `expired` callback that emits again
    // (a retry) finds the outbox consistent.
    const expired = due > 0 ? this.#items.splice(0, due) : [];
    this.#schedule();
    for (const item of expired) expiry.expired(item);
  }

  #schedule(): void {
    const expiry = this.#expiry;
    if (!expiry) return;
    const front = this.#items[0];
    const at = front === undefined ? Number.POSITIVE_INFINITY : expiry.deadline(front);
    if (at === this.#timerAt) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    // Not unref'd: a caller may be awaiting exactly this answer.
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#expireDue();
    }, Math.max(0, at - deadlineClock()));
  }
}

/**
 * Holds an emit that waits for the connection: a full `'reject'` outbox
 * refuses it at once, a full `'drop-oldest'` one takes it and refuses the
 * oldest instead (each through its own emit).
 */
export function holdPending<TItem extends { readonly emit: PendingEmit }>(outbox: Outbox<TItem>, item: TItem): void {
  let evicted: TItem | undefined;
  try {
    evicted = outbox.push(item);
  } catch (error) {
    return item.emit.reject(toEventwireError(error));
  }
  evicted?.emit.reject(new EventwireError('buffer_overflow', 'Dropped from the full outbox while disconnected'));
}
