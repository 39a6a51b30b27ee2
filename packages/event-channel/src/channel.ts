import { parseEnvelope, type EventEnvelope } from './envelope.js';
import { assertPayloadShape, findPayloadProblem, payloadLimitDefaults, payloadShapeError, type PayloadLimits } from './protocol/payload-shape.js';
import { settlesWithin } from './deadline.js';
import { createEventIdGenerator } from './event-id.js';
import { isoNow } from './iso-now.js';
import {
  BufferedEventStream,
  subscribeDefaults,
  type EventStream,
  type SubscribeOptions,
} from './event-stream.js';
import {
  createSchemaLookup,
  runSchema,
  type EventInput,
  type EventMap,
  type EventOutput,
  type EventTopic,
  type SchemaOutcome,
  type TopicCheck,
  type TypedEvent,
  type UntypedEvents,
} from './events.js';
import {
  EventwireError,
  HandlerError,
  UnknownEventError,
  ValidationError,
  toEventwireError,
} from './errors.js';
import type { HistoryGap } from './gap.js';
import { PresenceChannel, type PresenceFeed, type PresenceInfo, type PresenceOptions } from './presence.js';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { deliveredByReplay, replayHistory, type HistorySince } from './history-replay.js';
import type { ParsedOffset } from './offset.js';
import { disconnectReasonOf } from './disconnect-reason.js';
import type { ChannelStatus } from './status.js';
import {
  assertTopic,
  captureParams,
  parsePattern,
  topicLimitDefaults,
  type DuplicateCapture,
  type MatchingTopics,
  type NormalisePattern,
  type PatternCaptures,
  type TopicLimits,
} from './topic.js';
import { TopicTrie } from './topic-trie.js';
import type { EventTracing } from './tracing/tracing.js';
import { createTransport, type TransportResolveOptions } from './transport/resolve.js';
import type { PresenceWireMember, Transport, TransportSink } from './transport/transport.js';

/** Options shared by every way of creating a channel. */
interface ChannelCommonOptions<TEvents extends EventMap> {
  /**
   * The event map (from `defineEvents`). With it, topics and payloads are
   * typed and validated both ways; without it the channel is untyped
   * (`unknown` payloads) and validates only topics.
   */
  readonly events?: TEvents;
  /**
   * The envelope `source` of events this channel emits: who is talking.
   * @default `urn:eventwire:channel:<unique id>`
   */
  readonly source?: string;
  /**
   * Receives every failure not thrown to a caller: inbound payloads failing
   * their schema, handler errors, transport trouble. Listeners added with
   * `onError()` receive them too. With no listener at all they are written to
   * `console.error`, never thrown, so an unobserved error cannot crash the process.
   */
  readonly onError?: (error: EventwireError) => void;
  /**
   * Bounds on topics and patterns.
   * @default topicLimitDefaults ({ maxLength: 255, maxSegments: 32 })
   */
  readonly topicLimits?: TopicLimits;
  /**
   * Bounds on the shape of event data, as the broker applies them: data
   * nested deeper than `maxDepth`, or holding a number JSON cannot carry
   * (`1e400` parses as Infinity), is refused on emit and, received from a
   * publisher that did not check it, reported through `onError` as
   * `invalid_payload` and not delivered.
   * @default payloadLimitDefaults ({ maxDepth: 128 })
   */
  readonly payloadLimits?: PayloadLimits;
  /**
   * How long `close()` lets running handlers finish while the channel still
   * sends (their replies go out); after it, emits stop and whatever a handler
   * still waits for fails with `channel_closed`.
   * @default 5000
   */
  readonly drainTimeoutMs?: number;
  /**
   * Spans around each emit (producer) and each handler run (consumer), joined
   * to the traces the events carry (`traceparent`); handlers run inside
   * theirs. `openTelemetryTracing()` from `@eventwire/event-channel/otel`.
   * @default off
   */
  readonly tracing?: EventTracing;
}

/** Defaults of {@link EventChannelOptions}. */
export const channelDefaults = { drainTimeoutMs: 5000 } as const;

/** Options of {@link EventChannel}: a URL, or a transport instance. */
export type EventChannelOptions<TEvents extends EventMap> = ChannelCommonOptions<TEvents> &
  (
    | (TransportResolveOptions & {
        /**
         * Where to connect; the scheme picks the transport (`memory://name`).
         * Several brokers of a cluster as a list (`['ws://a:15500',
         * 'ws://b:15500']`): a lost or failed connection moves to the next.
         */
        readonly url: string | readonly string[];
        readonly transport?: never;
      })
    | ({
        /** A transport instance, for custom transports; the channel owns and closes it. */
        readonly transport: Transport;
        readonly url?: never;
      } & { readonly [TKey in keyof TransportResolveOptions]?: never })
  );

/** Options of `emit`. */
export interface EmitOptions {
  /** W3C trace context to carry with the event. */
  readonly traceparent?: string;
  /**
   * Resolve only once the broker accepted the event, and reject with its
   * refusal (e.g. `rejected` by a hook). Costs a round trip; `memory://` has
   * no broker and accepts at once.
   * @default false
   */
  readonly ack?: boolean;
  /**
   * Deliver to every subscriber but this channel's own connection — "to
   * others", as Laravel's `toOthers()`: the sender already shows what it did.
   * @default false
   */
  readonly toOthers?: boolean;
  /**
   * A connection this event is not delivered to, by its id: a backend
   * leaving out the browser whose action it broadcasts (the id that browser's
   * `channel.connectionId` gave it). Ignored by `memory://`.
   */
  readonly except?: string;
  /** Annotations carried with the event (the broadcasting API puts the event name here). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Options of `once` and `ready`. */
export interface WaitOptions {
  /** Rejects with `aborted` when this fires. */
  readonly signal?: AbortSignal;
  /**
   * Rejects with `timeout` after this many milliseconds; `ready` keeps the
   * last connection failure as the error's `cause` (and says it in the message).
   * No limit when omitted.
   */
  readonly within?: number;
  /** The same as `within` (the older name); `within` wins when both are given. */
  readonly timeoutMs?: number;
}

/**
 * What a handler receives: the validated data, and the whole envelope. Its
 * return value is ignored, except that a returned promise is awaited by
 * `close()` and its rejection reported as `handler_failed`.
 */
export type EventHandler<TEvents extends EventMap, TTopic extends EventTopic<TEvents>> = (
  data: EventOutput<TEvents, TTopic>,
  event: TypedEvent<TEvents, TTopic>,
) => unknown;

/**
 * Calling it removes the handler (idempotent); `ready` resolves once the
 * subscription is live on the transport, or rejects if the transport refused it.
 */
export type Unsubscribe = (() => void) & { readonly ready: Promise<void> };

/**
 * Makes a pattern that matches no declared event a compile error, naming the
 * problem in the message. Untyped channels accept any pattern.
 */
export type PatternCheck<TEvents extends EventMap, TPattern extends string> = ([DuplicateCapture<TPattern>] extends [never]
  ? unknown
  : { readonly 'capture name used twice': DuplicateCapture<TPattern> }) &
  (string extends EventTopic<TEvents>
    ? unknown
    : [PatternTopics<TEvents, TPattern>] extends [never]
      ? { readonly 'pattern matches no declared event': TPattern }
      : unknown);

/** A pattern argument: any string, with the declared topics offered by autocompletion. */
export type PatternArgument<TEvents extends EventMap> = EventTopic<TEvents> | '#' | (string & {});

/** The declared topics a pattern delivers (its `{name}` captures match as `*`). */
export type PatternTopics<TEvents extends EventMap, TPattern extends string> = MatchingTopics<
  EventTopic<TEvents>,
  NormalisePattern<TPattern>
>;

/**
 * The events a pattern delivers on a channel of `TEvents`; with `params`
 * (the captured segments by name) when the pattern captures, e.g.
 * `'order.{id}.shipped'` → `event.params.id`.
 */
export type PatternEvent<TEvents extends EventMap, TPattern extends string> = TypedEvent<TEvents, PatternTopics<TEvents, TPattern>> &
  PatternCaptures<TPattern>;

/** A handler of `on(pattern, …)`: the validated data, and the event (with `params` for a capturing pattern). */
export type PatternHandler<TEvents extends EventMap, TPattern extends string> = (
  data: EventOutput<TEvents, PatternTopics<TEvents, TPattern>>,
  event: PatternEvent<TEvents, TPattern>,
) => unknown;

/** Running totals of one channel, for dashboards and tests. */
export interface ChannelStats {
  /** Events accepted by `emit`. */
  readonly emitted: number;
  /** Events the transport delivered to this channel. */
  readonly received: number;
  /** Handler and stream deliveries made. */
  readonly delivered: number;
  /** Inbound events not delivered because their envelope was malformed, their data of a shape refused (too deep, not JSON-safe) or failing the schema. */
  readonly invalid: number;
  /** Inbound events not delivered because their topic is not in the event map. */
  readonly unknown: number;
  /** Handlers that threw or rejected. */
  readonly handlerErrors: number;
  /** Gaps reported: subscriptions that may have missed events that could not be recovered. */
  readonly gaps: number;
}

interface Registration {
  /** As the caller wrote it (what errors name). */
  readonly pattern: string;
  /** What the trie, the lease and the transport see: `{name}` captures as `*`. */
  readonly key: string;
  /** Per segment, the capture it names, for a capturing pattern. */
  readonly captures?: readonly (string | undefined)[];
  readonly deliver: (data: unknown, event: EventEnvelope) => unknown;
  active: boolean;
  /** While its history is read: live events wait here (validated), then the seam drops repeats. */
  held?: EventEnvelope[] | undefined;
}

/** Options of `on`. */
export interface OnOptions {
  /**
   * Read history first, then go live, through the same handler: `'earliest'`,
   * an offset (from an event's `offset`), or `{ last: n }`. Each event is
   * delivered once at the seam. A transport or topic without history reports
   * a `no_history` gap (`onGap`) and the handler just goes live — except a
   * cache channel (`cache-…`, `private-cache-…`, `presence-cache-…`) on a
   * broker: `{ last: 1 }` gets its last event (what a Pusher subscriber is
   * sent first), or nothing when it has none, and no gap.
   */
  readonly since?: HistorySince;
}

interface PatternLease {
  count: number;
  readonly ready: Promise<void>;
}

/** How many distinct unknown topics a channel reports before it stops listing new ones. */
const UNKNOWN_TOPIC_REPORT_LIMIT = 1000;

/**
 * Typed `emit`/`on` over an event map declared once. The URL's scheme picks the
 * transport; everything above it — validation, pattern matching, handler
 * isolation, streams, status — is the same on every transport.
 *
 * @example
 * const shop = defineEvents({ 'order.created': z.object({ id: z.string(), total: z.number() }) });
 * const channel = new EventChannel({ url: 'memory://shop', events: shop });
 * channel.on('order.*', (data, event) => console.log(event.topic, data.total));
 * await channel.emit('order.created', { id: 'o1', total: 42 });
 * await channel.close();
 */
export class EventChannel<TEvents extends EventMap = UntypedEvents> {
  /** The envelope `source` of events this channel emits. */
  readonly source: string;
  /** The event map the channel validates against, if any. */
  readonly events: TEvents | undefined;

  readonly #transport: Transport;
  readonly #tracing: EventTracing | undefined;
  readonly #lookupSchema: ((topic: string) => EventMap[string] | undefined) | undefined;
  readonly #limits: TopicLimits;
  readonly #payloadLimits: PayloadLimits;
  readonly #nextId = createEventIdGenerator();
  readonly #handlers = new TopicTrie<Registration>();
  readonly #leases = new Map<string, PatternLease>();
  /**
   * The member list of every presence channel subscribed (by `presence()` or
   * a plain `on()`), kept while its lease lives, so a `presence()` view
   * created on an already-live subscription starts from it.
   */
  readonly #presenceLists = new Map<string, Map<string, PresenceWireMember>>();
  /** The `presence()` views per channel name, fed from the transport. */
  readonly #presenceFeeds = new Map<string, Set<PresenceFeed>>();
  readonly #statusListeners = new Set<(status: ChannelStatus) => void>();
  readonly #errorListeners = new Set<(error: EventwireError) => void>();
  readonly #gapListeners = new Set<(gap: HistoryGap) => void>();
  readonly #pending = new Set<Promise<unknown>>();
  readonly #streams = new Set<BufferedEventStream<EventEnvelope>>();
  readonly #unknownTopicsReported = new Set<string>();
  readonly #stats = { emitted: 0, received: 0, delivered: 0, invalid: 0, unknown: 0, handlerErrors: 0, gaps: 0 };
  #status: ChannelStatus = { state: 'connecting' };
  #inboundTail: Promise<void> | undefined;
  readonly #drainTimeoutMs: number;
  #closing: Promise<void> | undefined;
  /** Set once the drain is over: from then on emits fail with `channel_closed`. */
  #emitsClosed = false;
  #closed = false;
  /** Why the transport gave up, when it did (kept for the final status). */
  #gaveUp: EventwireError | undefined;
  /** The last reason the transport gave for not being open (cleared on open): the cause a `ready` timeout carries. */
  #lastFailure: EventwireError | undefined;
  /** The reason last reported through onError in this outage (cleared on open). */
  #reportedReason: string | undefined;
  /** Patterns whose gap was reported through onError for want of an onGap listener (once each). */
  readonly #unheardGaps = new Set<string>();

  constructor(options: EventChannelOptions<TEvents>) {
    this.events = options.events;
    this.#lookupSchema = options.events && createSchemaLookup(options.events);
    this.#limits = options.topicLimits ?? topicLimitDefaults;
    this.#payloadLimits = options.payloadLimits ?? payloadLimitDefaults;
    this.#drainTimeoutMs = options.drainTimeoutMs ?? channelDefaults.drainTimeoutMs;
    this.#tracing = options.tracing;
    this.source = options.source ?? `urn:eventwire:channel:${this.#nextId()}`;
    if (options.onError) this.#errorListeners.add(options.onError);
    this.#transport = options.transport
      ? options.transport
      : createTransport(options.url, options);
    const sink: TransportSink = {
      deliver: (envelope) => this.#receive(envelope),
      status: (status) => this.#onTransportStatus(status),
      error: (error) => this.#report(error),
      gap: (gap) => this.#reportGap(gap),
      presence: (name, members) => this.#onPresence(name, members),
      member: (name, change, member) => this.#onMember(name, change, member),
    };
    this.#transport.connect(sink);
  }

  /**
   * The broker's id of this channel's connection while connected (`ws://`):
   * hand it to your backend so its HTTP publishes leave this client out
   * (`socket_id` / `X-Socket-ID`, as Laravel's `toOthers()`). It changes on
   * every reconnect.
   */
  get connectionId(): string | undefined {
    return this.#transport.connectionId;
  }

  /** The current connection state. */
  get status(): ChannelStatus {
    return this.#status;
  }

  /** A snapshot of this channel's counters. */
  stats(): ChannelStats {
    return { ...this.#stats };
  }

  /**
   * Validates `data` against the topic's schema, then sends it. Resolves with
   * the envelope sent once the transport accepted it. Throws (and sends
   * nothing) with `invalid_topic`, `unknown_event`, `invalid_payload` or
   * `channel_closed`.
   *
   * While `close()` drains, emits still go out: a handler finishing its work
   * (or code that raced the close) gets its event sent, not an error. Only an
   * emit made after the drain ended fails with `channel_closed`.
   */
  async emit<TTopic extends EventTopic<TEvents>>(
    topic: TTopic & TopicCheck<TEvents, TTopic>,
    data: EventInput<TEvents, TTopic>,
    options: EmitOptions = {},
  ): Promise<EventEnvelope<TTopic, EventInput<TEvents, TTopic>>> {
    this.#assertAcceptingEmits();
    assertTopic(topic, this.#limits);
    // Before the schema (a validator walks data recursively) and the JSON the transport writes.
    assertPayloadShape(topic, data, this.#payloadLimits);
    if (this.events) {
      const schema = this.#schemaFor(topic);
      if (!schema) throw new UnknownEventError(topic, 'outbound');
      let outcome = runSchema(schema, data);
      if (outcome instanceof Promise) {
        // Only async schemas cost a tick; close() may have started meanwhile.
        outcome = await outcome;
        this.#assertAcceptingEmits();
      }
      if (!outcome.ok) throw new ValidationError(topic, 'outbound', outcome.issues);
    }
    const span = this.#tracing?.publish(topic, options.traceparent);
    const traceparent = span?.traceparent ?? options.traceparent;
    const envelope: EventEnvelope<TTopic, EventInput<TEvents, TTopic>> = {
      id: this.#nextId(),
      topic,
      source: this.source,
      time: isoNow(),
      // The wire carries the schema's *input* shape; every receiver parses it
      // with the same schema into the output shape (see docs/PROTOCOL.md).
      data,
      ...(traceparent !== undefined && { traceparent }),
      ...(options.metadata !== undefined && { metadata: { ...options.metadata } }),
    };
    try {
      await this.#transport.publish(envelope, {
        ack: options.ack === true,
        ...(options.toOthers === true && { toOthers: true }),
        ...(options.except !== undefined && { except: options.except }),
      });
    } catch (error) {
      const failure = toEventwireError(error, 'connection_closed');
      span?.end(failure);
      throw failure;
    }
    span?.end();
    this.#stats.emitted++;
    return envelope;
  }

  /**
   * Calls `handler` for every event whose topic matches `pattern` (`*` one
   * segment, trailing `#` any number). Returns an unsubscribe function whose
   * `ready` resolves once the subscription is live.
   */
  on<TPattern extends PatternArgument<TEvents>>(
    pattern: TPattern & PatternCheck<TEvents, TPattern>,
    handler: PatternHandler<TEvents, TPattern>,
    options: OnOptions = {},
  ): Unsubscribe {
    return this.#register(
      pattern,
      (data, event) => handler(data as EventOutput<TEvents, PatternTopics<TEvents, TPattern>>, event as PatternEvent<TEvents, TPattern>),
      options.since,
    );
  }

  /**
   * Resolves with the next event matching `pattern`. Rejects with `aborted`,
   * `timeout`, `channel_closed`, or the transport's refusal of the subscription.
   */
  once<TPattern extends PatternArgument<TEvents>>(
    pattern: TPattern & PatternCheck<TEvents, TPattern>,
    options: WaitOptions = {},
  ): Promise<PatternEvent<TEvents, TPattern>> {
    return new Promise((resolve, reject) => {
      throwIfAborted(options.signal);
      let settled = false;
      const off = this.#register(pattern, (_data, event) =>
        settle(() => resolve(event as PatternEvent<TEvents, TPattern>)),
      );
      const guard = guardWait(options, (error) => settle(() => reject(error)));
      off.ready.catch((error: unknown) => settle(() => reject(toEventwireError(error))));
      function settle(action: () => void): void {
        if (settled) return;
        settled = true;
        guard.dispose();
        off();
        action();
      }
    });
  }

  /**
   * The events matching `pattern` as an async iterable with a bounded buffer.
   *
   * @example
   * for await (const event of channel.subscribe('order.#', { signal })) console.log(event.topic);
   */
  subscribe<TPattern extends PatternArgument<TEvents>>(
    pattern: TPattern & PatternCheck<TEvents, TPattern>,
    options: SubscribeOptions = {},
  ): EventStream<PatternEvent<TEvents, TPattern>> {
    const bufferSize = options.bufferSize ?? subscribeDefaults.bufferSize;
    const overflow = options.overflow ?? subscribeDefaults.overflow;
    assertBufferSize(bufferSize);
    let stream: BufferedEventStream<EventEnvelope> | undefined;
    // Delivery is never synchronous, so `stream` is assigned before the first push.
    const off = this.#register(pattern, (_data, event) => stream?.push(event), options.since);
    const created = new BufferedEventStream<EventEnvelope>({
      bufferSize,
      overflow,
      ready: off.ready,
      release: () => {
        off();
        options.signal?.removeEventListener('abort', onAbort);
        this.#streams.delete(created);
      },
    });
    stream = created;
    this.#streams.add(created);
    const onAbort = (): void => created.end();
    if (options.signal?.aborted) created.end();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    return created as unknown as EventStream<PatternEvent<TEvents, TPattern>>;
  }

  /**
   * Joins a presence channel (`presence-…`, allowed by the broker's presence
   * rule) and follows who is on it: `members()`, `onJoin`, `onLeave`,
   * `onSync`, typed by `options.member`. Events published to the channel are
   * received with `on()` as usual. Needs a transport whose peer keeps member
   * lists (`ws://`); others throw `unsupported_transport`.
   *
   * @example
   * const room = channel.presence('presence-room.7', { member: z.object({ name: z.string() }) });
   * room.onJoin((member) => console.log(`${member.info.name} is here`));
   * await room.ready;
   * console.log(room.members().map((m) => m.info.name));
   */
  presence<TSchema extends StandardSchemaV1 | undefined = undefined>(
    name: `presence-${string}`,
    options: PresenceOptions<TSchema> = {},
  ): PresenceChannel<PresenceInfo<TSchema>> {
    this.#assertOpenForUse();
    if (!this.#transport.tracksPresence) {
      throw new EventwireError('unsupported_transport', `${this.#transport.kind}:// keeps no member lists; presence channels need a broker (ws://)`);
    }
    assertTopic(name, this.#limits);
    if (!name.startsWith('presence-')) throw new EventwireError('invalid_topic', `"${name}" is not a presence channel (its name starts with presence-)`);
    const lease = this.#retain(name);
    let feed!: PresenceFeed;
    const feeds = this.#presenceFeeds.get(name) ?? new Set<PresenceFeed>();
    this.#presenceFeeds.set(name, feeds);
    const forget = (): void => {
      feeds.delete(feed);
      if (feeds.size === 0 && this.#presenceFeeds.get(name) === feeds) this.#presenceFeeds.delete(name);
    };
    let released = false;
    const view = new PresenceChannel<PresenceInfo<TSchema>>(
      name,
      options.member,
      {
        release: () => {
          if (released) return;
          released = true;
          forget();
          this.#release(name, lease);
        },
        report: (error) => this.#report(error),
      },
      (attached) => (feed = attached),
    );
    feeds.add(feed);
    lease.ready.catch((error: unknown) => {
      forget();
      feed.end(toEventwireError(error));
    });
    // Already subscribed: start from the list the broker sent then (after
    // this call returns, so the caller's listeners are attached first).
    const known = this.#presenceLists.get(name);
    if (known) queueMicrotask(() => feed.sync([...known.values()]));
    return view;
  }

  /**
   * Resolves once the channel is open and every subscription made so far is
   * live. Rejects with `channel_closed` if the channel closes first (its
   * `cause` the transport's reason for giving up, such as `unauthorized`), or
   * with `aborted`/`timeout` per `options`: `ready({ within: 5000 })` on a
   * broker nobody can reach rejects after 5 s with `timeout`, its `cause` the
   * last connection failure (whose `status.reason` says `refused`, `dns`, `tls`…).
   */
  async ready(options: WaitOptions = {}): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      throwIfAborted(options.signal);
      if (this.#closing) throw closedError(this.#gaveUp);
      if (this.#status.state === 'open') return resolve();
      let settled = false;
      const stop = this.onStatus((status) => {
        if (status.state === 'open') settle(resolve);
        else if (status.state === 'closed') settle(() => reject(closedError(status.error)));
      });
      // A bound that passes while the broker cannot be reached says why: the
      // last failure (refused, DNS, TLS…) is the timeout's cause.
      const guard = guardWait(options, (error) => settle(() => reject(error)), () => this.#lastFailure);
      function settle(action: () => void): void {
        if (settled) return;
        settled = true;
        guard.dispose();
        stop();
        action();
      }
    });
    await Promise.all([...this.#leases.values()].map((lease) => lease.ready));
  }

  /** Calls `listener` on every status change. Returns a function that removes it. */
  onStatus(listener: (status: ChannelStatus) => void): () => void {
    this.#statusListeners.add(listener);
    return () => this.#statusListeners.delete(listener);
  }

  /**
   * Calls `listener` when a subscription may have missed events that cannot
   * be recovered (`epoch`, `trimmed`, `no_history`, `replay_limit`): after a
   * reconnect, or when `since` asked for more than is stored. The application
   * should resync that pattern from its own source of truth. Returns a
   * function that removes the listener.
   */
  onGap(listener: (gap: HistoryGap) => void): () => void {
    this.#gapListeners.add(listener);
    return () => this.#gapListeners.delete(listener);
  }

  /** Calls `listener` with every reported error. Returns a function that removes it. */
  onError(listener: (error: EventwireError) => void): () => void {
    this.#errorListeners.add(listener);
    return () => this.#errorListeners.delete(listener);
  }

  /**
   * Stops the channel gracefully, in the order NATS calls a drain:
   * 1. new subscriptions are refused (`channel_closed`) and every pattern is
   *    unsubscribed at the transport; events already on their way are still
   *    delivered to their handlers and streams;
   * 2. running handlers get up to `drainTimeoutMs` to finish, and may still
   *    emit (a reply to an event received before the close goes out);
   * 3. emits stop (`channel_closed` from here on), the transport flushes and
   *    closes, streams end, handlers settle, and `closed` is reported.
   * Idempotent; every call returns the same promise.
   */
  close(): Promise<void> {
    // Set the guard before any shutdown code runs: shutting down can report
    // `closed` synchronously, and whoever hears it may call close() again.
    this.#closing ??= Promise.resolve().then(() => this.#shutdown());
    return this.#closing;
  }

  /** `await using channel = new EventChannel(…)` closes it on scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // -------------------------------------------------------------------------

  #register(pattern: string, deliver: Registration['deliver'], since?: HistorySince): Unsubscribe {
    this.#assertOpenForUse();
    // `order.{id}` is `order.*` below this line: one lease, one transport
    // subscription and one trie entry shared with `order.*` and any other spelling.
    const { pattern: key, captures } = parsePattern(pattern, this.#limits);
    const registration: Registration = {
      pattern,
      key,
      deliver,
      active: true,
      ...(captures !== undefined && { captures }),
      ...(since !== undefined && { held: [] }),
    };
    this.#handlers.add(key, registration);
    const lease = this.#retain(key);
    const off = (): void => {
      if (!registration.active) return;
      registration.active = false;
      this.#handlers.remove(key, registration);
      this.#release(key, lease);
    };
    if (since === undefined) return Object.assign(off, { ready: lease.ready });
    // Live first (so nothing published from now on is missed), then history,
    // then the live events held meanwhile; `ready` resolves once caught up.
    const caughtUp = lease.ready.then(
      () => this.#catchUp(registration, since),
      (error: unknown) => {
        this.#releaseHeld(registration, undefined);
        throw error;
      },
    );
    this.#track(caughtUp.catch(() => {}));
    return Object.assign(off, { ready: caughtUp });
  }

  #retain(pattern: string): PatternLease {
    const existing = this.#leases.get(pattern);
    if (existing) {
      existing.count++;
      return existing;
    }
    const lease: PatternLease = {
      count: 1,
      ready: this.#transport.subscribe(pattern).catch((error: unknown) => {
        const failure = toEventwireError(error, 'connection_closed');
        this.#report(failure);
        // A refused lease is forgotten, so a later on() of this pattern asks
        // again (e.g. once the broker allows it) instead of reusing the refusal.
        if (this.#leases.get(pattern) === lease) this.#leases.delete(pattern);
        throw failure;
      }),
    };
    // The failure is reported above; callers who await `ready` still see it.
    lease.ready.catch(() => {});
    this.#leases.set(pattern, lease);
    return lease;
  }

  #release(pattern: string, lease: PatternLease): void {
    // Only the lease this registration took: a refused one may have been replaced.
    if (this.#leases.get(pattern) !== lease || --lease.count > 0) return;
    this.#leases.delete(pattern);
    this.#presenceLists.delete(pattern);
    if (this.#closing) return; // the transport drops everything on close
    this.#transport.unsubscribe(pattern).catch((error: unknown) => this.#report(toEventwireError(error)));
  }

  async #catchUp(registration: Registration, since: HistorySince): Promise<void> {
    // Replayed events without an offset (a cache channel's last event, kept
    // outside history): the seam knows them by id instead.
    const unnumbered = new Set<string>();
    const through = await replayHistory(this.#transport, registration.key, since, {
      deliver: async (raw) => {
        const checked = this.#check(raw);
        if (!checked) return undefined;
        if (checked.envelope.offset === undefined) unnumbered.add(checked.envelope.id);
        const outcome = checked.outcome instanceof Promise ? await checked.outcome : checked.outcome;
        if (!outcome.ok) {
          this.#stats.invalid++;
          this.#report(new ValidationError(checked.envelope.topic, 'inbound', outcome.issues, checked.envelope.id));
        } else if (registration.active && !this.#closed) {
          this.#deliverTo(registration, { ...checked.envelope, data: outcome.value });
        }
        return checked.envelope.offset;
      },
      gap: (gap) => this.#reportGap(gap),
      error: (error) => this.#report(toEventwireError(error)),
      active: () => registration.active && !this.#closed,
    });
    this.#releaseHeld(registration, through, unnumbered);
  }

  /** The seam: live events held during the replay, without those history already delivered. */
  #releaseHeld(registration: Registration, through: ParsedOffset | undefined, unnumbered?: ReadonlySet<string>): void {
    let held = registration.held ?? [];
    registration.held = undefined;
    // An unnumbered replayed event that also came live: it and every live
    // event before it (they came in the broker's order) were already had.
    if (unnumbered && unnumbered.size > 0) {
      let seen = -1;
      held.forEach((event, index) => {
        if (unnumbered.has(event.id)) seen = index;
      });
      held = held.slice(seen + 1);
    }
    for (const event of held) {
      if (!registration.active || deliveredByReplay(event.offset, through)) continue;
      this.#deliverTo(registration, event);
    }
  }

  #schemaFor(topic: string): EventMap[string] | undefined {
    return this.#lookupSchema?.(topic);
  }

  /** Parses an envelope and starts validating its data; undefined (reported) when it cannot be delivered. */
  #check(raw: unknown): { envelope: EventEnvelope; outcome: SchemaOutcome | Promise<SchemaOutcome> } | undefined {
    let envelope: EventEnvelope;
    try {
      envelope = parseEnvelope(raw, this.#limits);
    } catch (error) {
      this.#stats.invalid++;
      this.#report(toEventwireError(error, 'invalid_envelope'));
      return undefined;
    }
    // A publisher that did not check it (a plain NATS, Redis or PostgreSQL
    // client) may send data no schema or handler should have to walk.
    const problem = findPayloadProblem(envelope.data, this.#payloadLimits.maxDepth);
    if (problem !== undefined) {
      this.#stats.invalid++;
      this.#report(payloadShapeError(envelope.topic, problem));
      return undefined;
    }
    if (!this.events) return { envelope, outcome: { ok: true, value: envelope.data } };
    const schema = this.#schemaFor(envelope.topic);
    if (!schema) {
      // A presence() subscription's own events, with no on() for them: not ours to judge.
      if (!this.#handlers.hasMatch(envelope.topic)) return undefined;
      this.#reportUnknown(envelope.topic);
      return undefined;
    }
    return { envelope, outcome: runSchema(schema, envelope.data) };
  }

  #receive(raw: unknown): void {
    if (this.#closed) return;
    this.#stats.received++;
    const checked = this.#check(raw);
    if (!checked) return;
    const { envelope, outcome } = checked;
    if (!(outcome instanceof Promise) && !this.#inboundTail) {
      this.#dispatch(envelope, outcome);
      return;
    }
    // An async schema (or one still pending before us): chain so events are
    // dispatched in arrival order anyway.
    const pendingOutcome = outcome;
    const tail = (this.#inboundTail ?? Promise.resolve())
      .then(() => pendingOutcome)
      .then((settled) => this.#dispatch(envelope, settled));
    this.#inboundTail = tail;
    this.#track(
      tail.finally(() => {
        if (this.#inboundTail === tail) this.#inboundTail = undefined;
      }),
    );
  }

  #dispatch(envelope: EventEnvelope, outcome: SchemaOutcome): void {
    if (this.#closed) return;
    if (!outcome.ok) {
      this.#stats.invalid++;
      this.#report(new ValidationError(envelope.topic, 'inbound', outcome.issues, envelope.id));
      return;
    }
    const event: EventEnvelope = { ...envelope, data: outcome.value };
    // Snapshot first: a handler that unsubscribes another mid-dispatch stops
    // it from running; one added mid-dispatch waits for the next event.
    const targets: Registration[] = [];
    this.#handlers.forEachMatch(envelope.topic, (registration) => targets.push(registration));
    for (const registration of targets) {
      if (!registration.active) continue;
      if (registration.held) registration.held.push(event);
      else this.#deliverTo(registration, event);
    }
  }

  #deliverTo(registration: Registration, routed: EventEnvelope): void {
    this.#stats.delivered++;
    // Its own copy: the same envelope goes to every other registration.
    const event = registration.captures ? { ...routed, params: captureParams(registration.captures, routed.topic) } : routed;
    try {
      const tracing = this.#tracing;
      const result = tracing
        ? tracing.process(event.topic, event.traceparent, () => registration.deliver(event.data, event))
        : registration.deliver(event.data, event);
      if (isPromiseLike(result)) {
        this.#track(
          Promise.resolve(result).catch((error: unknown) =>
            this.#handlerFailed(registration, event, error),
          ),
        );
      }
    } catch (error) {
      this.#handlerFailed(registration, event, error);
    }
  }

  #handlerFailed(registration: Registration, event: EventEnvelope, error: unknown): void {
    this.#stats.handlerErrors++;
    this.#report(new HandlerError(registration.pattern, event.topic, event.id, error));
  }

  #reportUnknown(topic: string): void {
    this.#stats.unknown++;
    // Once per topic: a `#` subscriber on a shared bus would otherwise turn
    // every foreign event into an error report.
    if (this.#unknownTopicsReported.size >= UNKNOWN_TOPIC_REPORT_LIMIT) return;
    if (this.#unknownTopicsReported.has(topic)) return;
    this.#unknownTopicsReported.add(topic);
    this.#report(new UnknownEventError(topic, 'inbound'));
  }

  #onPresence(name: string, members: readonly PresenceWireMember[]): void {
    if (this.#closed || !this.#leases.has(name)) return;
    this.#presenceLists.set(name, new Map(members.map((member) => [member.id, member])));
    for (const feed of this.#presenceFeeds.get(name) ?? []) feed.sync(members);
  }

  #onMember(name: string, change: 'added' | 'removed', member: PresenceWireMember): void {
    const list = this.#presenceLists.get(name);
    if (this.#closed || !list) return;
    if (change === 'added') list.set(member.id, member);
    else list.delete(member.id);
    for (const feed of this.#presenceFeeds.get(name) ?? []) feed.change(change, member);
  }

  #track(promise: Promise<unknown>): void {
    this.#pending.add(promise);
    void promise.finally(() => this.#pending.delete(promise));
  }

  #onTransportStatus(transportStatus: ChannelStatus): void {
    if (this.#closed) return;
    const status = withReason(transportStatus);
    if (status.state === 'reconnecting' && status.error) {
      // Said through onError too, once per outage and reason: a broker down
      // for an hour is one line ("refused"), not one per attempt.
      if (status.reason !== this.#reportedReason) {
        this.#reportedReason = status.reason;
        this.#report(status.error);
      }
      this.#lastFailure = status.error;
    } else if (status.state === 'open') {
      this.#lastFailure = undefined;
      this.#reportedReason = undefined;
    }
    if (status.state === 'closed') {
      // Only a transport that gave up reports this before we asked it to close.
      if (status.error) {
        this.#gaveUp = status.error;
        this.#report(status.error);
      }
      void this.close();
      return;
    }
    this.#setStatus(status);
  }

  #setStatus(status: ChannelStatus): void {
    this.#status = status;
    for (const listener of [...this.#statusListeners]) {
      try {
        listener(status);
      } catch (error) {
        this.#report(toEventwireError(error));
      }
    }
  }

  #reportGap(gap: HistoryGap): void {
    this.#stats.gaps++;
    if (this.#gapListeners.size === 0) {
      // Nobody asked to hear of gaps: events were lost and the application
      // would never know. Said once per pattern through onError (a gap per
      // reconnect would drown the log); an onGap listener silences it.
      if (this.#unheardGaps.has(gap.pattern)) return;
      this.#unheardGaps.add(gap.pattern);
      this.#report(
        new EventwireError('gap', `Events for "${gap.pattern}" may have been missed (${gap.reason}) and no onGap listener is registered to resync; reported once per pattern`),
      );
      return;
    }
    for (const listener of [...this.#gapListeners]) {
      try {
        listener(gap);
      } catch (error) {
        this.#report(toEventwireError(error));
      }
    }
  }

  #report(error: EventwireError): void {
    if (this.#errorListeners.size === 0) {
      console.error(`[eventwire] ${error.code}: ${error.message}`);
      return;
    }
    for (const listener of [...this.#errorListeners]) {
      try {
        listener(error);
      } catch (listenerError) {
        // An error listener that throws has nowhere else to report to.
        console.error('[eventwire] onError listener threw', listenerError);
      }
    }
  }

  #assertOpenForUse(): void {
    if (this.#closing) throw closedError();
  }

  #assertAcceptingEmits(): void {
    if (this.#emitsClosed) throw closedError();
  }

  async #shutdown(): Promise<void> {
    // 1–2, bounded together: a broker that does not answer, or a handler that
    // waits on something the transport cannot give (an emit held in the
    // outbox while disconnected), must not hold the close forever.
    await settlesWithin(this.#drain(), this.#drainTimeoutMs);
    // 3. Stop sending, flush and close the transport.
    this.#emitsClosed = true;
    try {
      await this.#transport.close();
    } catch (error) {
      this.#report(toEventwireError(error, 'connection_closed'));
    }
    while (this.#inboundTail) await this.#inboundTail.catch(() => {});
    this.#closed = true;
    for (const stream of [...this.#streams]) stream.end();
    await this.#settleInbound();
    this.#leases.clear();
    this.#presenceLists.clear();
    for (const feeds of this.#presenceFeeds.values()) for (const feed of feeds) feed.end(closedError());
    this.#presenceFeeds.clear();
    // A channel its transport gave up on says why: `status.error` (refused credentials, an unsupported protocol).
    this.#setStatus(this.#gaveUp ? withReason({ state: 'closed', error: this.#gaveUp }) : { state: 'closed' });
    this.#statusListeners.clear();
  }

  async #drain(): Promise<void> {
    // 1. No new deliveries: a transport resolves an unsubscribe once no more
    //    events for it will arrive, so whatever was in flight is delivered.
    await Promise.allSettled([...this.#leases.keys()].map((pattern) => this.#transport.unsubscribe(pattern)));
    // 2. Handlers finish; what they emit is still sent.
    await this.#settleInbound();
  }

  async #settleInbound(): Promise<void> {
    while (this.#inboundTail) await this.#inboundTail.catch(() => {});
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

/** `channel_closed`; with the transport's reason for giving up as its cause, when it gave up. */
function closedError(cause?: EventwireError): EventwireError {
  return cause
    ? new EventwireError('channel_closed', `The channel is closed: ${cause.message}`, { cause })
    : new EventwireError('channel_closed', 'The channel is closed');
}

/** `status` with its `reason`, read from its error (the one place every transport's failure gets one). */
function withReason(status: ChannelStatus): ChannelStatus {
  if ((status.state !== 'reconnecting' && status.state !== 'closed') || !status.error || status.reason) return status;
  return { ...status, reason: disconnectReasonOf(status.error) };
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal);
}

function abortedError(signal: AbortSignal): EventwireError {
  return new EventwireError('aborted', 'The wait was aborted', { cause: signal.reason });
}

function assertBufferSize(size: number): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`bufferSize must be a positive integer, got ${size}`);
  }
}

/**
 * Turns `signal` and `timeoutMs` into one `onFail` call (`aborted` or
 * `timeout`); `dispose()` removes both. Never calls `onFail` synchronously.
 */
function guardWait(
  options: WaitOptions,
  onFail: (error: EventwireError) => void,
  lastFailure?: () => EventwireError | undefined,
): { dispose: () => void } {
  const { signal } = options;
  const timeoutMs = options.within ?? options.timeoutMs;
  const onAbort = (): void => onFail(abortedError(signal!));
  signal?.addEventListener('abort', onAbort, { once: true });
  const timeout = (): EventwireError => {
    const cause = lastFailure?.();
    return cause
      ? new EventwireError('timeout', `Not ready within ${timeoutMs} ms: ${cause.message}`, { cause })
      : new EventwireError('timeout', `Nothing within ${timeoutMs} ms`);
  };
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => onFail(timeout()), timeoutMs);
  return {
    dispose() {
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}
