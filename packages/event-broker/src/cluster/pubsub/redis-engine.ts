// The cluster engine over Redis pub/sub (redis://, rediss:// for TLS): the
// pub/sub engine on the event-channel's redis:// transport. ioredis is
// loaded when the engine connects, not before.
import { RedisTransport } from '@eventwire/event-channel/protocol';
import type { ResolvedClusterOptions } from '../cluster-options.js';
import { PubSubClusterEngine } from './pubsub-engine.js';

export function createRedisEngine(options: ResolvedClusterOptions): PubSubClusterEngine {
  return new PubSubClusterEngine(
    'redis',
    options,
    // Coalesced publishes: many events into few packets, what a cluster's fan-out needs (bench/RESULTS.md).
    (common) => new RedisTransport({ ...common, coalescePublishes: true, ...options.redis }),
  );
}
