// Several brokers, one event space, over NATS (core, no JetStream needed).
// Interest-based: the link subscribes on NATS only to the patterns this
// broker's own clients hold (Router.watchInterest), and drops a subscription
// when its last local subscriber leaves. Every event that enters this broker
// is published once on its topic's subject; NATS brings other brokers' (and
// plain nats:// channels') events to the patterns subscribed here. The
// connection does not echo, so a broker never receives its own publishes.
// While NATS is away the broker keeps serving its local clients: events that
// enter meanwhile wait in a bounded outbox and are forwarded in order once
// the link is back, and the client re-sends every subscription by itself.
import { EventwireError, type EventEnvelope } from '@eventwire/event-channel';
import {
  EXCEPT_HEADER,
  NatsPatternOwners,
  Outbox,
  fromNatsError,
  loadNats,
  natsConnectionOptions,
  type NatsModule,
  type NatsServerOptions,
} from '@eventwire/event-channel/protocol';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { ClusterPart } from './cluster-part.js';
import type { ClusterPresenceOptions } from './cluster-presence.js';
import type { JetStreamHistoryOptions } from './jetstream-history.js';

/** `cluster` option of the broker: where NATS is, and this node's name. */
export interface ClusterOptions extends NatsServerOptions {
  /** This broker's name in the cluster (stats, `/health`, `/cluster`). @default `<hostname>-<random>` */
  readonly node?: string;
  /** Wait between reconnect attempts to NATS. @default 1000 */
  readonly reconnectTimeWaitMs?: number;
  /** Events held while NATS is away, forwarded in order when it is back; past it the oldest are dropped and counted. @default 10_000 */
  readonly outboxSize?: number;
  /** How long `/cluster` waits for the other brokers' answers. @default 500 */
  readonly statsTimeoutMs?: number;
  /** Where the cluster keeps history (the broker's `history` rules), in JetStream. */
  readonly history?: JetStreamHistoryOptions;
  /** Presence across brokers: how often each says it is alive (`heartbeatMs`; gone after three missed). */
  readonly presence?: ClusterPresenceOptions;
}

export const clusterDefaults = { reconnectTimeWaitMs: 1000, outboxSize: 10_000, statsTimeoutMs: 500 } as const;

/** The subject brokers answer with their node stats on. Never an event: `_EVENTWIRE.` subjects are dropped by every link. */
export const CLUSTER_STATS_SUBJECT = '_EVENTWIRE.cluster.stats';

export type ClusterState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The link's own counters, per node. */
export interface ClusterLinkStats {
  readonly node: string;
  readonly state: ClusterState;
  /** Events this broker put on NATS. */
  readonly forwarded: number;
  /** Events that came from NATS (other brokers, nats:// channels). */
  readonly received: number;
  /** NATS messages on subscribed subjects that were not eventwire events (dropped). */
  readonly invalid: number;
  /** Events waiting for NATS to come back. */
  readonly held: number;
  /** Events dropped from the full outbox while NATS was away. */
  readonly droppedWhileAway: number;
  readonly reconnects: number;
  /** Patterns subscribed on NATS (this broker's clients' distinct patterns). */
  readonly interest: number;
}

/** What the link hands to the broker. */
export interface ClusterLinkHost {
  /** An event from NATS, unchecked (the broker validates it), and the connection it is not for. */
  deliver(envelope: unknown, except: string | undefined): void;
  report(error: EventwireError): void;
  log(message: string): void;
  /** This node's stats, for a `/cluster` request from another broker. */
  nodeStats(): unknown;
}

interface InterestEntry {
  readonly pattern: string;
  subscriptions: Subscription[];
}

interface HeldEvent {
  readonly envelope: EventEnvelope;
  readonly except: string | undefined;
}

export class NatsClusterLink {
  readonly node: string;
  readonly #options: ClusterOptions;
  readonly #host: ClusterLinkHost;
  readonly #parts: readonly ClusterPart[];
  readonly #interest = new Map<string, InterestEntry>();
  readonly #owners = new NatsPatternOwners<InterestEntry>();
  readonly #outbox: Outbox<HeldEvent>;
  readonly #encoder = new TextEncoder();
  #nats: NatsModule | undefined;
  #connection: NatsConnection | undefined;
  #state: ClusterState = 'connecting';
  #retry: ReturnType<typeof setTimeout> | undefined;
  #dialing: Promise<unknown> | undefined;
  #forwarded = 0;
  #received = 0;
  #invalid = 0;
  #reconnects = 0;
  #lastDropReport = -Infinity;
  #droppedUnreported = 0;

  /** `parts`: what rides on this link's connection (the history's mirror, presence). */
  constructor(options: ClusterOptions, host: ClusterLinkHost, parts: readonly ClusterPart[] = []) {
    this.#options = options;
    this.#host = host;
    this.#parts = parts;
    this.node = clusterNodeName(options);
    this.#outbox = new Outbox(options.outboxSize ?? clusterDefaults.outboxSize, 'drop-oldest');
  }

  get state(): ClusterState {
    return this.#state;
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

  stats(): ClusterLinkStats {
    return {
      node: this.node,
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
    clearTimeout(this.#retry);
    if (this.#dialing) await this.#dialing;
    await Promise.all(this.#parts.map((part) => part.close().catch(() => {})));
    const connection = this.#connection;
    if (connection && !connection.isClosed()) {
      await Promise.race([connection.drain().catch(() => {}), delay(2000)]);
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
    for (const part of this.#parts) part.opened(connection, true);
  }

  async #watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (this.#state === 'closed') return;
      if (status.type === 'disconnect') {
        if (this.#state === 'open') this.#host.log('cluster: lost NATS; local delivery goes on, events for the cluster are held');
        this.#state = 'reconnecting';
        for (const part of this.#parts) part.lost?.();
      } else if (status.type === 'reconnect') {
        this.#reconnects++;
        // The client has re-sent the subscriptions; one round trip and the server has them.
        connection.flush().then(
          () => {
            if (this.#state !== 'reconnecting') return;
            this.#opened();
            for (const part of this.#parts) part.opened(connection, false);
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
        this.#received++;
        this.#host.deliver(envelope, message.headers?.get(EXCEPT_HEADER) || undefined);
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

  /**
   * At most one report a second for dropped messages, naming how many more
   * were dropped meanwhile: a publisher flooding NATS with garbage must not
   * turn every message into a log write on every broker.
   */
  #reportDropped(error: EventwireError): void {
    const now = Date.now();
    if (now - this.#lastDropReport < 1000) {
      this.#droppedUnreported++;
      return;
    }
    const more = this.#droppedUnreported;
    this.#lastDropReport = now;
    this.#droppedUnreported = 0;
    const suffix = more > 0 ? ` (and ${more} more dropped since the last report)` : '';
    this.#host.report(new EventwireError(error.code, `cluster: a message from NATS was dropped: ${error.message}${suffix}`, { cause: error }));
  }
}

/** This broker's name in the cluster: the configured one, or the host's name with a random suffix. */
export function clusterNodeName(options: ClusterOptions): string {
  return options.node ?? `${hostnameOr('broker')}-${globalThis.crypto.randomUUID().slice(0, 8)}`;
}

function hostnameOr(fallback: string): string {
  return process.env['HOSTNAME'] || fallback;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
