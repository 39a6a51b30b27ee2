// Work the broker has started for a client and not finished: an
// authentication, a channel rule, an asynchronous intercept chain. Counted
// only on those asynchronous paths (a synchronous hook or a public channel
// costs nothing). What reads it: the test kit, to know when an in-process
// hub has settled — this work may wait on a thread-pool job (a JWT's
// signature) or on the application's own I/O, which no frame in flight shows.
export class InFlight {
  #count = 0;

  /** Started and not yet settled. */
  get count(): number {
    return this.#count;
  }

  /** Counts `work` until it settles, and returns it as it is. */
  track<T>(work: Promise<T>): Promise<T> {
    this.#count++;
    const done = (): void => void this.#count--;
    work.then(done, done);
    return work;
  }
}
