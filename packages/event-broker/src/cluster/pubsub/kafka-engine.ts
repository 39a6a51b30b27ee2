// The cluster engine over Kafka (kafka://host:9092[,host:9092]): the pub/sub
// engine on the event-channel's kafka:// transport. Each broker produces the
// events that entered it to their Kafka topics and reads, without a consumer
// group (a group would split events between brokers), the Kafka topics of
// the patterns its clients hold. The brokers' own messages (`_EVENTWIRE.…`)
// ride on the Kafka topic `_EVENTWIRE`. Unlike Redis and PostgreSQL, Kafka
// keeps what was produced while a broker was away: its reader resumes from
// its positions, so a plain outage is no gap. kafkajs is loaded when the
// engine connects, not before.
import { KafkaTransport } from '@eventwire/event-channel/protocol';
import type { ResolvedClusterOptions } from '../cluster-options.js';
import { PubSubClusterEngine } from './pubsub-engine.js';

export function createKafkaEngine(options: ResolvedClusterOptions): PubSubClusterEngine {
  return new PubSubClusterEngine('kafka', options, (common) => new KafkaTransport({ ...common, ...options.kafka }));
}
