import {
  EventwireError,
  UnknownEventError,
  ValidationError,
  isStandardSchema,
  patternCovers,
  toEventwireError,
  type EventEnvelope,
  type EventMap,
  type GapReason,
} from '@eventwire/event-channel';
import {
  createEventIdGenerator,
  createSchemaLookup,
  findPayloadProblem,
  inSpan,
  isoNow,
  parseEnvelope,
  payloadShapeError,
  runSchema,
  type PayloadLimits,
  type SchemaOutcome,
} from '@eventwire/event-channel/protocol';
import {
  compileHook,
  describeSelector,
  uniqueName,
  type DerivedEvent,
  type HookSelector,
  type HookStats,
  type ObserveContext,
  type PublishOrigin,
} from './hooks.js';
import { InterceptChain, type InterceptOutcome } from './intercept-chain.js';
import { ObserverQueue } from './observer-queue.js';
import type { HistoryRules, HistoryStore } from '@eventwire/event-channel/protocol';
import { LastEvents, isCacheTopic } from './last-events.js';
import { isSharedStore, type SharedAppend, type SharedHistoryStore } from './history/shared-store.js';
import { PresenceRegistry } from './presence.js';
import { RoutedEvent, Router } from './router.js';
import { TopicStats } from './topic-stats.js';
import { TopicGroups } from './topic-groups.js';
import type { EventTracing } from '@eventwire/event-channel';

/** What a successful publish reports back to the surface that made it. */
export interface PublishResult {
  /** The event as routed (after transforms and metadata). */
  readonly event: EventEnvelope;
  /** Distinct subscribers (connections) it was delivered to. */
  readonly notified: number;
  /**
   * True when the event was already stored (a publish re-sent with the same
   * id within the deduplication window): acknowledged again, not stored or
   * routed twice. `event` is the stored one.
   */
  readonly duplicate?: boolean;
}

/** The broker's history: where events are stored, and which topics keep it. */
export interface BrokerHistory {
  /** A store of this broker's own (synchronous), or the cluster's (JetStream, read from a local mirror). */
  readonly store: HistoryStore | SharedHistoryStore;
  readonly rules: HistoryRules;
}

/** Broker-wide counters. */
export interface CoreCounters {
  published: number;
  deliveries: number;
  rejected: number;
  derived: number;
  derivedDropped: number;
  /** Re-sent publishes answered from history instead of stored again. */
  duplicates: number;
  /** Publishes refused because history could not store them (`unavailable`). */
  storeFailures: number;
  /** Events that came from the cluster (other brokers, nats:// channels) and were delivered here. */
  fromCluster: number;
  /** Cluster messages dropped: not an envelope, or failing this broker's event map. */
  fromClusterInvalid: number;
  /** Resumes: reconnected clients asking for what they missed. */
  recoveries: number;
  /** Events replayed to them. */
  replayed: number;
  /** Gaps they were told of (history could not cover what they missed). */
  gaps: number;
  /** Subscriptions told of a gap because the cluster engine lost its subscription (native clients: a `gap` frame). */
  clusterGaps: number;
  /** Subscriptions that missed the same but could not be told: their surface has no gap (Synap, Pusher, broadcasting). */
  clusterGapsUntold: number;
}

/** Who {@link BrokerCore.tellClusterGap} reached. */
export interface ClusterGapReach {
  /** Subscriptions told (a `gap` frame). */
  readonly told: number;
  /** Subscriptions on surfaces with no gap, not told. */
  readonly untold: number;
  /** Distinct connections affected, told or not. */
  readonly connections: number;
}

export interface BrokerCoreOptions {
  readonly events: EventMap | undefined;
  readonly allowUnknownTopics: boolean;
  readonly interceptTimeoutMs: number;
  readonly observerTimeoutMs: number;
  readonly maxDerivedDepth: number;
  /** The shape every event's data must have, checked before anything else looks into it. */
  readonly payloadLimits: PayloadLimits;
  readonly source: string;
  readonly report: (error: EventwireError) => void;
  /** History, when some topics keep it. */
  readonly history?: BrokerHistory | undefined;
  /** Most members one presence channel may have. */
  readonly maxPresenceMembers: number;
  /** Patterns whose events metrics count apart (`topic_group`); the rest is `other`. */
  readonly topicGroups?: readonly string[] | undefined;
  /** A span around each event routed (see EventTracing.route). */
  readonly tracing?: EventTracing | undefined;
  /** The cache channels' last events (last-events.ts). @default a LastEvents with its defaults */
  readonly lastEvents?: LastEvents | undefined;
}

/**
 * The one publish/subscribe engine every surface talks to. It knows nothing of
 * sockets, frames or HTTP: surfaces decode their wire formats into
 * `publish(envelope, origin)` and `router.subscribe(subscriber, pattern)`.
 *
 * A publish goes: shape check → schema check → intercepts → (schema check again if
 * transformed) → route → observers (queued) → derived events. When no schema
 * or hook is asynchronous the whole path is synchronous.
 */
export class BrokerCore {
  readonly router = new Router();
  /** Members of presence channels, for every surface. */
  readonly presence: PresenceRegistry;
  readonly topics: TopicStats;
  /** Counts by topic group, when metrics name groups. */
  readonly topicGroups: TopicGroups | undefined;
  /** The history store's last append failure, until an append succeeds again (for /readyz). */
  storeFailure: { readonly at: number; readonly error: EventwireError } | undefined;
  readonly counters: CoreCounters = { published: 0, deliveries: 0, rejected: 0, derived: 0, derivedDropped: 0, duplicates: 0, storeFailures: 0, fromCluster: 0, fromClusterInvalid: 0, recoveries: 0, replayed: 0, gaps: 0, clusterGaps: 0, clusterGapsUntold: 0 };
  readonly history: BrokerHistory | undefined;
  /** The last event of each cache channel, what a new subscriber is sent first (Pusher cache channels, a native `last` subscribe). */
  readonly lastEvents: LastEvents;
  readonly #options: BrokerCoreOptions;
  readonly #intercepts: InterceptChain;
  readonly #observers: ObserverQueue[] = [];
  readonly #nextId = createEventIdGenerator();
  readonly #lookupSchema: ReturnType<typeof createSchemaLookup> | undefined;
  /** The cluster link, when brokers share one event space: every routed event that entered here goes to it. */
  #forward: ((envelope: EventEnvelope, except: string | undefined) => void) | undefined;
  /** Publishes the cluster's history has in order already (see isPipelined). */
  readonly #pipelined = new WeakSet<Promise<PublishResult>>();

  /** The shape every event's data must have (a surface that looks into data before publishing checks it first). */
  get payloadLimits(): PayloadLimits {
    return this.#options.payloadLimits;
  }

  constructor(options: BrokerCoreOptions) {
    this.#options = options;
    this.history = options.history;
    this.lastEvents = options.lastEvents ?? new LastEvents();
    this.presence = new PresenceRegistry(options.maxPresenceMembers);
    this.#lookupSchema = options.events && createSchemaLookup(options.events);
    this.#intercepts = new InterceptChain(options.interceptTimeoutMs, options.report);
    this.topicGroups = options.topicGroups && options.topicGroups.length > 0 ? new TopicGroups(options.topicGroups) : undefined;
    this.topics = new TopicStats(10_000, this.topicGroups?.classify);
  }

  /**
   * A new envelope for an event the broker itself creates (a server-side or
   * HTTP publish, a derived event): fresh id, now, the broker's source unless
   * one is given.
   */
  createEnvelope(
    topic: string,
    data: unknown,
    extra: { source?: string; metadata?: Readonly<Record<string, string>>; traceparent?: string } = {},
  ): EventEnvelope {
    return {
      id: this.#nextId(),
      topic,
      source: extra.source ?? this.#options.source,
      time: isoNow(),
      data,
      ...(extra.metadata !== undefined && { metadata: extra.metadata }),
      ...(extra.traceparent !== undefined && { traceparent: extra.traceparent }),
    };
  }

  /** Whether this broker is in a cluster: what it publishes also goes to brokers whose subscribers it does not count. */
  get clustered(): boolean {
    return this.#forward !== undefined;
  }

  /** Joins a cluster: events entering here are handed to `forward` once routed locally. */
  linkCluster(forward: (envelope: EventEnvelope, except: string | undefined) => void): void {
    this.#forward = forward;
  }

  /**
   * An event from the cluster: it entered at another broker (whose hooks ran
   * there) or was published straight on NATS. It is checked (envelope, event
   * map) and delivered to this broker's subscribers; no hook runs again and
   * it is not forwarded back. One that is dropped (not an envelope, or
   * failing the event map) goes to `dropped` instead, which reports it.
   */
  deliverFromCluster(raw: unknown, except: string | undefined, dropped: (error: EventwireError) => void): void {
    let envelope: EventEnvelope;
    let checked: EventEnvelope | Promise<EventEnvelope>;
    try {
      envelope = this.#parseRemote(raw);
      // A plain NATS, Redis or PostgreSQL client may have published it: its
      // data is checked here as a publish's is at its entry.
      this.#assertShape(envelope, 'fromClusterInvalid');
    } catch (error) {
      return dropped(error as EventwireError);
    }
    // A topic the cluster keeps history for arrives through the history's
    // mirror, with its offset; this copy from the core subscription is not needed.
    if (this.#sharedHistoryFor(envelope.topic)) return;
    try {
      // Counted as fromClusterInvalid, not `rejected`: nobody here published it.
      checked = this.#check(envelope, 'fromClusterInvalid');
    } catch (error) {
      return dropped(toEventwireError(error, 'invalid_envelope'));
    }
    if (checked instanceof Promise) {
      // An asynchronous schema: delivered once it settles (order across such events is not kept).
      checked.then(
        (valid) => this.#deliverChecked(valid, except),
        (error: unknown) => dropped(toEventwireError(error, 'invalid_envelope')),
      );
      return;
    }
    this.#deliverChecked(checked, except);
  }

  /**
   * A stored message the cluster's history mirror took: checked (envelope,
   * event map) unless this broker stored it itself. Throws an `EventwireError`
   * for one that is not a valid event. An asynchronous schema's verdict comes
   * too late to hold the event back (the mirror takes events in stream order,
   * synchronously): a failure is counted as fromClusterInvalid, not dropped.
   */
  acceptFromHistory(raw: unknown, own: boolean): EventEnvelope {
    const envelope = this.#parseRemote(raw);
    if (own) return envelope;
    this.#assertShape(envelope, 'fromClusterInvalid');
    const checked = this.#check(envelope, 'fromClusterInvalid');
    if (checked instanceof Promise) checked.catch(() => {});
    return envelope;
  }

  /** Delivers an event the history mirror took (with its offset) to this broker's subscribers. */
  deliverFromHistory(envelope: EventEnvelope, except: string | undefined, own: boolean): number {
    const notified = this.#deliverLocally(envelope, except, own);
    if (!own) this.counters.fromCluster++;
    return notified;
  }

  /**
   * The cluster engine lost its subscription: events from other brokers on
   * `pattern` (undefined: on any pattern) may have been missed. Every
   * subscription that holds it is told once, on surfaces that can say so; the
   * broker cannot know whether anyone else published on it, so it tells
   * every one. Patterns the cluster's history covers entirely are left out:
   * its mirror resumes where it was, so nothing of theirs is missed.
   */
  tellClusterGap(pattern: string | undefined, reason: GapReason): ClusterGapReach {
    let told = 0;
    let untold = 0;
    const connections = new Set<string>();
    this.router.forEachSubscription((subscriber, held) => {
      if (pattern !== undefined && held !== pattern) return;
      if (this.#sharedHistoryCovers(held)) return;
      connections.add(subscriber.id);
      if (subscriber.gap) {
        subscriber.gap(held, reason);
        told++;
      } else untold++;
    });
    this.counters.clusterGaps += told;
    this.counters.clusterGapsUntold += untold;
    return { told, untold, connections: connections.size };
  }

  /** Whether every topic `pattern` matches keeps history in the cluster's (shared) store. */
  #sharedHistoryCovers(pattern: string): boolean {
    const history = this.history;
    return history !== undefined && isSharedStore(history.store) && history.rules.rules.some((rule) => patternCovers(rule.pattern, pattern));
  }

  /** An envelope from NATS (core or the history stream); one that is not is counted as fromClusterInvalid and thrown as `invalid_envelope`. */
  #parseRemote(raw: unknown): EventEnvelope {
    try {
      return parseEnvelope(raw);
    } catch (error) {
      this.counters.fromClusterInvalid++;
      throw toEventwireError(error, 'invalid_envelope');
    }
  }

  #sharedHistoryFor(topic: string): boolean {
    const history = this.history;
    return history !== undefined && isSharedStore(history.store) && history.rules.retentionFor(topic) !== undefined;
  }

  #deliverChecked(envelope: EventEnvelope, except: string | undefined): void {
    this.#deliverLocally(envelope, except, false);
    this.counters.fromCluster++;
  }

  /** Routes to this broker's subscribers and counts it; returns how many were reached. */
  #deliverLocally(envelope: EventEnvelope, except: string | undefined, local: boolean): number {
    // Kept in the same step as it is routed: a subscriber reading the last
    // event and going live in one step (a Pusher cache channel's subscribe)
    // gets each event once, either as the last one or live.
    this.lastEvents.record(envelope, local);
    const notified = this.router.route(new RoutedEvent(envelope), except);
    this.counters.deliveries += notified;
    const group = this.topics.record(envelope.topic);
    if (group >= 0) this.topicGroups!.count(group, notified);
    return notified;
  }

  intercept(selector: HookSelector, fn: Parameters<InterceptChain['add']>[1], name?: string, builtin = false): () => void {
    return this.#intercepts.add(selector, fn, name, builtin);
  }

  observe(
    selector: HookSelector,
    fn: (event: EventEnvelope, context: ObserveContext<EventMap>) => unknown,
    queueSize: number,
    name = describeSelector(selector),
    builtin = false,
  ): () => void {
    const queue = new ObserverQueue({
      name: uniqueName(name, this.#observers),
      builtin,
      ...compileHook(selector, fn),
      capacity: queueSize,
      timeoutMs: this.#options.observerTimeoutMs,
      report: this.#options.report,
    });
    this.#observers.push(queue);
    return () => {
      const index = this.#observers.indexOf(queue);
      if (index >= 0) this.#observers.splice(index, 1);
    };
  }

  hookStats(): HookStats[] {
    return [...this.#intercepts.stats(), ...this.#observers.map((observer) => observer.stats())];
  }

  /** Asynchronous intercept chains and observer queues at work now (the test kit's "settled"). */
  get inFlight(): number {
    let count = this.#intercepts.inFlight.count;
    for (const observer of this.#observers) if (observer.running) count++;
    return count;
  }

  /** Waits until every observer queue is empty (bounded by the caller). */
  async observersIdle(): Promise<void> {
    await Promise.all(this.#observers.map((observer) => observer.idle()));
  }

  /**
   * Whether an event on `topic` would reach anything but the counters: a
   * subscriber here, the cluster, history, tracing, a hook or observer that
   * could match it, or the event map (which checks it, or refuses a topic it
   * does not declare). A surface that publishes on its own behalf — the
   * Socket.IO surface's `$emit.<event>` for each client emit — asks first:
   * with no audience the envelope would be built, checked and routed to
   * nobody, so it is counted instead (see countUnheard). Nothing observable
   * differs but the work.
   */
  hasAudience(topic: string): boolean {
    if (this.#forward !== undefined || this.#options.tracing !== undefined) return true;
    if (this.#lookupSchema) {
      const schema = this.#lookupSchema(topic);
      if ((schema && isStandardSchema(schema)) || !this.#options.allowUnknownTopics) return true;
    }
    if (this.history?.rules.retentionFor(topic)) return true;
    // A cache channel keeps its last event for subscribers still to come.
    if (isCacheTopic(topic)) return true;
    if (this.#intercepts.mayMatchTopic(topic)) return true;
    for (const observer of this.#observers) if (observer.mayMatchTopic(topic)) return true;
    return this.router.hasMatch(topic);
  }

  /**
   * A publish `hasAudience(topic)` said nothing would see: its data still
   * meets the shape limits (throws `invalid_payload` as publish would), and
   * it is counted as published, on its topic, reaching no one.
   */
  countUnheard(topic: string, data: unknown): void {
    const problem = findPayloadProblem(data, this.#options.payloadLimits.maxDepth);
    if (problem !== undefined) {
      this.counters.rejected++;
      throw payloadShapeError(topic, problem);
    }
    this.counters.published++;
    const group = this.topics.record(topic);
    if (group >= 0) this.topicGroups!.count(group, 0);
  }

  /**
   * Publishes one envelope. Throws (or rejects) an `EventwireError`:
   * `unknown_event`, `invalid_payload`, `rejected`, `timeout`, `internal`.
   */
  publish(envelope: EventEnvelope, origin: PublishOrigin, depth = 0): PublishResult | Promise<PublishResult> {
    const tracing = this.#options.tracing;
    if (!tracing) return this.#publish(envelope, origin, depth);
    // One span around validation, hooks and routing, a child of the trace the
    // event came with; it is delivered (and stored, and forwarded) carrying
    // this span's traceparent, so its subscribers' spans are children of it.
    const span = tracing.route(envelope.topic, envelope.traceparent);
    const traced = span.traceparent === undefined ? envelope : { ...envelope, traceparent: span.traceparent };
    return inSpan(span, () => this.#publish(traced, origin, depth));
  }

  #publish(envelope: EventEnvelope, origin: PublishOrigin, depth: number): PublishResult | Promise<PublishResult> {
    // First: every surface's publish comes through here, and nothing after
    // (hooks, schema, history, the JSON each subscriber is sent) may meet
    // data nested deep enough to overflow a recursive walk, or a number JSON
    // would silently turn into null.
    this.#assertShape(envelope);
    // A re-sent publish (the ws transport re-sends unacknowledged emits after
    // a reconnect) is answered from history before its hooks run again.
    const duplicate = this.#duplicateOf(envelope);
    if (duplicate) return duplicate;
    const checked = this.#check(envelope);
    if (checked instanceof Promise) {
      return checked.then((valid) => this.#intercept(valid, origin, depth));
    }
    return this.#intercept(checked, origin, depth);
  }

  #intercept(envelope: EventEnvelope, origin: PublishOrigin, depth: number): PublishResult | Promise<PublishResult> {
    const outcome = this.#intercepts.run(envelope, origin);
    if (outcome instanceof Promise) return outcome.then((settled) => this.#afterIntercept(settled, origin, depth));
    return this.#afterIntercept(outcome, origin, depth);
  }

  #afterIntercept(
    outcome: InterceptOutcome,
    origin: PublishOrigin,
    depth: number,
  ): PublishResult | Promise<PublishResult> {
    if (!outcome.ok) {
      this.counters.rejected++;
      throw outcome.error;
    }
    if (!outcome.transformed) return this.#route(outcome.envelope, outcome.derived, origin, depth);
    // A transform must still satisfy the shape limits and the topic's schema.
    this.#assertShape(outcome.envelope);
    const rechecked = this.#check(outcome.envelope);
    if (rechecked instanceof Promise) {
      return rechecked.then((valid) => this.#route(valid, outcome.derived, origin, depth));
    }
    return this.#route(rechecked, outcome.derived, origin, depth);
  }

  #route(input: EventEnvelope, derived: readonly DerivedEvent[], origin: PublishOrigin, depth: number): PublishResult | Promise<PublishResult> {
    let envelope = input;
    const retention = this.history?.rules.retentionFor(envelope.topic);
    if (retention) {
      // Checked again here: two copies may have passed async hooks side by side.
      const duplicate = this.#duplicateOf(envelope);
      if (duplicate) return duplicate;
      const store = this.history!.store;
      if (isSharedStore(store)) {
        // The cluster stores it, and this broker's mirror delivers it here
        // (as every other broker's does there): no forward over core NATS.
        const shared = store.share(envelope, origin.except).then(
          (stored) => {
            this.storeFailure = undefined;
            return this.#afterShared(stored, derived, origin, depth);
          },
          (error: unknown) => {
            throw this.#storeFailed(error);
          },
        );
        this.#pipelined.add(shared);
        return shared;
      }
      try {
        // Stored before it is routed: no subscriber ever holds an offset the log does not.
        envelope = store.append(envelope, retention);
        this.storeFailure = undefined;
      } catch (error) {
        throw this.#storeFailed(error);
      }
    }
    const notified = this.#deliverLocally(envelope, origin.except, true);
    this.#forward?.(envelope, origin.except);
    return this.#routed(envelope, notified, derived, origin, depth);
  }

  #afterShared(shared: SharedAppend, derived: readonly DerivedEvent[], origin: PublishOrigin, depth: number): PublishResult {
    if (shared.duplicate) {
      this.counters.duplicates++;
      return { event: shared.event, notified: 0, duplicate: true };
    }
    return this.#routed(shared.event, shared.notified, derived, origin, depth);
  }

  #storeFailed(error: unknown): EventwireError {
    this.counters.storeFailures++;
    const failure = toEventwireError(error, 'unavailable');
    this.storeFailure = { at: Date.now(), error: failure };
    this.#options.report(failure);
    return failure;
  }

  /** After delivery: counted, handed to the observers, derived events published. */
  #routed(envelope: EventEnvelope, notified: number, derived: readonly DerivedEvent[], origin: PublishOrigin, depth: number): PublishResult {
    this.counters.published++;
    if (this.#observers.length > 0) {
      const context: ObserveContext<EventMap> = {
        origin,
        notified,
        emit: (topic, data) => this.#publishDerived(envelope, { topic, data }, depth),
      };
      for (const observer of this.#observers) {
        if (observer.matches(envelope)) observer.push(envelope, context);
      }
    }
    for (const event of derived) this.#publishDerived(envelope, event, depth);
    return { event: envelope, notified };
  }

  /**
   * True for a publish whose order is already fixed though it has not
   * settled: the cluster's history was handed it synchronously, and stores
   * and delivers in the order it was handed events. A surface may handle its
   * client's next frame without waiting (a connection would otherwise publish
   * at most one event per JetStream round trip).
   */
  isPipelined(result: Promise<PublishResult>): boolean {
    return this.#pipelined.has(result);
  }

  #duplicateOf(envelope: EventEnvelope): PublishResult | undefined {
    const history = this.history;
    if (!history || !history.rules.retentionFor(envelope.topic)) return undefined;
    const stored = history.store.findById(envelope.id);
    if (!stored) return undefined;
    this.counters.duplicates++;
    return { event: stored.envelope, notified: 0, duplicate: true };
  }

  #publishDerived(cause: EventEnvelope, derived: DerivedEvent, depth: number): void {
    if (depth + 1 > this.#options.maxDerivedDepth) {
      this.counters.derivedDropped++;
      this.#options.report(
        new EventwireError(
          'limit_exceeded',
          `Derived event "${derived.topic}" dropped: ${depth + 1} generations deep from a hook loop? (max ${this.#options.maxDerivedDepth})`,
        ),
      );
      return;
    }
    this.counters.derived++;
    const envelope = this.createEnvelope(derived.topic, derived.data, {
      metadata: { causationid: cause.id },
      ...(cause.traceparent !== undefined && { traceparent: cause.traceparent }),
    });
    try {
      const result = this.publish(envelope, { surface: 'broker' }, depth + 1);
      if (result instanceof Promise) result.catch((error: unknown) => this.#derivedFailed(envelope, error));
    } catch (error) {
      this.#derivedFailed(envelope, error);
    }
  }

  #derivedFailed(envelope: EventEnvelope, error: unknown): void {
    this.#options.report(
      new EventwireError('handler_failed', `Derived event "${envelope.topic}" (${envelope.id}) was not published`, {
        cause: error,
      }),
    );
  }

  /** Throws `invalid_payload` (counted under `refusal`) for data too deep or not JSON-safe. */
  #assertShape(envelope: EventEnvelope, refusal: 'rejected' | 'fromClusterInvalid' = 'rejected'): void {
    const problem = findPayloadProblem(envelope.data, this.#options.payloadLimits.maxDepth);
    if (problem === undefined) return;
    this.counters[refusal]++;
    throw payloadShapeError(envelope.topic, problem);
  }

  /** Applies the event map, when there is one. */
  #check(envelope: EventEnvelope, refusal: 'rejected' | 'fromClusterInvalid' = 'rejected'): EventEnvelope | Promise<EventEnvelope> {
    if (!this.#lookupSchema) return envelope;
    const schema = this.#lookupSchema(envelope.topic);
    if (!schema || !isStandardSchema(schema)) {
      if (this.#options.allowUnknownTopics) return envelope;
      this.counters[refusal]++;
      throw new UnknownEventError(envelope.topic, 'broker');
    }
    // The broker checks but forwards the data as sent (the wire carries the
    // input shape; each receiving channel parses it into the output shape).
    const outcome = runSchema(schema, envelope.data);
    const settle = (settled: SchemaOutcome): EventEnvelope => {
      if (settled.ok) return envelope;
      this.counters[refusal]++;
      throw new ValidationError(envelope.topic, 'broker', settled.issues, envelope.id);
    };
    return outcome instanceof Promise ? outcome.then(settle) : settle(outcome);
  }
}
