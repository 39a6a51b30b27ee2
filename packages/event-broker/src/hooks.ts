// The hook contract: what hooks see (events, contexts, origins), how they are
// registered (options, selectors compiled once) and counted. Running them is
// intercept-chain.ts's (inline, before routing) and observer-queue.ts's
// (queued, after delivery).
import type { DurationSnapshot } from './duration-histogram.js';
import {
  captureParams,
  parsePattern,
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

/** A selector as a hook's default name: the pattern, or the ts-pattern object as JSON. */
export function describeSelector(selector: HookSelector): string {
  return typeof selector === 'string' ? selector : JSON.stringify(selector) ?? 'pattern';
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

