// The cluster engine over PostgreSQL LISTEN/NOTIFY (postgres://,
// postgresql://): the pub/sub engine on the event-channel's postgres://
// transport. postgres.js is loaded when the engine connects, not before.
import { PostgresTransport } from '@eventwire/event-channel/protocol';
import type { ResolvedClusterOptions } from '../cluster-options.js';
import { PubSubClusterEngine } from './pubsub-engine.js';

export function createPostgresEngine(options: ResolvedClusterOptions): PubSubClusterEngine {
  return new PubSubClusterEngine('postgres', options, (common) => new PostgresTransport({ ...common, ...options.postgres }));
}
