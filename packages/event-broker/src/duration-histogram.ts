// Durations in fixed buckets: what a hook's run times look like, kept as a
// dozen numbers per hook (no per-call allocation) and read by /metrics as a
// Prometheus histogram.

/** Upper bounds in seconds, from 50 µs (a synchronous check) to 10 s (past any timeout's default). */
export const durationBuckets: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** A histogram's counts at one moment: `counts[i]` is how many took at most `durationBuckets[i]` (not cumulative), the last entry those above all bounds. */
export interface DurationSnapshot {
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

export class DurationHistogram {
  readonly #counts = new Float64Array(durationBuckets.length + 1);
  #sum = 0;
  #count = 0;

  /** Records one duration in seconds. */
  observe(seconds: number): void {
    let index = 0;
    while (index < durationBuckets.length && seconds > durationBuckets[index]!) index++;
    this.#counts[index]!++;
    this.#sum += seconds;
    this.#count++;
  }

  /** Records the time since `startedAt` (a `performance.now()` reading). */
  since(startedAt: number): void {
    this.observe((performance.now() - startedAt) / 1000);
  }

  snapshot(): DurationSnapshot {
    return { counts: [...this.#counts], sum: this.#sum, count: this.#count };
  }
}
