// Several brokers, one event space, over Redis pub/sub or PostgreSQL
// LISTEN/NOTIFY: the engine for teams that already run one of them. It rides
// on the event-channel's own redis:// or postgres:// transport (one
// subscribing and one publishing connection, reconnect with backoff,
// resubscribe, a bounded outbox, one delivery per event), opened with
// `noEcho` so a broker never hears its own forwards. Interest-based like the
// NATS engine: the transport listens only to the patterns this broker's
// clients hold. The brokers' own messages (presence, stats) travel on the
// same connection as events, on `_EVENTWIRE.` topics no client can
// subscribe to, so each broker's messages stay in the order it sent them.
// When the subscribing connection is lost, what other brokers publish until
// it is back is gone (neither server keeps it): the transport says so with a
// gap per pattern, and this engine tells the broker once (SubscriptionLoss).
// redis-engine.ts and postgres-engine.ts each give it their transport.
import { EventwireError, type EventEnvelope, type HistoryGap } from '@eventwire/event-channel';
import { EXCEPT_FIELD, createEventIdGenerator, isInternalSubject, type PubSubTransport, type RedisTransportOptions } from '@eventwire/event-channel/protocol';
import {
  CLUSTER_STATS_SUBJECT,
  DropReporter,
  notAttached,
  type ClusterEngine,
  type ClusterEngineHost,
  type ClusterEngineStats,
  type ClusterState,
} from '../cluster-engine.js';
import { clusterDefaults, type ResolvedClusterOptions } from '../cluster-options.js';
import type { ClusterBus, ClusterPart } from '../cluster-part.js';
import type { ClusterPresenceOptions } from '../cluster-presence.js';
import { SubscriptionLoss } from '../subscription-loss.js';

/** What every pub/sub engine sets on its transport (options every pub/sub transport shares); the engine's own file adds the rest. */
export type PubSubEngineTransportOptions = Pick<RedisTransportOptions, 'url' | 'noEcho' | 'outboxSize' | 'outboxOverflow' | 'backoff'>;

/** Where a broker hears the answers to its requests. */
const inboxOf = (node: string): string => `_EVENTWIRE.inbox.${node.replace(/[^A-Za-z0-9_-]/g, '_')}`;

type Handler = (body: unknown, reply: ((answer: object) => void) | undefined) => void;

export class PubSubClusterEngine implements ClusterEngine {
  readonly kind: string;
  readonly node: string;
  readonly presence: ClusterPresenceOptions | undefined;
  readonly #options: ResolvedClusterOptions;
  #attached: ClusterEngineHost | undefined;
  #parts: readonly ClusterPart[] = [];
  readonly #transport: PubSubTransport;
  readonly #drops: DropReporter;
  readonly #interest = new Set<string>();
  /** The parts' subscriptions, by internal subject. */
  readonly #handlers = new Map<string, Set<Handler>>();
  /** Open requests, by id: their answers come to this broker's inbox. */
  readonly #requests = new Map<string, (body: unknown) => void>();
  readonly #bus: ClusterBus;
  readonly #ids = createEventIdGenerator();
  readonly #loss: SubscriptionLoss;
  #state: ClusterState = 'connecting';
  #everOpen = false;
  #forwarded = 0;
  #received = 0;
  #invalid = 0;
  #reconnects = 0;

  /** `kind`: the engine's name (`redis`, `postgres`); `transport`: its transport, made with these common options. */
  constructor(kind: string, options: ResolvedClusterOptions, transport: (common: PubSubEngineTransportOptions) => PubSubTransport) {
    this.kind = kind;
    this.node = options.node;
    this.presence = options.presence;
    this.#options = options;
    const ceiling = options.reconnectTimeWaitMs ?? clusterDefaults.reconnectTimeWaitMs;
    const outboxSize = options.outboxSize ?? clusterDefaults.outboxSize;
    const common: PubSubEngineTransportOptions = {
      url: options.url,
      noEcho: true,
      outboxSize,
      outboxOverflow: 'drop-oldest',
      // Jittered, capped at the configured wait: brokers restarted together do not return in step.
      backoff: (attempt: number) => Math.random() * Math.min(ceiling, 50 * 2 ** Math.min(attempt, 10)),
    };
    this.#transport = transport(common);
    this.#loss = new SubscriptionLoss(outboxSize);
    this.#drops = new DropReporter((error) => this.#host.report(error), (error, more) =>
      new EventwireError(error.code, `cluster: a message from ${kind} was dropped: ${error.message}${more > 0 ? ` (and ${more} more dropped since the last report)` : ''}`, { cause: error }),
    );
    this.#bus = {
      subscribe: (subject, handle) => {
        let handlers = this.#handlers.get(subject);
        if (!handlers) {
          this.#handlers.set(subject, (handlers = new Set()));
          void this.#transport.subscribe(subject).catch((error: unknown) => this.#failedUnlessClosed(error));
        }
        handlers.add(handle);
        return () => {
          handlers.delete(handle);
          if (handlers.size > 0 || this.#handlers.get(subject) !== handlers) return;
          this.#handlers.delete(subject);
          void this.#transport.unsubscribe(subject).catch(() => {});
        };
      },
      publish: (subject, body) => this.#send(subject, { body }),
      request: (subject, body, answer) => {
        const request = this.#ids();
        this.#requests.set(request, answer);
        this.#send(subject, { body, reply: { to: inboxOf(this.node), request } });
        return () => this.#requests.delete(request);
      },
    };
  }

  get state(): ClusterState {
    return this.#state;
  }

  get #host(): ClusterEngineHost {
    return this.#attached ?? notAttached();
  }

  attach(host: ClusterEngineHost, parts: readonly ClusterPart[]): void {
    this.#attached = host;
    this.#parts = parts;
  }

  start(): void {
    this.#transport.connect({
      deliver: (message) => this.#receive(message),
      status: (status) => this.#status(status.state, status.state === 'closed' ? status.error : undefined),
      error: (error) => {
        // A message from the server that is not an event; anything else is not a dropped message.
        if (error.code !== 'invalid_envelope') return this.#host.report(new EventwireError(error.code, `cluster: ${this.kind}: ${error.message}`, { cause: error }));
        this.#invalid++;
        this.#drops.dropped(error);
      },
      gap: (gap) => this.#gap(gap),
      presence: () => {},
      member: () => {},
    });
    // The broker's own subjects: answers to its requests, and /cluster stats.
    void this.#transport.subscribe(inboxOf(this.node)).catch((error: unknown) => this.#failedUnlessClosed(error));
    this.#bus.subscribe(CLUSTER_STATS_SUBJECT, (_body, reply) => reply?.(this.#host.nodeStats() as object));
  }

  readonly interest = (pattern: string, interested: boolean): void => {
    // The brokers' own subjects are never delivered to clients, and the bus holds its own subscriptions to them.
    if (isInternalSubject(pattern)) return;
    if (interested) {
      if (this.#interest.has(pattern)) return;
      this.#interest.add(pattern);
      void this.#listen(pattern);
      return;
    }
    if (!this.#interest.delete(pattern)) return;
    void this.#transport.unsubscribe(pattern).catch(() => {});
  };

  forward(envelope: EventEnvelope, except: string | undefined): void {
    if (this.#state === 'closed') return;
    // With ack: a publish the server refuses fails here, where it can be said to be outgoing.
    this.#transport.publish(envelope, except === undefined ? { ack: true } : { except, ack: true }).then(() => void this.#forwarded++, (error: unknown) => {
      // Evicted from the full outbox while away (counted there), or the server refused it.
      // Rejected by this engine's own close: still held, and the broker's close says how many (server.ts).
      const failure = asError(error);
      if (failure.code === 'buffer_overflow' || this.#state === 'closed') return;
      this.#host.report(new EventwireError(failure.code, `cluster: event ${envelope.id} (${envelope.topic}) could not be forwarded to ${this.kind}: ${failure.message}`, { cause: failure }));
    });
  }

  stats(): ClusterEngineStats {
    return {
      node: this.node,
      engine: this.kind,
      state: this.#state,
      forwarded: this.#forwarded,
      received: this.#received,
      invalid: this.#invalid,
      held: this.#transport.held,
      droppedWhileAway: this.#transport.outboxDropped,
      reconnects: this.#reconnects,
      interest: this.#interest.size,
    };
  }

  async gatherStats(): Promise<unknown[]> {
    if (this.#state !== 'open') return [this.#host.nodeStats()];
    const answers: unknown[] = [];
    const stop = this.#bus.request(CLUSTER_STATS_SUBJECT, { node: this.node }, (body) => answers.push(body));
    await new Promise((resolve) => setTimeout(resolve, this.#options.statsTimeoutMs ?? clusterDefaults.statsTimeoutMs).unref());
    stop();
    return [this.#host.nodeStats(), ...answers];
  }

  dropped(error: EventwireError, received = true): void {
    if (received) this.#received--;
    this.#invalid++;
    this.#drops.dropped(error);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    await Promise.all(this.#parts.map((part) => part.close().catch(() => {})));
    this.#state = 'closed';
    this.#loss.clear();
    await this.#transport.close();
  }

  // ---------------------------------------------------------------------------

  async #listen(pattern: string): Promise<void> {
    try {
      await this.#transport.subscribe(pattern);
    } catch (error) {
      if (this.#interest.has(pattern)) this.#failedUnlessClosed(error);
    }
  }

  /**
   * A subscription that failed. One that this engine's own close rejected
   * (closed before the link was up) is no failure: there is nothing left to
   * read, and a routine stop must not log an error.
   */
  #failedUnlessClosed(error: unknown): void {
    if (this.#state !== 'closed') this.#host.report(asError(error));
  }

  #status(state: 'connecting' | 'open' | 'reconnecting' | 'closed', error: EventwireError | undefined): void {
    if (this.#state === 'closed') return;
    if (state === 'open') {
      const first = !this.#everOpen;
      if (!first) this.#reconnects++;
      this.#everOpen = true;
      this.#state = 'open';
      // The transport said its gaps (if the subscriber was lost) before this: the broker's gap, then what was held.
      this.#loss.recovered((loss) => this.#host.missed(loss));
      this.#host.log(first ? `cluster: node ${this.node} joined through ${this.kind}` : `cluster: ${this.kind} back; held events forwarded`);
      for (const part of this.#parts) part.opened(this.#bus, first);
    } else if (state === 'reconnecting') {
      if (this.#state === 'open') {
        this.#host.log(`cluster: lost ${this.kind}; local delivery goes on, events for the cluster are held (what other brokers publish meanwhile may be missed: subscribers are told of a gap once it is back)`);
        // Only the publishing connection may be gone: a loss, but a gap only if the transport reports one.
        this.#loss.lost();
        for (const part of this.#parts) part.lost?.();
      } else if (!this.#everOpen && this.#state === 'connecting') {
        this.#host.log(`cluster: ${this.kind} not reachable (${error?.message ?? 'connecting'}); serving local clients, retrying`);
      }
      this.#state = 'reconnecting';
    } else if (state === 'closed' && error) {
      // Given up (credentials refused): the broker serves its own clients alone, and says why.
      this.#state = 'closed';
      this.#host.report(new EventwireError(error.code, `cluster: ${this.kind} refused this broker: ${error.message}`, { cause: error }));
    }
  }

  /** A broker's own message on an internal subject: a part's body, a request (`reply`), or an answer (`request`). */
  #send(subject: string, data: { body: object; reply?: { to: string; request: string }; request?: string }): void {
    if (this.#state !== 'open') return;
    const envelope: EventEnvelope = { id: this.#ids(), topic: subject, source: `urn:eventwire:broker:${this.node}`, time: new Date().toISOString(), data };
    this.#transport.publish(envelope, { ack: true }).catch(() => {
      // Lost meanwhile: what the parts send when the link is back carries it.
    });
  }

  #receive(message: unknown): void {
    const record = message as { topic?: unknown; data?: unknown; [EXCEPT_FIELD]?: unknown } | null;
    const topic = typeof record?.topic === 'string' ? record.topic : undefined;
    if (topic !== undefined && isInternalSubject(topic)) return this.#internal(topic, record!.data);
    const except = record?.[EXCEPT_FIELD];
    // Arrived on a subscription that is back before the transport said so: held until the gap is told.
    this.#loss.deliver(() => {
      this.#received++;
      this.#host.deliver(message, typeof except === 'string' ? except : undefined);
    });
  }

  /**
   * The transport's gap: after a reconnect, once per pattern it listened to
   * (said once for all of them, by #status); or, while open, events on one
   * pattern that could not be read (PostgreSQL's large-event row gone).
   */
  #gap(gap: HistoryGap): void {
    if (this.#loss.active) return this.#loss.missed();
    if (isInternalSubject(gap.pattern)) return;
    this.#host.missed({ pattern: gap.pattern, reason: gap.reason, since: Date.now() });
  }

  /** A broker's own message: an answer to one of this broker's requests, or for a part. */
  #internal(topic: string, data: unknown): void {
    const { body, reply, request } = (data ?? {}) as { body?: unknown; reply?: { to?: unknown; request?: unknown }; request?: unknown };
    if (topic === inboxOf(this.node)) {
      if (typeof request === 'string') this.#requests.get(request)?.(body);
      return;
    }
    const handlers = this.#handlers.get(topic);
    if (!handlers) return;
    const to = reply?.to;
    const id = reply?.request;
    const answer =
      typeof to === 'string' && typeof id === 'string' && to.startsWith('_EVENTWIRE.inbox.')
        ? (answerBody: object) => this.#send(to, { body: answerBody, request: id })
        : undefined;
    for (const handle of handlers) handle(body, answer);
  }
}

function asError(error: unknown): EventwireError {
  return error instanceof EventwireError ? error : new EventwireError('internal', String(error), { cause: error });
}
