// One interface for every way brokers share an event space (NATS, Redis,
// PostgreSQL): interest-based (an engine listens only to the patterns this
// broker's own clients hold), every event that enters a broker forwarded once
// and never echoed back to it, held in a bounded outbox while the server is
// away. The broker talks to an engine and never to its server.
import type { EventEnvelope, EventwireError, GapReason } from '@eventwire/event-channel';

export type ClusterState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The engine's own counters, per node. */
export interface ClusterLinkStats {
  readonly node: string;
  /** `nats`, `redis` or `postgres`. */
  readonly engine: string;
  readonly state: ClusterState;
  /** Events this broker put on the cluster. */
  readonly forwarded: number;
  /** Events that came from the cluster (other brokers, channels on the same server). */
  readonly received: number;
  /** Messages on subscribed subjects that were not eventwire events (dropped). */
  readonly invalid: number;
  /** Events waiting for the server to come back. */
  readonly held: number;
  /** Events dropped from the full outbox while the server was away. */
  readonly droppedWhileAway: number;
  readonly reconnects: number;
  /** Patterns subscribed on the server (this broker's clients' distinct patterns). */
  readonly interest: number;
}

/**
 * Events from other brokers may have been missed: the engine's subscription
 * on its server was lost (a cut connection, the server restarted) or an
 * announced event could not be read. Never silent: the broker tells every
 * subscription it concerns, once per loss.
 */
export interface ClusterLoss {
  /** The pattern whose events may be missing; absent: every pattern (the whole subscription was lost). */
  readonly pattern?: string;
  readonly reason: GapReason;
  /** Since when (ms since the epoch): when the engine lost its subscription. */
  readonly since: number;
}

/** What an engine hands to the broker. */
export interface ClusterLinkHost {
  /** An event from the cluster, unchecked (the broker validates it), and the connection it is not for. */
  deliver(envelope: unknown, except: string | undefined): void;
  /**
   * Events from other brokers may have been missed (see {@link ClusterLoss}).
   * Said once per loss, when the subscription is live again and before any
   * event that came after the loss is delivered, so a client's gap sits
   * exactly where the hole is.
   */
  missed(loss: ClusterLoss): void;
  report(error: EventwireError): void;
  log(message: string): void;
  /** This node's stats, for a `/cluster` request from another broker. */
  nodeStats(): unknown;
}

export interface ClusterEngine {
  readonly node: string;
  readonly state: ClusterState;
  /** Starts connecting (in the background: the broker serves its local clients meanwhile). */
  start(): void;
  /** Router.watchInterest's listener: listen on the first local subscriber of a pattern, let go after the last. */
  readonly interest: (pattern: string, interested: boolean) => void;
  /** Puts an event that entered this broker on the cluster (or holds it while the server is away). */
  forward(envelope: EventEnvelope, except: string | undefined): void;
  stats(): ClusterLinkStats;
  /** Every reachable broker's node stats, this one's first. */
  gatherStats(): Promise<unknown[]>;
  /** A message the broker found was not a valid event after all: counted and reported (throttled). */
  dropped(error: EventwireError, received?: boolean): void;
  close(): Promise<void>;
}

/** The subject brokers answer with their node stats on. Never an event: `_EVENTWIRE.` subjects are dropped by every link. */
export const CLUSTER_STATS_SUBJECT = '_EVENTWIRE.cluster.stats';

/**
 * At most one report a second for dropped messages, naming how many more
 * were dropped meanwhile: a publisher flooding the server with garbage must
 * not turn every message into a log write on every broker.
 */
export class DropReporter {
  #last = -Infinity;
  #unreported = 0;

  constructor(
    readonly report: (error: EventwireError) => void,
    readonly makeError: (error: EventwireError, more: number) => EventwireError,
  ) {}

  dropped(error: EventwireError): void {
    const now = Date.now();
    if (now - this.#last < 1000) {
      this.#unreported++;
      return;
    }
    const more = this.#unreported;
    this.#last = now;
    this.#unreported = 0;
    this.report(this.makeError(error, more));
  }
}
