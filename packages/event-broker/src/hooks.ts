import { InFlight } from './in-flight.js';
import { DurationHistogram, type DurationSnapshot } from './duration-histogram.js';
import {
  EventwireError,
  captureParams,
  parsePattern,
  toEventwireError,
  topicMatches,
  type EventEnvelope,
  type EventInput,
  type EventMap,
  type EventTopic,
  type MatchingTopics,
  type NormalisePattern,
  type PatternCaptures,
  type TopicCheck,
} from '@eventwire/event-channel';
import { isMatching, type P } from 'ts-pattern';
import type { BrokerUser } from './auth/authenticate.js';
import type { PublishingSurfaceName } from './surfaces/surface.js';

/** Where a publish came from. */
export interface PublishOrigin {
  /**
   * The WebSocket surface a client published through (`native`, `pusher`'s
   * client events, or one of your own registered to publish: see
   * `SurfaceRegistry`); `http` for every HTTP API (Synap's and Pusher's
   * included); `broker` for hooks, the dashboard and `broker.publish`.
   */
  readonly surface: PublishingSurfaceName | 'http' | 'broker';
  /** The connection that published, for WebSocket surfaces. */
  readonly connectionId?: string;
  /** Who published, when the broker authenticates (undefined: anonymous or the broker itself). */
  readonly user?: BrokerUser | undefined;
  /**
   * A connection this event is not delivered to: the publisher's own, for a
   * publish "to others" (`toOthers`, HTTP `socket_id` / `X-Socket-ID`).
   */
  readonly except?: string;
}

/** An event as hooks see it: the wire shape (the schema's input type). */
export type HookEvent<TEvents extends EventMap, TTopic extends EventTopic<TEvents>> = TTopic extends unknown
  ? EventEnvelope<TTopic, EventInput<TEvents, TTopic>>
  : never;

/** Every event of the map, as a union discriminated by topic. */
export type AnyHookEvent<TEvents extends EventMap> = HookEvent<TEvents, EventTopic<TEvents>>;

/** The events a topic pattern selects (its `{name}` captures match as `*`). */
export type TopicHookEvent<TEvents extends EventMap, TPattern extends string> = HookEvent<
  TEvents,
  MatchingTopics<EventTopic<TEvents>, NormalisePattern<TPattern>>
>;

/**
 * What a hook's context adds for its topic pattern: `params`, the captured
 * segments by name, for a pattern with `{name}` captures
 * (`observe('order.{id}.#', (event, ctx) => ctx.params.id)`); nothing otherwise.
 */
export type HookParams<TPattern extends string> = PatternCaptures<TPattern>;

/** The events a ts-pattern pattern over the envelope selects. */
export type PatternHookEvent<TEvents extends EventMap, TPattern> = P.narrow<AnyHookEvent<TEvents>, TPattern>;

/** Lets hooks publish events of their own ("derived" events). */
export interface EmitContext<TEvents extends EventMap> {
  /** Where the triggering event came from. */
  readonly origin: PublishOrigin;
  /**
   * Publishes a derived event once the triggering one has been routed. It is
   * validated and hooked like any publish; its `metadata.causationid` names
   * the triggering event, and hook loops stop at `maxDerivedDepth`.
   */
  emit<TTopic extends EventTopic<TEvents>>(topic: TTopic & TopicCheck<TEvents, TTopic>, data: EventInput<TEvents, TTopic>): void;
}

/** What an `intercept` hook may do to the event before it is routed. */
export interface InterceptContext<TEvents extends EventMap, TEvent> extends EmitContext<TEvents> {
  /** Refuses the event: nobody receives it, the publisher gets `rejected` with `reason`. */
  reject(reason: string): never;
  /** Replaces the event's data (validated again against its schema). */
  transform(data: TEvent extends { readonly data: infer TData } ? TData : unknown): void;
  /** Adds or replaces one metadata entry. */
  setMetadata(key: string, value: string): void;
}

/** What an `observe` hook gets besides the event. */
export interface ObserveContext<TEvents extends EventMap> extends EmitContext<TEvents> {
  /** How many subscribers the event reached. */
  readonly notified: number;
}

export type InterceptHook<TEvents extends EventMap, TEvent, TExtra = unknown> = (
  event: TEvent,
  context: InterceptContext<TEvents, TEvent> & TExtra,
) => unknown;

export type ObserveHook<TEvents extends EventMap, TEvent, TExtra = unknown> = (
  event: TEvent,
  context: ObserveContext<TEvents> & TExtra,
) => unknown;

/** A derived event a hook asked for, published after its cause. */
export interface DerivedEvent {
  readonly topic: string;
  readonly data: unknown;
}

// What a publish with no intercept hooks derives: shared, frozen, one fewer array per publish.
const noDerived: readonly DerivedEvent[] = Object.freeze([]);

/** Per-hook counters, as reported by `broker.stats().hooks`. */
export interface HookStats {
  readonly kind: 'intercept' | 'observe';
  /**
   * The name given with `{ name }`, else the selector (`order.*`). Unique
   * among hooks of one kind: a second hook under a taken name gets ` #2`
   * (so `/metrics` series never collide).
   */
  readonly name: string;
  /** One of the broker's own hooks (audit log, webhooks, dashboard), not the application's. */
  readonly builtin: boolean;
  readonly calls: number;
  readonly failures: number;
  /** Observers only: events discarded because the queue was full. */
  readonly dropped: number;
  /** Observers only: events waiting. */
  readonly queued: number;
  /** How long its runs took (an async hook: until it settled). */
  readonly durations: DurationSnapshot;
}

/** Options of `intercept` (and, with more, of `observe`). */
export interface HookOptions {
  /**
   * What logs, `/stats` (`hooks[].name`), `/metrics` (the `hook` label) and
   * the dashboard call this hook. Taken already by a hook of the same kind:
   * ` #2` is appended.
   * @default the selector: the topic pattern, or the ts-pattern pattern as JSON
   */
  readonly name?: string;
}

/**
 * Marks a hook registered through the public API as one of the broker's own
 * (audit log, webhooks): not exported from the package, so only the broker
 * sets it; `/stats` and the dashboard list such hooks apart.
 */
export const builtinHook: unique symbol = Symbol('eventwire.builtinHook');

/** `options` with the broker's mark, as `intercept`/`observe` read it. */
export function isBuiltinHook(options: HookOptions): boolean {
  return (options as { readonly [builtinHook]?: boolean })[builtinHook] === true;
}

/** A topic pattern string, or a ts-pattern pattern matched against the envelope. */
export type HookSelector = string | object;

/** A hook as registered: when it runs, whether it could for a topic, and the function it calls. */
export interface CompiledHook<TContext extends object> {
  readonly matches: (event: EventEnvelope) => boolean;
  /**
   * Whether it could match some event on `topic`: exact for a topic
   * pattern; an object selector may look at anything, so it always could.
   */
  readonly mayMatchTopic: (topic: string) => boolean;
  readonly fn: (event: EventEnvelope, context: TContext) => unknown;
}

/**
 * Compiles a selector once for `hook`: a topic pattern is validated here, its
 * `{name}` captures matching as `*`; with captures, each call's context gains
 * `params` (a copy of the context per call: one context is shared by every
 * hook an event meets).
 */
export function compileHook<TContext extends object>(
  selector: HookSelector,
  hook: (event: EventEnvelope, context: TContext) => unknown,
): CompiledHook<TContext> {
  if (typeof selector !== 'string') {
    return { matches: (event) => isMatching(selector as never, event), mayMatchTopic: () => true, fn: hook };
  }
  const { pattern, captures } = parsePattern(selector);
  return {
    matches: (event) => topicMatches(pattern, event.topic),
    mayMatchTopic: (topic) => topicMatches(pattern, topic),
    fn: captures ? (event, context) => hook(event, { ...context, params: captureParams(captures, event.topic) }) : hook,
  };
}

function describeSelector(selector: HookSelector): string {
  return typeof selector === 'string' ? selector : JSON.stringify(selector) ?? 'pattern';
}

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

/**
 * `name`, or `name #2`, `#3`… when a hook of the same kind already holds it:
 * hooks are told apart by name in logs, `/stats` and `/metrics` labels.
 */
export function uniqueName(name: string, taken: readonly { readonly name: string }[]): string {
  const names = new Set(taken.map((hook) => hook.name));
  if (!names.has(name)) return name;
  let n = 2;
  while (names.has(`${name} #${n}`)) n++;
  return `${name} #${n}`;
}

export { describeSelector };
