// The contract every way brokers share an event space honours (NATS, Redis,
// PostgreSQL; the next is one more folder beside them): interest-based (an
// engine listens only to the patterns this broker's own clients hold), every
// event that enters a broker forwarded once and never echoed back to it, held
// in a bounded outbox while the server is away. The broker talks to an
// engine and never to its server. `createClusterEngine` (create-engine.ts)
// builds one from a URL; the broker's `cluster` option also takes one ready-made.
import { EventwireError, type EventEnvelope, type GapReason } from '@eventwire/event-channel';
import type { HistoryRules } from '@eventwire/event-channel/protocol';
import type { SharedHistoryStore } from '../history/shared-store.js';
import type { ClusterPart } from './cluster-part.js';
import type { ClusterPresenceOptions } from './cluster-presence.js';

export type ClusterState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The engine's own counters, per node. */
export interface ClusterEngineStats {
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

/** The broker, as an engine sees it: what the engine hands over. */
export interface ClusterEngineHost {
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

/**
 * History the cluster's server keeps for every broker (NATS: a JetStream
 * stream), read here from a local mirror, so an offset means the same on
 * every broker.
 */
export interface ClusterHistory extends SharedHistoryStore {
  /** True once the mirror holds what the cluster held at start; until then publishes on history topics are refused `unavailable`. */
  readonly ready: boolean;
  /** Resolves once ready; rejects (`unavailable`, saying why) when the history cannot be had: the broker does not start without it. */
  whenReady(): Promise<void>;
}

/** The broker, as the cluster's history sees it. */
export interface ClusterHistoryHost {
  /** Checks a stored message (envelope, event map); throws an `EventwireError` for one that is not a valid event. */
  accept(raw: unknown, own: boolean): EventEnvelope;
  /** Routes an event the mirror took to this broker's subscribers; returns how many it reached. */
  deliver(envelope: EventEnvelope, except: string | undefined, own: boolean): number;
  report(error: EventwireError): void;
  log(message: string): void;
  /** Most bytes of events a local mirror holds (the broker's `historyMaxMemoryBytes`). */
  readonly memoryMaxBytes: number;
}

/**
 * One broker's link to the others. The broker calls, in this order:
 * `sharedHistory` (only with history rules and no `historyStore` of its
 * own), `attach` (once, while it is built), `start` (when it listens),
 * `close`. One engine serves one broker.
 */
export interface ClusterEngine {
  /** Which engine: `nats`, `redis`, `postgres`… (stats, messages). */
  readonly kind: string;
  /** This broker's name in the cluster (stats, `/health`, `/cluster`). */
  readonly node: string;
  readonly state: ClusterState;
  /** Presence across brokers over this engine (how often each says it is alive). @default clusterPresenceDefaults */
  readonly presence?: ClusterPresenceOptions | undefined;
  /**
   * The history every broker of the cluster shares, kept by the engine's
   * server (NATS: JetStream). Absent: the engine shares events, not history,
   * and a broker with history rules needs a `historyStore` every broker
   * shares (it refuses to start otherwise: `unsupported_transport`).
   */
  sharedHistory?(rules: HistoryRules, host: ClusterHistoryHost): ClusterHistory;
  /** Binds the engine to its broker, before `start`: `host` is told what comes from the cluster; `parts` ride on the engine (presence). */
  attach(host: ClusterEngineHost, parts: readonly ClusterPart[]): void;
  /** Starts connecting (in the background: the broker serves its local clients meanwhile). */
  start(): void;
  /** Router.watchInterest's listener: listen on the first local subscriber of a pattern, let go after the last. */
  readonly interest: (pattern: string, interested: boolean) => void;
  /** Puts an event that entered this broker on the cluster (or holds it while the server is away). */
  forward(envelope: EventEnvelope, except: string | undefined): void;
  stats(): ClusterEngineStats;
  /** Every reachable broker's node stats, this one's first. */
  gatherStats(): Promise<unknown[]>;
  /**
   * A message the broker found was not a valid event after all: counted and
   * reported (throttled). `received`: it was counted as received (from the
   * engine's subscription; a shared history's mirror counts its own). @default true
   */
  dropped(error: EventwireError, received?: boolean): void;
  close(): Promise<void>;
}

/** An engine used before its broker attached it: a broker always attaches first, so this is a bug, said plainly. */
export function notAttached(): never {
  throw new EventwireError('internal', 'cluster engine used before attach(host, parts): give it to a broker (the `cluster` option)');
}

/** The subject brokers answer with their node stats on. Never an event: `_EVENTWIRE.` subjects are dropped by every engine. */
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
