// One bound on the bytes queued for all readers together. Each connection's
// own bound (maxOutboundBytes) stops one stalled reader from holding much;
// thousands of them at once could still hold the whole heap. Over this
// budget the readers furthest behind are cut first, so the healthy ones keep
// receiving. "Furthest behind" is by time, not bytes: a healthy reader
// taking a burst holds many bytes for a moment, a stalled one has not
// drained its queue for longest.
//
// Each reader's queue is counted in full, although readers of one topic
// share the bytes of each frame (PreparedTextFrame): the sum is an upper
// bound of the memory held, exact when readers want different events.

/** What the budget needs of a connection. */
export interface BudgetedReader {
  /** Bytes queued for it now (read fresh: the kernel drains sockets without telling us). */
  readonly unsentBytes: number;
  /** Since when its queue has not been empty (ms since epoch), if it is not. */
  readonly backloggedSince: number | undefined;
  /** Cuts it as a slow consumer. */
  cutForBudget(): void;
}

export class OutboundBudget {
  readonly #maxBytes: number;
  /** Readers with bytes queued at their last report, and how many. */
  readonly #backlogged = new Map<BudgetedReader, number>();
  #total = 0;
  #cuts = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Readers cut to keep within the budget. */
  get cuts(): number {
    return this.#cuts;
  }

  /**
   * A reader's queue after a flush. Cheap on the delivery path: a map update;
   * the exact (and costlier) recount runs only when the running total says
   * the budget may be exceeded.
   */
  report(reader: BudgetedReader, unsent: number): void {
    const before = this.#backlogged.get(reader) ?? 0;
    if (unsent === before) return;
    this.#total += unsent - before;
    if (unsent > 0) this.#backlogged.set(reader, unsent);
    else this.#backlogged.delete(reader);
    if (this.#total > this.#maxBytes) this.#enforce();
  }

  /** The reader is gone. */
  forget(reader: BudgetedReader): void {
    const before = this.#backlogged.get(reader);
    if (before === undefined) return;
    this.#total -= before;
    this.#backlogged.delete(reader);
  }

  /**
   * Recounts from the sockets (reports go stale as the kernel drains them),
   * and if still over, cuts the largest queues until the rest fit.
   */
  #enforce(): void {
    let total = 0;
    for (const reader of [...this.#backlogged.keys()]) {
      const unsent = reader.unsentBytes;
      if (unsent > 0) {
        this.#backlogged.set(reader, unsent);
        total += unsent;
      } else this.#backlogged.delete(reader);
    }
    this.#total = total;
    if (total <= this.#maxBytes) return;
    const now = Date.now();
    const furthestBehind = [...this.#backlogged].sort(
      ([a, aBytes], [b, bBytes]) => (a.backloggedSince ?? now) - (b.backloggedSince ?? now) || bBytes - aBytes,
    );
    for (const [reader, unsent] of furthestBehind) {
      if (this.#total <= this.#maxBytes) break;
      this.#backlogged.delete(reader);
      this.#total -= unsent;
      this.#cuts++;
      reader.cutForBudget();
    }
  }
}
