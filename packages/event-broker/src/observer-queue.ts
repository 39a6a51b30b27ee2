// Observers: each hook with its own bounded queue, drained by one async loop,
// after delivery, so a slow or failing observer only ever delays itself.
import { EventwireError, toEventwireError, type EventEnvelope, type EventMap } from '@eventwire/event-channel';
import { DurationHistogram } from './duration-histogram.js';
import { compileHook, type HookStats, type ObserveContext } from './hooks.js';

interface QueuedObservation {
  readonly event: EventEnvelope;
  readonly context: ObserveContext<EventMap>;
}

/**
 * One observer with its own bounded queue, drained by one async loop. A slow
 * or failing observer only ever delays itself: routing never waits for it.
 */
export class ObserverQueue {
  readonly name: string;
  readonly builtin: boolean;
  readonly matches: (event: EventEnvelope) => boolean;
  readonly mayMatchTopic: (topic: string) => boolean;
  readonly #fn: (event: EventEnvelope, context: ObserveContext<EventMap>) => unknown;
  readonly #capacity: number;
  readonly #timeoutMs: number;
  readonly #report: (error: EventwireError) => void;
  #queue: QueuedObservation[] = [];
  #head = 0;
  #running = false;
  #idle: Array<() => void> = [];
  calls = 0;
  failures = 0;
  dropped = 0;
  readonly #durations = new DurationHistogram();

  constructor(options: {
    name: string;
    builtin?: boolean;
    matches: (event: EventEnvelope) => boolean;
    /** Whether it could match some event on a topic (see compileHook); by default it could. */
    mayMatchTopic?: (topic: string) => boolean;
    fn: (event: EventEnvelope, context: ObserveContext<EventMap>) => unknown;
    capacity: number;
    timeoutMs: number;
    report: (error: EventwireError) => void;
  }) {
    this.name = options.name;
    this.builtin = options.builtin ?? false;
    this.matches = options.matches;
    this.mayMatchTopic = options.mayMatchTopic ?? (() => true);
    this.#fn = options.fn;
    this.#capacity = options.capacity;
    this.#timeoutMs = options.timeoutMs;
    this.#report = options.report;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Queues one event; when full, the oldest waiting one is dropped and counted. */
  push(event: EventEnvelope, context: ObserveContext<EventMap>): void {
    if (this.queued >= this.#capacity) {
      this.#head++;
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 1000 === 0) {
        this.#report(
          new EventwireError('buffer_overflow', `Observer "${this.name}" is behind; ${this.dropped} events dropped so far`),
        );
      }
    }
    this.#queue.push({ event, context });
    if (!this.#running) {
      this.#running = true;
      // Off the publish path: start after the current publish has returned.
      queueMicrotask(() => void this.#drain());
    }
  }

  /** Handing events to the hook now (from the first queued until the queue is empty). */
  get running(): boolean {
    return this.#running;
  }

  /** Resolves when the queue is empty (for shutdown). */
  idle(): Promise<void> {
    if (!this.#running) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #drain(): Promise<void> {
    while (this.#head < this.#queue.length) {
      const item = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined as never;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      this.calls++;
      const startedAt = performance.now();
      try {
        await this.#callWithDeadline(item);
        this.#durations.since(startedAt);
      } catch (error) {
        this.#durations.since(startedAt);
        this.failures++;
        this.#report(
          new EventwireError('handler_failed', `Observer "${this.name}" failed on ${item.event.topic} (${item.event.id})`, {
            cause: toEventwireError(error),
          }),
        );
      }
    }
    this.#queue = [];
    this.#head = 0;
    this.#running = false;
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #callWithDeadline(item: QueuedObservation): Promise<void> {
    const result = this.#fn(item.event, item.context);
    if (!(result instanceof Promise)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        result,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new EventwireError('timeout', `took longer than ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  stats(): HookStats {
    return {
      kind: 'observe',
      name: this.name,
      builtin: this.builtin,
      calls: this.calls,
      failures: this.failures,
      dropped: this.dropped,
      queued: this.queued,
      durations: this.#durations.snapshot(),
    };
  }
}
