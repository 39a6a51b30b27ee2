// The one place a cluster URL's scheme picks an engine. A new engine is one entry in `engines` and a folder beside this file; the
// config's URL check asks `clusterSchemes`, so it follows. An engine built
// elsewhere (a test's, an application's own) is taken as it is.
import { EventwireError } from '@eventwire/event-channel';
import type { HistoryRules } from '@eventwire/event-channel/protocol';
import type { ClusterEngine, ClusterHistory, ClusterHistoryHost } from './cluster-engine.js';
import { clusterNodeName, type ClusterOptions, type ResolvedClusterOptions } from './cluster-options.js';
import { NatsClusterEngine } from './nats/nats-engine.js';
import { createKafkaEngine } from './pubsub/kafka-engine.js';
import { createPostgresEngine } from './pubsub/postgres-engine.js';
import { createRedisEngine } from './pubsub/redis-engine.js';

interface EngineEntry {
  /** The engine's name, as its stats and messages say it. */
  readonly kind: string;
  /** The URL schemes it answers (before `://`). */
  readonly schemes: readonly string[];
  readonly create: (options: ResolvedClusterOptions) => ClusterEngine;
}

/** Every engine the broker builds from a URL. Their clients load when an engine connects, not when this module does. */
const engines: readonly EngineEntry[] = [
  { kind: 'nats', schemes: ['nats'], create: (options) => new NatsClusterEngine(options) },
  { kind: 'redis', schemes: ['redis', 'rediss'], create: createRedisEngine },
  { kind: 'postgres', schemes: ['postgres', 'postgresql'], create: createPostgresEngine },
  { kind: 'kafka', schemes: ['kafka'], create: createKafkaEngine },
];

const byScheme = new Map(engines.flatMap((engine) => engine.schemes.map((scheme) => [scheme, engine] as const)));

/** The URL schemes a cluster engine answers: `nats`, `redis`, `rediss`, `postgres`, `postgresql`, `kafka`. */
export const clusterSchemes: readonly string[] = [...byScheme.keys()];

/**
 * The broker's `cluster` option as an engine: an engine given is used as it
 * is; a URL, or options with one, builds the engine its scheme names, with
 * this node's name fixed (`clusterNodeName`). Throws `invalid_url` for a
 * scheme no engine answers.
 *
 * @example
 * const engine = createClusterEngine({ url: 'nats://localhost:4222', node: 'broker-1' });
 * const broker = new EventBrokerServer({ cluster: engine });
 */
export function createClusterEngine(option: string | ClusterOptions | ClusterEngine): ClusterEngine {
  if (isClusterEngine(option)) return option;
  const options: ClusterOptions = typeof option === 'string' ? { url: option } : option;
  const url = typeof options.url === 'string' ? options.url : '';
  const entry = byScheme.get(/^([^:/]+):\/\//.exec(url)?.[1] ?? '');
  if (!entry) {
    const kinds = engines.map((engine) => `${engine.kind}://`);
    const named = `${kinds.slice(0, -1).join(', ')} or ${kinds.at(-1)!}`;
    throw new EventwireError('invalid_url', `cluster: "${url.slice(0, 100)}" is not a ${named} URL`);
  }
  return entry.create({ ...options, node: clusterNodeName(options) });
}

/**
 * The history every broker of the cluster shares, from its engine (NATS:
 * JetStream; Kafka: one topic of one partition). An engine that shares events but not history (Redis,
 * PostgreSQL) is refused `unsupported_transport`: each broker's own store
 * would hold only what entered it, and replay would depend on which broker
 * a client reached, so such brokers need one `historyStore` they all share.
 */
export function clusterHistory(engine: ClusterEngine, rules: HistoryRules, host: ClusterHistoryHost): ClusterHistory {
  if (engine.sharedHistory) return engine.sharedHistory(rules, host);
  throw new EventwireError(
    'unsupported_transport',
    `history in a cluster is kept in JetStream or Kafka: use a nats:// or kafka:// cluster, or give every broker the same historyStore (the ${engine.kind}:// engine shares events, not history)`,
  );
}

function isClusterEngine(option: string | ClusterOptions | ClusterEngine): option is ClusterEngine {
  return typeof option === 'object' && option !== null && typeof (option as Partial<ClusterEngine>).attach === 'function';
}
