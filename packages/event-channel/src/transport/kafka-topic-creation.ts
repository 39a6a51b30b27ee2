// kafka:// makes the Kafka topics it produces to (or reads for a pattern
// naming them) as `ensureTopic` says: CreateTopics once per Kafka topic per
// connection, falling back to what the cluster has or auto-creates where it
// will not create topics for this client. Separate from the bus
// (kafka-bus.ts): the produce queue, the readers and a group bus all ask it.
import { alreadyExists, cannotCreateTopics } from './kafka-errors.js';
import { kafkaTransportDefaults, type KafkaTransportOptions } from './kafka-options.js';
import type { InternalCluster } from './kafkajs-cluster.js';

/** The Kafka topics of one bus's connection, made once each. */
export class KafkaTopicCreation {
  readonly #options: KafkaTransportOptions;
  /** The current connection's cluster (none while away). */
  readonly #cluster: () => InternalCluster | undefined;

  constructor(options: KafkaTransportOptions, cluster: () => InternalCluster | undefined) {
    this.#options = options;
    this.#cluster = cluster;
  }

  /** Kafka topics made (or being made) on this connection; cleared at each connect. */
  readonly #ensured = new Map<string, Promise<void>>();
  /** This connection's cluster will not create topics (see KafkaTransportOptions.ensureTopic): not asked again. */
  #cannotCreate = false;

  ensure(kafkaTopic: string): Promise<void> {
    const ensureTopic = this.#options.ensureTopic;
    if (ensureTopic === false) return Promise.resolve();
    let ensured = this.#ensured.get(kafkaTopic);
    if (!ensured) {
      ensured = ensureTopic ? ensureTopic(kafkaTopic) : this.#createTopic(kafkaTopic);
      this.#ensured.set(kafkaTopic, ensured);
      // A failed attempt is tried again next time.
      ensured.catch(() => this.#ensured.delete(kafkaTopic));
    }
    return ensured;
  }

  /** The default ensureTopic: CreateTopics at the controller; where the cluster will not, what it has or auto-creates. */
  async #createTopic(kafkaTopic: string): Promise<void> {
    const cluster = this.#cluster();
    if (this.#cannotCreate || !cluster) return;
    const timeout = this.#options.requestTimeoutMs ?? kafkaTransportDefaults.requestTimeoutMs;
    const numPartitions = this.#options.partitions ?? kafkaTransportDefaults.partitions;
    try {
      const controller = await cluster.findControllerBroker();
      await controller.createTopics({ topics: [{ topic: kafkaTopic, numPartitions, replicationFactor: -1 }], timeout });
      // Its leaders, before the first produce or ListOffsets asks for them.
      await cluster.addTargetTopic(kafkaTopic);
    } catch (error) {
      if (alreadyExists(error)) return;
      if (cannotCreateTopics(error)) {
        this.#cannotCreate = true;
        return;
      }
      throw error;
    }
  }

  /** Topic creation is asked again of each connection (it may be another cluster). */
  reset(): void {
    this.#ensured.clear();
    this.#cannotCreate = false;
  }
}
