import { BufferOverflowError, EventwireError, toEventwireError } from './errors.js';

/** What a full outbox does with one more item. */
export type OutboxOverflow = 'reject' | 'drop-oldest';

/**
 * A bounded FIFO for work that waits for a connection. `push` applies the
 * overflow policy: `'reject'` throws `buffer_overflow` (the newest is refused),
 * `'drop-oldest'` evicts and returns the oldest item so its owner can be told.
 */
export class Outbox<TItem> {
  readonly #items: TItem[] = [];
  readonly #capacity: number;
  readonly #overflow: OutboxOverflow;
  #dropped = 0;

  constructor(capacity: number, overflow: OutboxOverflow) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`outbox size must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#overflow = overflow;
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
      return undefined;
    }
    this.#dropped++;
    if (this.#overflow === 'reject') throw new BufferOverflowError('The outbox', this.#capacity);
    const evicted = this.#items.shift();
    this.#items.push(item);
    return evicted;
  }

  /**
   * Puts items back at the front, in order (work that was in flight when the
   * connection dropped goes out again first). May exceed the capacity briefly:
   * these were already accepted once.
   */
  requeue(items: readonly TItem[]): void {
    this.#items.unshift(...items);
  }

  /** Removes and returns everything, oldest first. */
  drain(): TItem[] {
    return this.#items.splice(0, this.#items.length);
  }
}

/**
 * Holds an emit that waits for the connection: a full `'reject'` outbox
 * refuses it at once, a full `'drop-oldest'` one takes it and refuses the
 * oldest instead (each through its own `reject`).
 */
export function holdPending<TItem extends { reject(error: EventwireError): void }>(outbox: Outbox<TItem>, item: TItem): void {
  let evicted: TItem | undefined;
  try {
    evicted = outbox.push(item);
  } catch (error) {
    return item.reject(toEventwireError(error));
  }
  evicted?.reject(new EventwireError('buffer_overflow', 'Dropped from the full outbox while disconnected'));
}
