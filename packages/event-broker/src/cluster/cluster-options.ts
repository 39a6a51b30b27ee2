// The broker's `cluster` option: where the shared server is (its URL's
// scheme picks the engine: nats://, redis://, postgres://) and this node.
import type { NatsServerOptions, PostgresTransportOptions, RedisTransportOptions } from '@eventwire/event-channel/protocol';
import type { ClusterPresenceOptions } from './cluster-presence.js';
import type { JetStreamHistoryOptions } from './jetstream-history.js';

/** `cluster` option of the broker. */
export interface ClusterOptions extends NatsServerOptions {
  /**
   * The server every broker shares; the scheme picks the engine:
   * `nats://host:4222` (also `nats://a:4222,b:4222`), `redis://[:password@]host:6379`
   * (`rediss://` for TLS), `postgres://user@host/db`. NATS-only options
   * (servers, token, user, pass, credentials, tls) apply to `nats://`.
   */
  readonly url: string;
  /** This broker's name in the cluster (stats, `/health`, `/cluster`). @default `<hostname>-<random>` */
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
}

/** Defaults of {@link ClusterOptions}, the same on every engine. */
export const clusterDefaults = { reconnectTimeWaitMs: 1000, outboxSize: 10_000, statsTimeoutMs: 500 } as const;

/** The engines, by URL scheme. */
export type ClusterEngineKind = 'nats' | 'redis' | 'postgres';

/** Which engine a cluster URL asks for, or undefined for a scheme none speaks. */
export function clusterEngineKind(url: string): ClusterEngineKind | undefined {
  if (url.startsWith('nats://')) return 'nats';
  if (url.startsWith('redis://') || url.startsWith('rediss://')) return 'redis';
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return 'postgres';
  return undefined;
}

/** This broker's name in the cluster: the configured one, or the host's name with a random suffix. */
export function clusterNodeName(options: Pick<ClusterOptions, 'node'>): string {
  return options.node ?? `${process.env['HOSTNAME'] || 'broker'}-${globalThis.crypto.randomUUID().slice(0, 8)}`;
}
