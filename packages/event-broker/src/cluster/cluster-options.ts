// The broker's `cluster` option: where the shared server is (its URL's
// scheme picks the engine, create-engine.ts) and this node.
import { hostname } from 'node:os';
import type { KafkaTransportOptions, NatsServerOptions, PostgresTransportOptions, RedisTransportOptions } from '@eventwire/event-channel/protocol';
import type { ClusterPresenceOptions } from './cluster-presence.js';
import type { JetStreamHistoryOptions } from './nats/jetstream-history.js';
import type { KafkaClusterHistoryOptions } from './pubsub/kafka-history.js';

/** `cluster` option of the broker. */
export interface ClusterOptions extends NatsServerOptions {
  /**
   * The server every broker shares; the scheme picks the engine:
   * `nats://host:4222` (also `nats://a:4222,b:4222`), `redis://[:password@]host:6379`
   * (`rediss://` for TLS), `postgres://user@host/db`, `kafka://host:9092[,host:9092]`. NATS-only options
   * (servers, token, user, pass, credentials, tls) apply to `nats://`.
   */
  readonly url: string;
  /**
   * This broker's name in the cluster (stats, `/health`, `/cluster`); unique
   * per broker. The library reads no environment: the default is the host's
   * name (`os.hostname()`) and 8 random hex digits, so brokers on one host
   * (or in one process) differ. The CLI names it after `$HOSTNAME` instead.
   * @default `<os.hostname()>-<8 random hex digits>`
   */
  readonly node?: string;
  /** Wait between reconnect attempts (NATS: the client's; Redis and PostgreSQL: the ceiling of a jittered backoff). @default 1000 */
  readonly reconnectTimeWaitMs?: number;
  /** Events held while the server is away, forwarded in order when it is back; past it the oldest are dropped and counted. @default 10_000 */
  readonly outboxSize?: number;
  /** How long `/cluster` waits for the other brokers' answers. @default 500 */
  readonly statsTimeoutMs?: number;
  /** Where the cluster keeps history (the broker's `history` rules), in JetStream: `nats://` only. */
  readonly history?: JetStreamHistoryOptions;
  /** Presence across brokers: how often each says it is alive (`heartbeatMs`; gone after three missed). */
  readonly presence?: ClusterPresenceOptions;
  /** For `redis://`: a channel-name prefix (to share a Redis), and ioredis options. */
  readonly redis?: Pick<RedisTransportOptions, 'prefix' | 'redisOptions'>;
  /** For `postgres://`: the NOTIFY channel and large-event table, and postgres.js options. */
  readonly postgres?: Pick<PostgresTransportOptions, 'channel' | 'table' | 'largeEventRetentionMs' | 'postgresOptions'>;
  /**
   * For `kafka://`: a Kafka topic prefix (to share a cluster; every broker
   * and `kafkaDriver` of one eventwire cluster the same), the partitions of
   * the topics the brokers create, how long a fetch waits at the broker, how
   * often a wildcard-first pattern looks for new topics, how Kafka topics
   * are made (`ensureTopic`, code only), and where history is kept (`history`).
   */
  readonly kafka?: Pick<KafkaTransportOptions, 'prefix' | 'partitions' | 'fetchWaitMs' | 'topicRefreshMs' | 'ensureTopic'> & {
    readonly history?: KafkaClusterHistoryOptions;
  };
}

/** Defaults of {@link ClusterOptions}, the same on every engine. */
export const clusterDefaults = { reconnectTimeWaitMs: 1000, outboxSize: 10_000, statsTimeoutMs: 500 } as const;

/** Cluster options with this node's name fixed (the engine and its history both need it). */
export type ResolvedClusterOptions = ClusterOptions & { readonly node: string };

/** This broker's name in the cluster: the configured one, or `host` (the host's name unless given) with a random suffix. */
export function clusterNodeName(options: { readonly node?: string | undefined }, host: string = hostname()): string {
  return options.node ?? `${host || 'broker'}-${globalThis.crypto.randomUUID().slice(0, 8)}`;
}
