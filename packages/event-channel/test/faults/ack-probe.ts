// A publisher's view of its acknowledged emits during a fault: emits at a
// steady rate and records, for each, when it was made, when it settled and
// how (acked, or the error code). The fault tests of every transport share
// it, so "every emit settles within its bound" is checked the same way.
import { EventwireError } from '../../src/index.js';

export interface EmitRecord {
  readonly seq: number;
  readonly startedAt: number;
  settledAt?: number;
  /** `'acked'`, or the EventwireError code it was rejected with. */
  outcome?: string;
}

/** What the probe emits with: `emit(seq)` makes one acknowledged emit carrying `seq`. */
export type ProbeEmit = (seq: number) => Promise<unknown>;

export class AckProbe {
  readonly records: EmitRecord[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #settled = new Set<Promise<void>>();

  /** Emits one event every `everyMs` until `stop()` (the load of the fault, not a synchroniser). */
  start(emit: ProbeEmit, everyMs: number): void {
    this.#timer = setInterval(() => this.#emitOne(emit), everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #emitOne(emit: ProbeEmit): void {
    const record: EmitRecord = { seq: this.records.length, startedAt: performance.now() };
    this.records.push(record);
    const settled = emit(record.seq).then(
      () => {
        record.outcome = 'acked';
      },
      (error: unknown) => {
        record.outcome = error instanceof EventwireError ? error.code : `not an EventwireError: ${String(error)}`;
      },
    );
    const done = settled.then(() => {
      record.settledAt = performance.now();
      this.#settled.delete(done);
    });
    this.#settled.add(done);
  }

  count(outcome: string): number {
    return this.records.filter((record) => record.outcome === outcome).length;
  }

  /** Emits made after `since` (performance.now()) that were acknowledged. */
  ackedSince(since: number): number {
    return this.records.filter((record) => record.startedAt >= since && record.outcome === 'acked').length;
  }

  get pending(): EmitRecord[] {
    return this.records.filter((record) => record.outcome === undefined);
  }

  /** Waits (at most `ms`) for every emit made so far to settle; resolves either way. */
  async settle(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all([...this.#settled]), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** The slowest emit's time to settle, in ms. */
  get slowestMs(): number {
    return Math.max(0, ...this.records.map((record) => (record.settledAt ?? Number.POSITIVE_INFINITY) - record.startedAt));
  }

  /** Emits that took longer than `ms` to settle (or never did). */
  slowerThan(ms: number): EmitRecord[] {
    return this.records.filter((record) => (record.settledAt ?? Number.POSITIVE_INFINITY) - record.startedAt > ms);
  }

  /** A few of `records` for a failure message: when each started (ms after `origin`), how long it took, how it ended. */
  describe(records: readonly EmitRecord[], origin: number): string {
    return records
      .slice(0, 5)
      .map((record) => `#${record.seq} at ${Math.round(record.startedAt - origin)} ms took ${Math.round((record.settledAt ?? Number.NaN) - record.startedAt)} ms: ${record.outcome ?? 'pending'}`)
      .join('; ');
  }

  /** Outcomes other than those listed, with their counts. */
  unexpected(allowed: readonly string[]): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const record of this.records) {
      const outcome = record.outcome ?? 'pending';
      if (!allowed.includes(outcome)) counts[outcome] = (counts[outcome] ?? 0) + 1;
    }
    return counts;
  }
}

/** How many times each seq arrived at a subscriber; the seqs that arrived more than once. */
export class DeliveryCount {
  readonly #seen = new Map<number, number>();

  add(seq: number): void {
    this.#seen.set(seq, (this.#seen.get(seq) ?? 0) + 1);
  }

  has(seq: number): boolean {
    return this.#seen.has(seq);
  }

  get duplicates(): number[] {
    return [...this.#seen].filter(([, count]) => count > 1).map(([seq]) => seq);
  }
}
