// GET /metrics: the broker's counters in Prometheus text format, through
// prom-client (and its default Node process metrics, event-loop lag among
// them). Nothing here runs on the publish or delivery path: the broker keeps
// plain counters as it always has (core counters, per-hook counts and
// durations, topic groups, the kernel's socket byte counts), and a scrape
// reads one snapshot of them.
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { BrokerStats } from '../broker-stats.js';
import { durationBuckets } from '../duration-histogram.js';
import type { TopicGroups } from '../topic-groups.js';

/** Options of {@link BrokerMetrics}. */
export interface BrokerMetricsOptions {
  readonly snapshot: () => BrokerStats;
  readonly topicGroups: TopicGroups | undefined;
  /** prom-client's default process and Node.js metrics (CPU, memory, GC, event-loop lag). */
  readonly defaultMetrics: boolean;
  readonly version: string;
  /** Whether the broker keeps history / is in a cluster: their metrics exist only then. */
  readonly history: boolean;
  readonly cluster: boolean;
  /** Whether the Socket.IO Redis emitters' bridge runs: its counter exists only then. */
  readonly socketioBridge?: boolean;
  /** Whether some Pusher app has webhooks: their metrics exist only then. */
  readonly pusherWebhooks?: boolean;
}

type Series = ReadonlyArray<readonly [Readonly<Record<string, string>>, number]>;
type MetricMaker = (name: string, help: string, labelNames: readonly string[], read: (stats: BrokerStats) => Series | number) => unknown;

/**
 * The broker's Prometheus registry. Made on the first scrape, so a broker
 * nobody scrapes pays nothing, not even the event-loop lag monitor.
 */
export class BrokerMetrics {
  readonly #options: BrokerMetricsOptions;
  #registry: Registry | undefined;
  /** The snapshot the current scrape reads (one per scrape, not one per metric). */
  #now: BrokerStats | undefined;

  constructor(options: BrokerMetricsOptions) {
    this.#options = options;
  }

  get contentType(): string {
    return Registry.PROMETHEUS_CONTENT_TYPE;
  }

  /** The metrics now, in Prometheus text format. */
  async scrape(): Promise<string> {
    const registry = (this.#registry ??= this.#build());
    this.#now = this.#options.snapshot();
    try {
      return await registry.metrics();
    } finally {
      this.#now = undefined;
    }
  }

  #build(): Registry {
    const registry = new Registry();
    if (this.#options.defaultMetrics) collectDefaultMetrics({ register: registry });
    const now = (): BrokerStats => this.#now ?? this.#options.snapshot();
    // Each metric reads its value from the scrape's snapshot; a counter is set
    // to a count kept elsewhere (counts never go down while the broker runs).
    const define =
      (kind: 'gauge' | 'counter'): MetricMaker =>
      (name, help, labelNames, read) => {
        function collect(this: Gauge | Counter): void {
          this.reset();
          const put = (labels: Readonly<Record<string, string>>, value: number): void =>
            this instanceof Gauge ? this.set(labels, value) : this.inc(labels, value);
          const value = read(now());
          if (typeof value === 'number') put({}, value);
          else for (const [labels, each] of value) put(labels, each);
        }
        const config = { name, help, labelNames, registers: [registry], collect };
        return kind === 'gauge' ? new Gauge(config) : new Counter(config);
      };
    const gauge = define('gauge');
    const counter = define('counter');

    gauge('eventwire_info', 'The broker version (always 1).', ['version'], () => [[{ version: this.#options.version }, 1]]);
    gauge('eventwire_connections', 'Open WebSocket connections, by surface.', ['surface'], (stats) =>
      Object.entries<number>(stats.connections).map(([surface, count]) => [{ surface }, count] as const),
    );
    gauge('eventwire_connections_admitted', 'WebSocket connections admitted and open (what maxConnections counts).', [], (stats) => stats.admitted);
    gauge('eventwire_subscribers', 'Connections holding at least one subscription.', [], (stats) => stats.subscribers);
    gauge('eventwire_subscriptions', 'Subscriptions (patterns) held.', [], (stats) => stats.subscriptions);
    gauge('eventwire_topics', 'Topics with recent publishes (bounded).', [], (stats) => stats.topics);
    counter('eventwire_published_total', 'Events accepted and routed (after intercepts), from any surface or hook.', [], (stats) => stats.published);
    counter('eventwire_deliveries_total', 'Events delivered to subscribers (one per subscriber reached).', [], (stats) => stats.deliveries);
    counter('eventwire_rejected_total', 'Publishes refused by an intercept hook.', [], (stats) => stats.rejected);
    counter('eventwire_derived_total', 'Events emitted by hooks.', [], (stats) => stats.derived);
    counter('eventwire_derived_dropped_total', 'Hook-emitted events dropped (too deep, invalid, refused).', [], (stats) => stats.derivedDropped);
    counter('eventwire_duplicates_total', 'Re-sent publishes answered from history instead of stored again.', [], (stats) => stats.duplicates);
    counter('eventwire_store_failures_total', 'Publishes refused because history could not store them.', [], (stats) => stats.storeFailures);
    counter('eventwire_refused_total', 'Connections, frames and HTTP calls refused, by reason.', ['reason'], (stats) =>
      Object.entries(stats.refused).map(([reason, count]) => [{ reason }, count] as const),
    );
    counter('eventwire_slow_consumers_cut_total', 'Connections cut for not reading: lag (their own bound) or memory (all queues together).', ['cause'], (stats) => [
      [{ cause: 'lag' }, stats.slowConsumersCut - stats.slowConsumersCutForMemory],
      [{ cause: 'memory' }, stats.slowConsumersCutForMemory],
    ]);
    counter('eventwire_recoveries_total', 'Resumes: reconnected clients asking for the events they missed.', [], (stats) => stats.recoveries);
    counter('eventwire_replayed_events_total', 'Events replayed to resuming clients.', [], (stats) => stats.replayed);
    counter('eventwire_recovery_gaps_total', 'Gaps resuming clients were told of (what they missed was not all in history).', [], (stats) => stats.gaps);
    counter('eventwire_heartbeat_timeouts_total', 'Connections dropped for not answering pings.', [], (stats) => stats.heartbeatTimeouts);
    counter('eventwire_received_bytes_total', 'Bytes read from WebSocket connections (framing and handshakes included).', [], (stats) => stats.bytes.received);
    counter('eventwire_sent_bytes_total', 'Bytes written to WebSocket connections (framing and handshakes included).', [], (stats) => stats.bytes.sent);
    counter('eventwire_hook_calls_total', 'Hook runs, by hook.', ['kind', 'hook'], (stats) => stats.hooks.map((hook) => [{ kind: hook.kind, hook: hook.name }, hook.calls] as const));
    counter('eventwire_hook_failures_total', 'Hook runs that threw or timed out, by hook.', ['kind', 'hook'], (stats) =>
      stats.hooks.map((hook) => [{ kind: hook.kind, hook: hook.name }, hook.failures] as const),
    );
    gauge('eventwire_observer_queue_depth', 'Events waiting for an observer.', ['hook'], (stats) =>
      stats.hooks.filter((hook) => hook.kind === 'observe').map((hook) => [{ hook: hook.name }, hook.queued] as const),
    );
    counter('eventwire_observer_dropped_total', 'Events an observer fell too far behind to see.', ['hook'], (stats) =>
      stats.hooks.filter((hook) => hook.kind === 'observe').map((hook) => [{ hook: hook.name }, hook.dropped] as const),
    );
    registry.registerMetric(hookDurations(now));
    const groups = this.#options.topicGroups;
    if (groups) {
      const byGroup = (counts: Float64Array): Series => [...counts].map((count, index) => [{ topic_group: groups.label(index) }, count] as const);
      counter('eventwire_topic_group_events_total', 'Events routed to this broker\'s subscribers, by topic group (other: no group matched).', ['topic_group'], () => byGroup(groups.events));
      counter('eventwire_topic_group_deliveries_total', 'Deliveries, by topic group.', ['topic_group'], () => byGroup(groups.deliveries));
    }
    if (this.#options.history) gauge('eventwire_history_head', 'The history store\'s latest sequence number.', [], (stats) => stats.history?.head ?? 0);
    if (this.#options.cluster) this.#clusterMetrics(gauge, counter);
    if (this.#options.socketioBridge) {
      // One counter, every message once: delivered (reason ""), unsupported by feature, refused by reason.
      counter('eventwire_socketio_bridge_messages_total', 'Messages the Socket.IO Redis emitters\' bridge read, by outcome (delivered, unsupported, refused) and reason.', ['outcome', 'reason'], (stats) => {
        const bridge = stats.socketioBridge;
        if (!bridge) return [];
        return [
          [{ outcome: 'delivered', reason: '' }, bridge.delivered] as const,
          ...Object.entries(bridge.unsupported).map(([reason, count]) => [{ outcome: 'unsupported', reason }, count ?? 0] as const),
          ...Object.entries(bridge.refused).map(([reason, count]) => [{ outcome: 'refused', reason }, count] as const),
        ];
      });
      gauge('eventwire_socketio_bridge_subscribed', 'Whether the Socket.IO Redis emitters\' bridge is subscribed on a live connection (1) or not (0).', [], (stats) => (stats.socketioBridge?.subscribed ? 1 : 0));
    }
    if (this.#options.pusherWebhooks) {
      // Labelled by app and the URL as logs show it (no credentials, no query).
      const perWebhook = (field: 'sent' | 'failed' | 'retried' | 'dropped' | 'queued') => (stats: BrokerStats): Series =>
        (stats.pusherWebhooks ?? []).map((webhook) => [{ app: webhook.app, webhook: webhook.url }, webhook[field]] as const);
      const labels = ['app', 'webhook'];
      counter('eventwire_pusher_webhook_sent_total', 'Pusher webhook events a receiver acknowledged (2xx).', labels, perWebhook('sent'));
      counter('eventwire_pusher_webhook_failed_total', 'Pusher webhook events given up on (their batch still failed when its retry time ran out).', labels, perWebhook('failed'));
      counter('eventwire_pusher_webhook_retried_total', 'Pusher webhook requests made again after a failure or a non-2xx answer.', labels, perWebhook('retried'));
      counter('eventwire_pusher_webhook_dropped_total', 'Pusher webhook events dropped from a full queue (oldest first).', labels, perWebhook('dropped'));
      gauge('eventwire_pusher_webhook_queued', 'Pusher webhook events waiting to be sent.', labels, perWebhook('queued'));
    }
    return registry;
  }

  #clusterMetrics(gauge: MetricMaker, counter: MetricMaker): void {
    counter('eventwire_from_cluster_total', 'Events that came from the cluster and were delivered here.', [], (stats) => stats.fromCluster);
    counter('eventwire_from_cluster_invalid_total', 'Cluster messages dropped here (not an envelope, or failing the event map).', [], (stats) => stats.fromClusterInvalid);
    counter('eventwire_cluster_gaps_total', 'Subscriptions told of a gap because the cluster link lost its subscription (events from other brokers may be missing).', [], (stats) => stats.clusterGaps);
    counter('eventwire_cluster_gaps_untold_total', 'Subscriptions that missed the same on a surface with no gap frame (Synap, Pusher, broadcasting): not told.', [], (stats) => stats.clusterGapsUntold);
    gauge('eventwire_cluster_up', 'Whether the link to the cluster is open (1) or away (0).', [], (stats) => (stats.cluster?.state === 'open' ? 1 : 0));
    counter('eventwire_cluster_forwarded_total', 'Events this broker put on NATS.', [], (stats) => stats.cluster?.forwarded ?? 0);
    counter('eventwire_cluster_reconnects_total', 'Reconnects of the cluster link.', [], (stats) => stats.cluster?.reconnects ?? 0);
    counter('eventwire_cluster_dropped_while_away_total', 'Events dropped from the full outbox while NATS was away.', [], (stats) => stats.cluster?.droppedWhileAway ?? 0);
    gauge('eventwire_cluster_held', 'Events waiting for NATS to come back.', [], (stats) => stats.cluster?.held ?? 0);
  }
}

/**
 * Hook durations as a Prometheus histogram. prom-client's Histogram can only
 * be fed one observation at a time; the hooks keep their own bucket counts,
 * so this metric reads them at scrape time in the same text format.
 */
function hookDurations(now: () => BrokerStats): Metric {
  const name = 'eventwire_hook_duration_seconds';
  const help = 'How long hook runs took, by hook (an async hook: until it settled).';
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    reset() {},
    async get() {
      const values: Array<{ metricName: string; labels: Record<string, string>; value: number }> = [];
      for (const hook of now().hooks) {
        const labels = { kind: hook.kind, hook: hook.name };
        let cumulative = 0;
        durationBuckets.forEach((bound, index) => {
          cumulative += hook.durations.counts[index]!;
          values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(bound) }, value: cumulative });
        });
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: hook.durations.count });
        values.push({ metricName: `${name}_sum`, labels, value: hook.durations.sum });
        values.push({ metricName: `${name}_count`, labels, value: hook.durations.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  // The registry needs only name, help, type and get(); the rest of prom-client's Metric is for observing.
  return metric as unknown as Metric;
}
