// Between losing its subscription on the server and having it back, an
// engine misses what other brokers publish: Redis and PostgreSQL keep
// nothing for a subscriber that is away, and NATS core does not either. Every
// engine records that here, the same way: when the loss began, whether events
// may really have been missed, and the events that arrive on the new
// subscription before the engine knows it is back. Those are held and
// delivered after the broker has told its clients of the gap, so a client's
// gap sits exactly where its hole is: before the first event after it.
import type { ClusterLoss } from './cluster-engine.js';

export class SubscriptionLoss {
  readonly #maxHeld: number;
  /** When the subscription was lost; undefined while it is live. */
  #since: number | undefined;
  #missed = false;
  #held: Array<() => void> = [];

  /** `maxHeld`: most events held until the subscription is back; past it they are dropped (the gap covers them). */
  constructor(maxHeld: number) {
    this.#maxHeld = maxHeld;
  }

  /** Whether the subscription is lost (deliveries are held). */
  get active(): boolean {
    return this.#since !== undefined;
  }

  /** The subscription is gone, or may be: from now on events may be missed. A loss already open keeps its start. */
  lost(now = Date.now()): void {
    this.#since ??= now;
  }

  /** Events were (or may have been) missed during this loss: the server said so. No-op while live. */
  missed(): void {
    if (this.#since !== undefined) this.#missed = true;
  }

  /** Runs `deliver` now, or, during a loss, once the gap is said (dropped past `maxHeld`, which is missing events too). */
  deliver(deliver: () => void): void {
    if (this.#since === undefined) return deliver();
    if (this.#held.length >= this.#maxHeld) {
      this.#missed = true;
      return;
    }
    this.#held.push(deliver);
  }

  /**
   * The subscription is live again: `report` the gap (once, if events may
   * have been missed), then deliver what was held, in arrival order.
   */
  recovered(report: (loss: ClusterLoss) => void): void {
    const since = this.#since;
    if (since === undefined) return;
    const missed = this.#missed;
    const held = this.#held;
    this.#since = undefined;
    this.#missed = false;
    this.#held = [];
    if (missed) report({ reason: 'no_history', since });
    for (const deliver of held) deliver();
  }

  /** The engine is closing: nothing held is delivered any more. */
  clear(): void {
    this.#since = undefined;
    this.#missed = false;
    this.#held = [];
  }
}
