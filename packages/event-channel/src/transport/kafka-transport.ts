// kafka:// — a channel over Kafka, through kafkajs 2.2.4 (an optional peer,
// loaded only when this transport is used; chosen in issue #34 as the one pure
// JavaScript client that installs offline and speaks to the only
// Kafka-protocol server the tests have, librdkafka's mock cluster).
//
// `kafka://host:port[,host:port…]` (the URL table's `kafka` row; options and
// the topic mapping in kafka-options.ts). The mapping: the Kafka topic is the
// eventwire topic's first segment (escaped where Kafka would refuse it,
// kafka-topic-name.ts, after an optional `prefix`), the record key the full
// topic (so one topic's events stay in one partition, in order), the value
// the envelope JSON, headers for plain Kafka readers (kafka-record.ts).
// Producing: one produce in flight, batched (kafka-produce-queue.ts), to
// topics made as `ensureTopic` says (kafka-topic-creation.ts). Reading:
// every partition of the pattern's Kafka topic without a consumer group, from
// the end as it was when subscribing (kafka-reader.ts); a wildcard first
// segment reads every Kafka topic, finding new ones every `topicRefreshMs`.
// Outages: `reconnecting`, emits held, and on return every reader resumes
// from its positions — nothing missed unless retention passed one (a
// `trimmed` gap) (kafka-bus.ts). History and `since` are read from the log
// itself (kafka-history.ts). With `group`, subscriptions read through a
// Kafka consumer group instead (kafka-group-bus.ts). This file is the
// transport only: which bus, and what it answers beyond PubSubTransport.
import { KafkaBus } from './kafka-bus.js';
import { KafkaGroupBus } from './kafka-group-bus.js';
import type { KafkaTransportOptions } from './kafka-options.js';
import { PubSubTransport } from './pubsub-transport.js';
import type { HistoryPage, HistoryQuery } from './transport.js';

// Where importers have always found them.
export { kafkaTopicOf, kafkaTransportDefaults, type KafkaTransportOptions } from './kafka-options.js';

/** A channel over Kafka: emit produces a record, subscribe reads the Kafka topic of the pattern's first segment. */
export class KafkaTransport extends PubSubTransport {
  readonly #bus: KafkaBus | KafkaGroupBus;

  constructor(options: KafkaTransportOptions) {
    // With `group`, reading is the group's (kafka-group-bus.ts); producing is the same.
    const bus = options.group === undefined ? new KafkaBus(options) : new KafkaGroupBus(options);
    super(bus, options);
    this.#bus = bus;
  }

  /** Records no event could be made of (a tombstone, not JSON: kafka-record.ts), each reported once as `invalid_envelope` and skipped. */
  get invalidRecords(): number {
    return this.#bus.invalidRecords;
  }

  /**
   * Read back from the Kafka log itself (kafka-history.ts): `since`,
   * `'earliest'`, `{ last: n }`. A group channel has none: the group's
   * committed offsets are its position (a `no_history` gap).
   */
  readHistory(pattern: string, query: HistoryQuery): Promise<HistoryPage> {
    if (this.#bus instanceof KafkaGroupBus) return Promise.resolve({ events: [], more: false, gap: 'no_history' });
    return this.#bus.history.read(pattern, query);
  }
}
