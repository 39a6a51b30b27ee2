// The bound on one emit: every transport gives an emit its deadline when
// `publish` is called (`requestTimeoutMs` from then), and the emit keeps it
// while it waits in the outbox, is written, is put back after a lost
// connection and is written again. Whatever the connection does meanwhile,
// the emit settles by then: sent (acknowledged, where asked), or `timeout`.
//
// Emits without `ack` get the same deadline, on purpose. Their promise
// resolves when they are written, so without one an awaited fire-and-forget
// emit would hang for the whole outage, as the acknowledged ones did
// (issue #29). And an event that waited longer than the bound is stale by
// the application's own measure: a demanding user wants it dropped (and
// told) rather than delivered minutes late after the reconnect, and wants
// the outbox to keep taking fresh emits during a long outage instead of
// filling with old ones and refusing new ones with `buffer_overflow`. The
// outbox's size still bounds how many wait; the deadline bounds how long.
import { EventwireError } from './errors.js';

/** Milliseconds on a monotonic clock (a wall-clock step must not fire or hold back deadlines). */
export function deadlineClock(): number {
  return performance.now();
}

/**
 * One emit's promise and its deadline. Settles once: whoever comes second
 * (an ack after its timeout, a timeout after its ack) changes nothing, so
 * the several places that may settle an emit need no coordination.
 */
export class PendingEmit {
  /** When the emit must have settled, on {@link deadlineClock}. */
  readonly deadline: number;
  /**
   * Written to a connection at least once. A timeout then cannot say what
   * became of it: the peer may have it (and, where it keeps history,
   * deduplicates a re-send by the event id).
   */
  sent = false;
  readonly #resolve: () => void;
  readonly #reject: (error: EventwireError) => void;
  #settled = false;

  constructor(resolve: () => void, reject: (error: EventwireError) => void, deadline: number) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.deadline = deadline;
  }

  /** An emit made now, bounded by `timeoutMs`. */
  static within(timeoutMs: number, resolve: () => void, reject: (error: EventwireError) => void): PendingEmit {
    return new PendingEmit(resolve, reject, deadlineClock() + timeoutMs);
  }

  get settled(): boolean {
    return this.#settled;
  }

  resolve(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#resolve();
  }

  reject(error: EventwireError): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#reject(error);
  }

  /** Milliseconds left until the deadline; 0 once it passed. */
  remainingMs(now = deadlineClock()): number {
    return Math.max(0, this.deadline - now);
  }

  /**
   * The deadline passed: rejects with `timeout`. Never sent, the message says
   * it will not be (it has left the outbox); sent, that its outcome is unknown.
   */
  expire(timeoutMs: number): void {
    this.reject(
      new EventwireError(
        'timeout',
        this.sent
          ? `Sent, but not acknowledged within ${timeoutMs} ms of the emit (the connection was lost or the peer did not answer): the outcome is unknown`
          : `Not sent within ${timeoutMs} ms of the emit (no connection meanwhile): it was dropped and will not be sent`,
      ),
    );
  }
}
