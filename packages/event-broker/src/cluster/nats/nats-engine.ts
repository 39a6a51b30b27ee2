// Several brokers, one event space, over NATS (core, no JetStream needed).
// Interest-based: the engine subscribes on NATS only to the patterns this
// broker's own clients hold (Router.watchInterest), and drops a subscription
// when its last local subscriber leaves. Every event that enters this broker
// is published once on its topic's subject; NATS brings other brokers' (and
// plain nats:// channels') events to the patterns subscribed here. The
// connection does not echo, so a broker never receives its own publishes.
// While NATS is away the broker keeps serving its local clients: events that
// enter meanwhile wait in a bounded outbox and are forwarded in order once
// the engine is back, and the client re-sends every subscription by itself.
// What other brokers published while the connection was down is not re-sent
// (core NATS keeps nothing): the broker's subscribers are told of a gap once
// it is back (SubscriptionLoss). Topics the cluster keeps history for are
// the exception: the history's mirror resumes from where it was, so the
// broker tells no gap for patterns the history covers entirely. That history
// (JetStream) is this engine's too: `sharedHistory` makes it, and it rides on
// the engine's connection.
import { EventwireError, type EventEnvelope } from '@eventwire/event-channel';
import {
  EXCEPT_HEADER,
  NatsPatternOwners,
  Outbox,
  fromNatsError,
  loadNats,
  natsConnectionOptions,
  settlesWithin,
  type NatsModule,
} from '@eventwire/event-channel/protocol';
import type { HistoryRules } from '@eventwire/event-channel/protocol';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  CLUSTER_STATS_SUBJECT,
  DropReporter,
  notAttached,
  type ClusterEngine,
  type ClusterEngineHost,
  type ClusterEngineStats,
  type ClusterHistory,
  type ClusterHistoryHost,
  type ClusterState,
} from '../cluster-engine.js';
import { clusterDefaults, type ResolvedClusterOptions } from '../cluster-options.js';
import type { ClusterBus, ClusterPart } from '../cluster-part.js';
import type { ClusterPresenceOptions } from '../cluster-presence.js';
import { SubscriptionLoss } from '../subscription-loss.js';
import { JetStreamHistory } from './jetstream-history.js';

/** A part that needs NATS itself (the history's mirror), beside the parts that speak over the bus. */
export interface NatsClusterPart {
  opened(connection: NatsConnection, first: boolean): void;
  lost?(): void;
  close(): Promise<void>;
}

interface InterestEntry {
  readonly pattern: string;
  subscriptions: Subscription[];
}

interface HeldEvent {
  readonly envelope: EventEnvelope;
  readonly except: string | undefined;
}

export class NatsClusterEngine implements ClusterEngine {
  readonly kind = 'nats';
  readonly node: string;
  readonly presence: ClusterPresenceOptions | undefined;
  readonly #options: ResolvedClusterOptions;
  #attached: ClusterEngineHost | undefined;
  #parts: readonly ClusterPart[] = [];
  readonly #natsParts: NatsClusterPart[] = [];
  readonly #drops: DropReporter;
  readonly #interest = new Map<string, InterestEntry>();
  readonly #owners = new NatsPatternOwners<InterestEntry>();
  readonly #outbox: Outbox<HeldEvent>;
  readonly #encoder = new TextEncoder();
  readonly #loss: SubscriptionLoss;
  #nats: NatsModule | undefined;
  #connection: NatsConnection | undefined;
  #state: ClusterState = 'connecting';
  #retry: ReturnType<typeof setTimeout> | undefined;
  #dialing: Promise<unknown> | undefined;
  #forwarded = 0;
  #received = 0;
  #invalid = 0;
  #reconnects = 0;

  constructor(options: ResolvedClusterOptions) {
    this.#options = options;
    this.node = options.node;
    this.presence = options.presence;
    this.#outbox = new Outbox(options.outboxSize ?? clusterDefaults.outboxSize, 'drop-oldest');
    this.#loss = new SubscriptionLoss(options.outboxSize ?? clusterDefaults.outboxSize);
    this.#drops = new DropReporter((error) => this.#host.report(error), (error, more) =>
      new EventwireError(error.code, `cluster: a message from NATS was dropped: ${error.message}${more > 0 ? ` (and ${more} more dropped since the last report)` : ''}`, { cause: error }),
    );
  }

  get state(): ClusterState {
    return this.#state;
  }

  get #host(): ClusterEngineHost {
    return this.#attached ?? notAttached();
  }

  /** The history in JetStream (`cluster.history` options): its mirror rides on this engine's connection. */
  sharedHistory(rules: HistoryRules, host: ClusterHistoryHost): ClusterHistory {
    const history = new JetStreamHistory({ mirrorMaxBytes: host.memoryMaxBytes, ...this.#options.history }, rules, this.node, {
      accept: (raw, own) => host.accept(raw, own),
      deliver: (envelope, except, own) => host.deliver(envelope, except, own),
      dropped: (error) => this.dropped(error, false),
      report: (error) => host.report(error),
      log: (line) => host.log(line),
    });
    this.#natsParts.push(history);
    return history;
  }

  attach(host: ClusterEngineHost, parts: readonly ClusterPart[]): void {
    this.#attached = host;
    this.#parts = parts;
  }

  /** Starts connecting (in the background: the broker serves its local clients meanwhile). */
  start(): void {
    void this.#open();
  }

  /** Router.watchInterest's listener: subscribe upstream on the first local subscriber, unsubscribe after the last. */
  readonly interest = (pattern: string, interested: boolean): void => {
    if (interested) {
      if (this.#interest.has(pattern)) return;
      const entry: InterestEntry = { pattern, subscriptions: [] };
      this.#interest.set(pattern, entry);
      this.#owners.add(entry);
      if (this.#connection && !this.#connection.isClosed()) this.#subscribeUpstream(entry);
      return;
    }
    const entry = this.#interest.get(pattern);
    if (!entry) return;
    this.#interest.delete(pattern);
    this.#owners.delete(entry);
    for (const subscription of entry.subscriptions) subscription.unsubscribe();
  };

  /** Puts an event that entered this broker on NATS (or holds it while NATS is away). */
  forward(envelope: EventEnvelope, except: string | undefined): void {
    if (this.#state !== 'open') {
      if (this.#state === 'closed') return;
      this.#outbox.push({ envelope, except });
      return;
    }
    this.#publish(envelope, except);
  }

  stats(): ClusterEngineStats {
    return {
      node: this.node,
      engine: 'nats',
      state: this.#state,
      forwarded: this.#forwarded,
      received: this.#received,
      invalid: this.#invalid,
      held: this.#outbox.size,
      droppedWhileAway: this.#outbox.dropped,
      reconnects: this.#reconnects,
      interest: this.#interest.size,
    };
  }

  /** Every reachable broker's node stats (this one's included), each answering within `statsTimeoutMs`. */
  async gatherStats(): Promise<unknown[]> {
    const connection = this.#connection;
    if (!connection || this.#state !== 'open') return [this.#host.nodeStats()];
    const answers: unknown[] = [];
    try {
      const replies = await connection.requestMany(CLUSTER_STATS_SUBJECT, '', {
        strategy: 'timer',
        maxWait: this.#options.statsTimeoutMs ?? clusterDefaults.statsTimeoutMs,
      });
      for await (const reply of replies) {
        try {
          answers.push(reply.json());
        } catch {
          // An answer that is not JSON is not a broker's.
        }
      }
    } catch (error) {
      // No other broker answering (NATS says "no responders"), or NATS lost meanwhile: this node alone, and said why.
      this.#host.log(`cluster: stats from the other nodes unavailable (${fromNatsError(error, 'unavailable').message})`);
    }
    // noEcho: this broker does not hear its own request.
    return [this.#host.nodeStats(), ...answers];
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    clearTimeout(this.#retry);
    this.#state = 'closed';
    this.#loss.clear();
    if (this.#dialing) await this.#dialing;
    await Promise.all([...this.#parts, ...this.#natsParts].map((part) => part.close().catch(() => {})));
    const connection = this.#connection;
    if (connection && !connection.isClosed()) {
      await settlesWithin(connection.drain(), 2000);
      if (!connection.isClosed()) await connection.close().catch(() => {});
    }
  }

  // ---------------------------------------------------------------------------

  async #open(attempt = 0): Promise<void> {
    try {
      this.#nats ??= await loadNats();
    } catch (error) {
      this.#host.report(error instanceof EventwireError ? error : new EventwireError('unsupported_transport', String(error)));
      return;
    }
    if (this.#state === 'closed') return;
    let connection: NatsConnection;
    try {
      const options = natsConnectionOptions(
        this.#nats,
        { ...this.#options, name: this.#options.name ?? `eventwire-broker ${this.node}` },
        this.#options.reconnectTimeWaitMs ?? clusterDefaults.reconnectTimeWaitMs,
      );
      // noEcho: what this broker publishes is not sent back to it.
      const dialing = this.#nats.connect({ ...options, noEcho: true });
      this.#dialing = dialing.then(
        (landed) => (this.#state === 'closed' ? landed.close() : undefined),
        () => {},
      );
      connection = await dialing;
    } catch (error) {
      if ((this.#state as ClusterState) === 'closed') return;
      const failure = fromNatsError(error, 'connection_closed');
      if (attempt === 0) this.#host.log(`cluster: NATS not reachable (${failure.message}); serving local clients, retrying`);
      const wait = Math.min(30_000, (this.#options.reconnectTimeWaitMs ?? clusterDefaults.reconnectTimeWaitMs) * 2 ** Math.min(attempt, 5));
      this.#retry = setTimeout(() => void this.#open(attempt + 1), wait);
      return;
    } finally {
      this.#dialing = undefined;
    }
    if ((this.#state as ClusterState) === 'closed') return;
    this.#connection = connection;
    connection.subscribe(CLUSTER_STATS_SUBJECT, {
      callback: (error, message) => {
        if (!error) message.respond(this.#encoder.encode(JSON.stringify(this.#host.nodeStats())));
      },
    });
    for (const entry of this.#interest.values()) this.#subscribeUpstream(entry);
    void this.#watch(connection);
    await connection.flush().catch(() => {});
    this.#opened();
    this.#host.log(`cluster: node ${this.node} joined through ${connection.getServer()}`);
    this.#partsOpened(connection, true);
  }

  #partsOpened(connection: NatsConnection, first: boolean): void {
    const bus = natsClusterBus(connection, this.node);
    for (const part of this.#natsParts) part.opened(connection, first);
    for (const part of this.#parts) part.opened(bus, first);
  }

  async #watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (this.#state === 'closed') return;
      if (status.type === 'disconnect') {
        if (this.#state === 'open') {
          this.#host.log('cluster: lost NATS; local delivery goes on, events for the cluster are held (what other brokers publish meanwhile may be missed: subscribers are told of a gap once it is back)');
          // One connection carries every subscription: losing it may always miss events.
          this.#loss.lost();
          this.#loss.missed();
        }
        this.#state = 'reconnecting';
        for (const part of [...this.#natsParts, ...this.#parts]) part.lost?.();
      } else if (status.type === 'reconnect') {
        this.#reconnects++;
        // The client has re-sent the subscriptions; one round trip and the server has them.
        connection.flush().then(
          () => {
            if (this.#state !== 'reconnecting') return;
            this.#opened();
            // Every subscription is on the server again: the gap, then what arrived on them meanwhile.
            this.#loss.recovered((loss) => this.#host.missed(loss));
            this.#partsOpened(connection, false);
            this.#host.log(`cluster: NATS back (${connection.getServer()}); held events forwarded`);
          },
          () => {},
        );
      } else if (status.type === 'error') {
        this.#host.report(fromNatsError(status.error, 'internal'));
      }
    }
  }

  #opened(): void {
    this.#state = 'open';
    for (const held of this.#outbox.drain()) this.#publish(held.envelope, held.except);
  }

  #publish(envelope: EventEnvelope, except: string | undefined): void {
    const connection = this.#connection!;
    let headers;
    if (except !== undefined) {
      headers = this.#nats!.headers();
      headers.set(EXCEPT_HEADER, except);
    }
    try {
      connection.publish(envelope.topic, this.#encoder.encode(JSON.stringify(envelope)), headers && { headers });
      this.#forwarded++;
    } catch (error) {
      // Lost between the state check and the write: hold it for the reconnect.
      this.#outbox.push({ envelope, except });
      this.#host.report(fromNatsError(error, 'connection_closed'));
    }
  }

  #subscribeUpstream(entry: InterestEntry): void {
    entry.subscriptions = this.#owners.subscribe(this.#connection!, entry, {
      receive: (envelope, message) => {
        const except = message.headers?.get(EXCEPT_HEADER) || undefined;
        this.#loss.deliver(() => {
          this.#received++;
          this.#host.deliver(envelope, except);
        });
      },
      notJson: (error) => {
        this.#invalid++;
        this.#reportDropped(error);
      },
      failed: (error) => this.#host.report(error),
    });
  }

  /**
   * A message the broker found was not a valid event after all: counted, and
   * reported (throttled). `received`: it was counted as received (from a core
   * subscription; the history's mirror counts its own).
   */
  dropped(error: EventwireError, received = true): void {
    if (received) this.#received--;
    this.#invalid++;
    this.#reportDropped(error);
  }

  #reportDropped(error: EventwireError): void {
    this.#drops.dropped(error);
  }
}

/**
 * The parts' bus on a NATS connection: a subject per internal subject,
 * request/reply through an inbox. The connection does not echo, so a broker
 * never hears its own.
 */
function natsClusterBus(connection: NatsConnection, node: string): ClusterBus {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const parse = (data: Uint8Array): unknown => {
    try {
      return JSON.parse(decoder.decode(data));
    } catch {
      return undefined;
    }
  };
  const send = (subject: string, body: object, reply?: string): void => {
    if (connection.isClosed()) return;
    try {
      connection.publish(subject, encoder.encode(JSON.stringify(body)), reply === undefined ? undefined : { reply });
    } catch {
      // Lost meanwhile: what the parts send when the link is back carries it.
    }
  };
  return {
    subscribe(subject, handle) {
      const subscription = connection.subscribe(subject, {
        callback: (error, message) => {
          if (error) return;
          handle(parse(message.data), message.reply ? (answer) => send(message.reply!, answer) : undefined);
        },
      });
      return () => subscription.unsubscribe();
    },
    publish: (subject, body) => send(subject, body),
    request(subject, body, answer) {
      const inbox = `_INBOX.${node.replace(/[^A-Za-z0-9_-]/g, '_')}.${globalThis.crypto.randomUUID().replaceAll('-', '')}`;
      // Answers in a subscription callback, as the other messages: each broker's answer and what it sent after stay in order.
      const replies = connection.subscribe(inbox, {
        callback: (error, message) => {
          if (!error) answer(parse(message.data));
        },
      });
      send(subject, body, inbox);
      return () => replies.unsubscribe();
    },
  };
}
