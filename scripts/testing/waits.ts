// Bounded waits for every test of the workspace (event-channel, event-broker,
// logger-adapter, the examples): a test waits on an event or a condition, never
// on a timer, and every wait has a deadline that fails it with a message
// naming what did not happen. The deadline is only an upper bound for a hung
// test, never a synchroniser.
//
// Extending: a new kind of wait is a function here built on `within` (a
// promise to bound) or `until` (a condition to poll), taking its deadline as
// its last argument with `waitDefaults.deadlineMs` as the default. A test that
// needs a longer bound (a child process starting, a browser, a server
// restarting) passes it at the call, named in the test file; it never changes
// the default.

/** The defaults of the waits below. */
export const waitDefaults = {
  /**
   * How long a wait may take before it fails the test. Five seconds: what the
   * broker's tests have always used (the channel's were 1 s, and none of them
   * relied on it: they wait on in-process state that is there in microseconds),
   * generous for anything in one process on a loaded two-core machine.
   */
  deadlineMs: 5000,
  /**
   * How often `until` checks its condition. A timer, not every event-loop
   * turn: a wait of seconds must not spin a core that the broker under test
   * and the other test processes share. Timers fire in deadline order, so a
   * condition that turns true ahead of a longer timer of the code under test
   * is still seen first.
   */
  pollMs: 5,
} as const;

/**
 * Resolves with `promise`, or rejects with `Timed out after <ms> ms waiting for
 * <what>` once `ms` passes.
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

/**
 * Resolves once `condition()` holds (checked at once, then every
 * `waitDefaults.pollMs`); fails with `what` after `ms`. For state that changes
 * without an event to await: counters, another process's output, a page.
 * `condition` may be async (a page evaluation, an HTTP request).
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms: number = waitDefaults.deadlineMs): Promise<void> {
  // The poll stops with the deadline: a failed wait must not keep the test process alive.
  let expired = false;
  try {
    await within(
      (async () => {
        while (!expired && !(await condition())) await new Promise((resolve) => setTimeout(resolve, waitDefaults.pollMs));
      })(),
      ms,
      what,
    );
  } finally {
    expired = true;
  }
}

/**
 * The next status of `state` that `channel` (an `EventChannel`, typed by
 * shape so this module needs no package) reports, bounded by `ms`.
 */
export function nextStatus<TStatus extends { readonly state: string }>(
  channel: { onStatus(listener: (status: TStatus) => void): () => void },
  state: TStatus['state'],
  ms: number = waitDefaults.deadlineMs,
): Promise<TStatus> {
  return within(
    new Promise<TStatus>((resolve) => {
      const off = channel.onStatus((status) => {
        if (status.state !== state) return;
        off();
        resolve(status);
      });
    }),
    ms,
    `status ${state}`,
  );
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

/** Collects items until `count` arrived; `done` resolves with them (bound it with `within`). */
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
