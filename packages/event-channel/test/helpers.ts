// Shared test helpers: waits with deadlines (never sleeps), unique topics.
import { EventwireError } from '../src/index.js';

let topicCounter = 0;

/** A topic no other test uses, so tests never see each other's events. */
export function uniqueTopic(prefix = 't'): string {
  return `${prefix}${++topicCounter}x${process.pid}`;
}

/**
 * Resolves with `promise`, or rejects with a clear message once `ms` passes.
 * The deadline is only an upper bound for a hung test, never a synchroniser.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves once `condition()` holds, checked after each event-loop turn; fails with `what` after `ms`. */
export async function until(condition: () => boolean, what: string, ms = 1000): Promise<void> {
  // The poll stops with the deadline: a failed wait must not keep the test process alive.
  let expired = false;
  try {
    await within(
      (async () => {
        while (!expired && !condition()) await new Promise((resolve) => setImmediate(resolve));
      })(),
      ms,
      what,
    );
  } finally {
    expired = true;
  }
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Collects items until `count` arrived; `done` resolves with them. */
export function collector<T>(count: number): { items: T[]; push: (item: T) => void; done: Promise<T[]> } {
  const items: T[] = [];
  const finished = deferred<T[]>();
  if (count === 0) finished.resolve(items);
  return {
    items,
    push(item: T) {
      items.push(item);
      if (items.length === count) finished.resolve(items);
    },
    done: finished.promise,
  };
}

/** Runs `fn`, expecting it to throw or reject with an EventwireError of `code`. */
export async function expectCode(fn: () => unknown, code: string): Promise<EventwireError> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof EventwireError)) {
      throw new Error(`Expected EventwireError "${code}", got ${String(error)}`);
    }
    if (error.code !== code) throw new Error(`Expected code "${code}", got "${error.code}": ${error.message}`);
    return error;
  }
  throw new Error(`Expected EventwireError "${code}", but nothing was thrown`);
}
