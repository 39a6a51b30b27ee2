// The ids of the last n events a reader handed on, to drop a record written
// twice. Why a transport needs it: a produce whose answer was lost (the
// connection closed after the write) may or may not be in the log, and
// sending it again is the only way not to lose it — Kafka's own answer, the
// idempotent producer, is what kafkajs cannot use on every cluster (the
// test cluster among them). The copy lands in the same partition (same key)
// right after the first, so a short window catches it, as JetStream's
// duplicate window does by message id.

/** A bounded set of ids: the oldest leaves when a new one comes past `size`. */
export class RecentIds {
  readonly #size: number;
  readonly #ids = new Set<string>();

  constructor(size: number) {
    this.#size = size;
  }

  /** True when `id` was seen among the last `size` (then it is a repeat); else remembers it. */
  repeat(id: string): boolean {
    if (this.#ids.has(id)) return true;
    this.#ids.add(id);
    if (this.#ids.size > this.#size) this.#ids.delete(this.#ids.values().next().value!);
    return false;
  }
}
