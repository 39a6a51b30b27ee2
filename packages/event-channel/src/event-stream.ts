import { BufferOverflowError, type EventwireError } from './errors.js';
import type { HistorySince } from './history-replay.js';

/** What a full stream buffer does with one more event. */
export type OverflowPolicy = 'drop-oldest' | 'error';

/** Options of `channel.subscribe()`. */
export interface SubscribeOptions {
  /** Ends the stream (the loop exits normally) when aborted. */
  readonly signal?: AbortSignal;
  /**
   * How many undelivered events the stream holds while the consumer is busy.
   * Bounded so a slow consumer costs bounded memory.
   * @default 1024
   */
  readonly bufferSize?: number;
  /**
   * What happens when the buffer is full: `'drop-oldest'` discards the oldest
   * buffered event (counted in `dropped`); `'error'` ends the stream with a
   * `buffer_overflow` error once the buffered events are consumed.
   * @default 'drop-oldest'
   */
  readonly overflow?: OverflowPolicy;
  /** Read history first, then live events: `'earliest'`, an offset, or `{ last: n }` (see `on`). */
  readonly since?: HistorySince;
}

/** Defaults of {@link SubscribeOptions}. */
export const subscribeDefaults = { bufferSize: 1024, overflow: 'drop-oldest' } as const satisfies
  Required<Omit<SubscribeOptions, 'signal' | 'since'>>;

/**
 * A pull-based view of a subscription: `for await (const event of stream)`.
 * Breaking out of the loop, `close()`, the signal or the channel closing all
 * end it and release the subscription.
 */
export interface EventStream<TEvent> extends AsyncIterableIterator<TEvent> {
  /** Events discarded because the buffer was full. */
  readonly dropped: number;
  /** Resolves once the subscription is live on the transport. */
  readonly ready: Promise<void>;
  /** Ends the stream; buffered events are discarded. Idempotent. */
  close(): void;
}

/**
 * The buffer behind an {@link EventStream}. The producer side (`push`, `end`)
 * is for the channel; the consumer side is the async iterator.
 * @internal
 */
export class BufferedEventStream<TEvent> implements EventStream<TEvent> {
  readonly ready: Promise<void>;
  readonly #buffer: TEvent[] = [];
  readonly #capacity: number;
  readonly #policy: OverflowPolicy;
  readonly #release: () => void;
  #head = 0;
  #dropped = 0;
  #waiting: ((result: IteratorResult<TEvent>) => void) | undefined;
  #waitingReject: ((error: unknown) => void) | undefined;
  #ended = false;
  #failure: EventwireError | undefined;

  constructor(options: {
    bufferSize: number;
    overflow: OverflowPolicy;
    ready: Promise<void>;
    release: () => void;
  }) {
    this.#capacity = options.bufferSize;
    this.#policy = options.overflow;
    this.ready = options.ready;
    this.#release = options.release;
  }

  get dropped(): number {
    return this.#dropped;
  }

  /** Offers one event; applies the overflow policy when the buffer is full. */
  push(event: TEvent): void {
    if (this.#ended) return;
    if (this.#waiting) {
      const resolve = this.#waiting;
      this.#clearWaiter();
      resolve({ value: event, done: false });
      return;
    }
    if (this.#buffer.length - this.#head >= this.#capacity) {
      this.#dropped++;
      if (this.#policy === 'error') {
        this.end(new BufferOverflowError('The subscription buffer', this.#capacity));
        return;
      }
      this.#head++;
    }
    this.#buffer.push(event);
    this.#compact();
  }

  /**
   * Stops accepting events. Buffered events are still yielded; then the loop
   * ends, or throws `failure` if given.
   */
  end(failure?: EventwireError): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#failure = failure;
    this.#release();
    if (this.#waiting && this.#buffer.length === this.#head) this.#settleWaiter();
  }

  close(): void {
    this.#buffer.length = 0;
    this.#head = 0;
    this.#failure = undefined;
    this.end();
    if (this.#waiting) this.#settleWaiter();
  }

  next(): Promise<IteratorResult<TEvent>> {
    if (this.#head < this.#buffer.length) {
      const value = this.#buffer[this.#head++]!;
      this.#compact();
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) {
      const failure = this.#failure;
      this.#failure = undefined;
      return failure ? Promise.reject(failure) : Promise.resolve({ value: undefined, done: true });
    }
    if (this.#waiting) {
      return Promise.reject(new TypeError('next() called again before the previous call settled'));
    }
    return new Promise((resolve, reject) => {
      this.#waiting = resolve;
      this.#waitingReject = reject;
    });
  }

  return(): Promise<IteratorResult<TEvent>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #settleWaiter(): void {
    const resolve = this.#waiting!;
    const reject = this.#waitingReject!;
    this.#clearWaiter();
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure) reject(failure);
    else resolve({ value: undefined, done: true });
  }

  #clearWaiter(): void {
    this.#waiting = undefined;
    this.#waitingReject = undefined;
  }

  /** Drops consumed slots once they dominate, keeping push/next O(1) amortised. */
  #compact(): void {
    if (this.#head > 64 && this.#head * 2 > this.#buffer.length) {
      this.#buffer.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
