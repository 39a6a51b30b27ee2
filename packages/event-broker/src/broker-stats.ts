// The broker's counters as `/stats`, `/cluster` and `/metrics` report them.
import type { RefusalCounts } from './auth/access.js';
import type { ClusterEngineStats } from './cluster/cluster-engine.js';
import type { HookStats } from './hooks.js';
import type { PusherWebhookStats } from './surfaces/pusher/pusher-webhook-sender.js';
import type { RedisBridgeStats } from './surfaces/socketio/redis-bridge.js';
import type { SurfaceName } from './surfaces/surface.js';

/** A snapshot of the broker's counters. */
export interface BrokerStats {
  /** Open connections by surface (every built-in surface, on or off, and every registered one). */
  readonly connections: { readonly [TName in SurfaceName]: number };
  readonly subscribers: number;
  readonly subscriptions: number;
  readonly published: number;
  readonly deliveries: number;
  readonly rejected: number;
  readonly derived: number;
  readonly derivedDropped: number;
  readonly slowConsumersCut: number;
  /** Of those, cut because all queues together passed `maxTotalOutboundBytes` (the furthest behind first). */
  readonly slowConsumersCutForMemory: number;
  readonly heartbeatTimeouts: number;
  readonly topics: number;
  readonly hooks: readonly HookStats[];
  /** Re-sent publishes answered from history instead of stored again. */
  readonly duplicates: number;
  /** Publishes refused because history could not store them. */
  readonly storeFailures: number;
  /**
   * Connections, frames and HTTP calls refused, by reason: credentials
   * (`unauthorized`), rules and permissions (`forbidden`), rate limits
   * (`rate_limited`), connection caps (`connection_limit`).
   */
  readonly refused: RefusalCounts;
  /** WebSocket connections admitted and open (all surfaces; what `maxConnections` counts). */
  readonly admitted: number;
  /** The history store, when some topics keep history. */
  readonly history?: { readonly kind: string; readonly epoch: string; readonly head: number };
  /** Events that came from the cluster and were delivered here. */
  readonly fromCluster: number;
  /** Cluster messages dropped here: not an envelope, or failing the event map. */
  readonly fromClusterInvalid: number;
  /** Resumes: reconnected clients asking for the events they missed. */
  readonly recoveries: number;
  /** Events replayed to resuming clients. */
  readonly replayed: number;
  /** Gaps resuming clients were told of. */
  readonly gaps: number;
  /** Subscriptions told of a gap because the cluster engine lost its subscription (a native `gap` frame each). */
  readonly clusterGaps: number;
  /** Subscriptions that missed the same on a surface with no gap (Synap, Pusher, broadcasting): not told, counted and logged. */
  readonly clusterGapsUntold: number;
  /** This node's link to the cluster, when it is in one. */
  readonly cluster?: ClusterEngineStats;
  /** The Socket.IO Redis emitters' bridge, when `socketio.redis` is set: messages read and what became of them. */
  readonly socketioBridge?: RedisBridgeStats;
  /** Each Pusher webhook (by app and URL), when some Pusher app has one: events sent, failed, dropped, waiting; requests retried. */
  readonly pusherWebhooks?: readonly PusherWebhookStats[];
  /** Bytes read from and written to WebSocket connections (the TCP sockets' own counts: framing and handshakes included). */
  readonly bytes: { readonly received: number; readonly sent: number };
}

/** `/cluster`: every node, and sums over them. */
export interface ClusterStats {
  readonly nodes: readonly BrokerStats[];
  readonly total: {
    readonly nodes: number;
    readonly connections: number;
    readonly subscriptions: number;
    readonly published: number;
    readonly deliveries: number;
    readonly rejected: number;
  };
}

/** `/cluster` from each node's stats: the nodes and the sums over them (a node missing a counter counts 0). */
export function sumClusterStats(nodes: readonly BrokerStats[]): ClusterStats {
  const sum = (read: (stats: BrokerStats) => number): number => nodes.reduce((total, node) => total + (read(node) || 0), 0);
  return {
    nodes,
    total: {
      nodes: nodes.length,
      connections: sum((node) => Object.values<number>(node.connections).reduce((total, count) => total + (count || 0), 0)),
      subscriptions: sum((node) => node.subscriptions),
      published: sum((node) => node.published),
      deliveries: sum((node) => node.deliveries),
      rejected: sum((node) => node.rejected),
    },
  };
}
