// Intercept hooks run inline before routing, in registration order: each may
// reject, transform, tag or derive, and a hook that throws refuses the event.
import { EventwireError, type EventEnvelope, type EventMap } from '@eventwire/event-channel';
import { DurationHistogram } from './duration-histogram.js';
import { InFlight } from './in-flight.js';
import { compileHook, describeSelector, uniqueName, type DerivedEvent, type HookSelector, type HookStats, type InterceptContext, type PublishOrigin } from './hooks.js';

// What a publish with no intercept hooks derives: shared, frozen, one fewer array per publish.
const noDerived: readonly DerivedEvent[] = Object.freeze([]);

/** Thrown by `context.reject()`; becomes a `rejected` error for the publisher. */
class Rejection {
  constructor(readonly reason: string) {}
}

/** The result of running the intercept chain on one event. */
export type InterceptOutcome =
  | { readonly ok: true; readonly envelope: EventEnvelope; readonly transformed: boolean; readonly derived: readonly DerivedEvent[] }
  | { readonly ok: false; readonly error: EventwireError };

interface Interceptor {
  readonly name: string;
  readonly builtin: boolean;
  readonly matches: (event: EventEnvelope) => boolean;
  readonly mayMatchTopic: (topic: string) => boolean;
  readonly fn: (event: EventEnvelope, context: InterceptContext<EventMap, EventEnvelope>) => unknown;
  calls: number;
  failures: number;
  readonly durations: DurationHistogram;
}

/**
 * Intercept hooks, run inline before routing in registration order. Each may
 * reject, transform, tag or derive; synchronous hooks cost no extra tick, an
 * async one is awaited under `timeoutMs`. A hook that throws refuses the event
 * (fail closed): an intercept is a gate, and a broken gate must not open.
 */
export class InterceptChain {
  /** Chains waiting on an asynchronous hook now. */
  readonly inFlight = new InFlight();
  readonly #hooks: Interceptor[] = [];
  readonly #timeoutMs: number;
  readonly #report: (error: EventwireError) => void;

  constructor(timeoutMs: number, report: (error: EventwireError) => void) {
    this.#timeoutMs = timeoutMs;
    this.#report = report;
  }

  add(selector: HookSelector, fn: Interceptor['fn'], name = describeSelector(selector), builtin = false): () => void {
    const hook: Interceptor = {
      name: uniqueName(name, this.#hooks),
      builtin,
      ...compileHook(selector, fn),
      calls: 0,
      failures: 0,
      durations: new DurationHistogram(),
    };
    this.#hooks.push(hook);
    return () => {
      const index = this.#hooks.indexOf(hook);
      if (index >= 0) this.#hooks.splice(index, 1);
    };
  }

  get size(): number {
    return this.#hooks.length;
  }

  /** Whether some hook could run for an event on `topic`. */
  mayMatchTopic(topic: string): boolean {
    return this.#hooks.some((hook) => hook.mayMatchTopic(topic));
  }

  stats(): HookStats[] {
    return this.#hooks.map((hook) => ({
      kind: 'intercept',
      name: hook.name,
      builtin: hook.builtin,
      calls: hook.calls,
      failures: hook.failures,
      dropped: 0,
      queued: 0,
      durations: hook.durations.snapshot(),
    }));
  }

  run(envelope: EventEnvelope, origin: PublishOrigin): InterceptOutcome | Promise<InterceptOutcome> {
    if (this.#hooks.length === 0) return { ok: true, envelope, transformed: false, derived: noDerived };
    const draft = new Draft(envelope, origin);
    const hooks = [...this.#hooks];
    for (let index = 0; index < hooks.length; index++) {
      const hook = hooks[index]!;
      const step = this.#call(hook, draft);
      if (step instanceof Promise) return this.inFlight.track(this.#continue(hooks, index, step, draft));
      if (step) return step;
    }
    return draft.outcome();
  }

  async #continue(
    hooks: Interceptor[],
    index: number,
    pending: Promise<InterceptOutcome | undefined>,
    draft: Draft,
  ): Promise<InterceptOutcome> {
    const first = await pending;
    if (first) return first;
    for (let next = index + 1; next < hooks.length; next++) {
      const step = await this.#call(hooks[next]!, draft);
      if (step) return step;
    }
    return draft.outcome();
  }

  /** Runs one hook; returns a failed outcome, nothing to go on, or a promise of either. */
  #call(hook: Interceptor, draft: Draft): InterceptOutcome | undefined | Promise<InterceptOutcome | undefined> {
    const event = draft.current();
    if (!hook.matches(event)) return undefined;
    hook.calls++;
    const startedAt = performance.now();
    let result: unknown;
    try {
      result = hook.fn(event, draft.context);
    } catch (error) {
      hook.durations.since(startedAt);
      return this.#failed(hook, error);
    }
    if (!(result instanceof Promise)) {
      hook.durations.since(startedAt);
      return undefined;
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new EventwireError('timeout', `Intercept "${hook.name}" took longer than ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    return Promise.race([result, deadline]).then(
      () => undefined,
      (error: unknown) => this.#failed(hook, error),
    ).finally(() => {
      clearTimeout(timer);
      hook.durations.since(startedAt);
    });
  }

  #failed(hook: Interceptor, error: unknown): InterceptOutcome {
    if (error instanceof Rejection) {
      return { ok: false, error: new EventwireError('rejected', error.reason) };
    }
    hook.failures++;
    // A gate saying "not now" (a sink it guards cannot write): the refusal is
    // the message, retryable as it is; the gate itself reports the outage once.
    if (error instanceof EventwireError && error.code === 'unavailable') return { ok: false, error };
    const failure =
      error instanceof EventwireError && error.code === 'timeout'
        ? error
        : new EventwireError('internal', `Intercept "${hook.name}" failed; the event was refused`, {
            cause: error,
          });
    this.#report(failure);
    return { ok: false, error: failure };
  }
}

/** The event being intercepted, with the changes hooks asked for so far. */
class Draft {
  readonly context: InterceptContext<EventMap, EventEnvelope>;
  readonly derived: DerivedEvent[] = [];
  #envelope: EventEnvelope;
  #transformed = false;

  constructor(envelope: EventEnvelope, origin: PublishOrigin) {
    this.#envelope = envelope;
    this.context = {
      origin,
      reject: (reason: string): never => {
        throw new Rejection(String(reason));
      },
      transform: (data: unknown) => {
        this.#envelope = { ...this.#envelope, data };
        this.#transformed = true;
      },
      setMetadata: (key: string, value: string) => {
        this.#envelope = { ...this.#envelope, metadata: { ...this.#envelope.metadata, [key]: String(value) } };
      },
      emit: (topic: string, data: unknown) => {
        this.derived.push({ topic, data });
      },
    };
  }

  current(): EventEnvelope {
    return this.#envelope;
  }

  outcome(): InterceptOutcome {
    return { ok: true, envelope: this.#envelope, transformed: this.#transformed, derived: this.derived };
  }
}
