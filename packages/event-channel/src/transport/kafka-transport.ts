// kafka:// — a channel over Kafka, through kafkajs 2.2.4 (an optional peer,
// loaded only when this transport is used; chosen in issue #34 as the one pure
// JavaScript client that installs offline and speaks to the only
// Kafka-protocol server the tests have, librdkafka's mock cluster).
//
// FIRST SLICE (issue #34), not yet in the URL table: emit and subscribe on
// exact topics and patterns whose first segment is literal. The mapping it starts from (the proposal): the
// Kafka topic is the eventwire topic's first segment, the record key the
// full topic (so one topic's events stay in one partition, in order), the
// value the envelope JSON, headers `content-type` and `eventwire-topic` for
// plain Kafka readers. Subscriptions read every partition of their Kafka topic
// without a consumer group (kafkajs's cluster layer: a group join costs ~3 s,
// this ~100 ms to live), from the end as it was when subscribing. Not yet:
// patterns with a wildcard first segment (all Kafka topics, and the ones
// created later), history/since, consumer groups, reconnecting after a lost
// broker, bad-record counting, the other headers.
import type { Producer } from 'kafkajs';
import { fullJitterBackoff } from '../backoff.js';
import { answersWithin } from '../deadline.js';
import { EventwireError, toEventwireError } from '../errors.js';
import { internalCluster, type FetchedPartition, type InternalCluster } from './kafkajs-cluster.js';
import { loadOptionalPeer } from './optional-peer.js';
import { PubSubTransport, type PubSubBus, type PubSubBusEvents, type PubSubTransportOptions } from './pubsub-transport.js';

/** Options of {@link KafkaTransport}. */
export interface KafkaTransportOptions extends PubSubTransportOptions {
  /** `kafka://host:port[,host:port…]`: the bootstrap brokers. */
  readonly url: string;
  /**
   * How long one fetch may wait at the broker for records. Real Kafka answers
   * as soon as a record arrives; librdkafka's mock waits the whole time, so
   * this bounds delivery latency there.
   * @default 100
   */
  readonly fetchWaitMs?: number;
  /**
   * Called once per Kafka topic before this channel first produces to it or
   * reads it, to create it with the partition count wanted (one keeps a
   * publisher's order across its topics). Without it, topics are what the
   * cluster has or auto-creates. Tests pass the mock's createTopic (the mock
   * has no CreateTopics); the default for a real cluster is still to come.
   */
  readonly ensureTopic?: (kafkaTopic: string) => Promise<void>;
}

/** The defaults of {@link KafkaTransportOptions}. */
export const kafkaTransportDefaults = {
  fetchWaitMs: 100,
  requestTimeoutMs: 10_000,
} as const;

type KafkaJsModule = typeof import('kafkajs');

/** A channel over Kafka (first slice: exact topics). */
export class KafkaTransport extends PubSubTransport {
  constructor(options: KafkaTransportOptions) {
    super(new KafkaBus(options), options);
  }
}

/** The Kafka topic an eventwire topic's records go to: its first segment. */
export function kafkaTopicOf(topic: string): string {
  const dot = topic.indexOf('.');
  return dot < 0 ? topic : topic.slice(0, dot);
}

/** The first segment names one Kafka topic (`orders.*`, `orders.#`, `orders.created`), not every one (`*.created`, `#`). */
function hasLiteralFirstSegment(pattern: string): boolean {
  const first = kafkaTopicOf(pattern);
  return first !== '*' && first !== '#';
}


/** One Kafka topic being read: a position per partition, one fetch loop. */
interface Reader {
  readonly kafkaTopic: string;
  /** Patterns that need it. */
  count: number;
  stopped: boolean;
  /** A fetch loop per partition leader, by broker id (ends when it leads none of them). */
  readonly loops: Map<number, Promise<void>>;
  /** Positions fixed and the loop running (what a second pattern on the same Kafka topic waits for). */
  ready: Promise<void>;
  /** Next offset to read, per partition. */
  readonly positions: Map<number, bigint>;
  /** Flushes waiting for the positions to reach these offsets. */
  waiters: { readonly through: Map<number, bigint>; readonly resolve: () => void }[];
}

class KafkaBus implements PubSubBus {
  readonly kind = 'kafka';
  readonly #options: KafkaTransportOptions;
  readonly #brokers: string[];
  #events: PubSubBusEvents | undefined;
  #producer: Producer | undefined;
  #cluster: InternalCluster | undefined;
  readonly #readers = new Map<string, Reader>();
  /** One produce at a time, so a retry inside the client cannot reorder a publisher's events. */
  #lastProduce: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: KafkaTransportOptions) {
    this.#options = options;
    if (!options.url.startsWith('kafka://')) throw new EventwireError('invalid_url', `not a kafka:// URL: ${options.url}`);
    this.#brokers = options.url.slice('kafka://'.length).split(',').filter(Boolean);
    if (this.#brokers.length === 0) throw new EventwireError('invalid_url', `no broker in ${options.url}`);
  }

  open(events: PubSubBusEvents): void {
    this.#events = events;
    void loadOptionalPeer<KafkaJsModule>('kafkajs', 'kafka:// needs its client').then(
      (module) => this.#start(module, 1),
      (error: EventwireError) => events.failed(error),
    );
  }

  async #start(module: KafkaJsModule, attempt: number): Promise<void> {
    if (this.#closed) return;
    const timeout = this.#options.requestTimeoutMs ?? kafkaTransportDefaults.requestTimeoutMs;
    const kafka = new module.Kafka({
      clientId: 'eventwire-js',
      brokers: this.#brokers,
      logLevel: module.logLevel.NOTHING,
      connectionTimeout: Math.min(timeout, 3000),
      requestTimeout: timeout,
    });
    try {
      const producer = kafka.producer({ createPartitioner: module.Partitioners.DefaultPartitioner, maxInFlightRequests: 1 });
      await producer.connect();
      const cluster = internalCluster(kafka, { allowAutoTopicCreation: true });
      await cluster.connect();
      if (this.#closed) {
        await Promise.allSettled([producer.disconnect(), cluster.disconnect()]);
        return;
      }
      this.#producer = producer;
      this.#cluster = cluster;
      this.#events?.ready(false);
    } catch (error) {
      if (this.#closed) return;
      const delayMs = (this.#options.backoff ?? fullJitterBackoff())(attempt);
      this.#events?.reconnecting(attempt, delayMs, new EventwireError('unavailable', 'Kafka is not reachable', { cause: error }));
      setTimeout(() => void this.#start(module, attempt + 1), delayMs);
    }
  }

  keysFor(pattern: string): readonly string[] {
    return [kafkaTopicOf(pattern)];
  }

  publish(topic: string, payload: string): Promise<void> {
    const producer = this.#producer;
    if (!producer) return Promise.reject(new EventwireError('connection_closed', 'Not connected to Kafka'));
    const sent = this.#lastProduce.then(async () => {
      await this.#ensure(kafkaTopicOf(topic));
      return producer.send({
        topic: kafkaTopicOf(topic),
        acks: -1,
        messages: [{ key: topic, value: payload, headers: { 'content-type': 'application/json', 'eventwire-topic': topic } }],
      });
    });
    this.#lastProduce = sent.catch(() => undefined);
    return sent.then(
      () => undefined,
      (error: unknown) => {
        throw new EventwireError('unavailable', 'Kafka refused or did not answer the produce', { cause: toEventwireError(error) });
      },
    );
  }

  async listen(pattern: string): Promise<void> {
    if (!hasLiteralFirstSegment(pattern)) throw new EventwireError('invalid_pattern', `kafka:// takes patterns with a literal first segment only so far (issue #34): ${pattern}`);
    const kafkaTopic = kafkaTopicOf(pattern);
    const existing = this.#readers.get(kafkaTopic);
    if (existing) {
      existing.count++;
      return existing.ready;
    }
    const reader: Reader = { kafkaTopic, count: 1, stopped: false, loops: new Map(), ready: Promise.resolve(), positions: new Map(), waiters: [] };
    this.#readers.set(kafkaTopic, reader);
    reader.ready = this.#startReading(reader);
    try {
      await reader.ready;
    } catch (error) {
      if (this.#readers.get(kafkaTopic) === reader) this.#readers.delete(kafkaTopic);
      throw new EventwireError('unavailable', `could not start reading Kafka topic ${kafkaTopic}`, { cause: error });
    }
  }

  async #startReading(reader: Reader): Promise<void> {
    await this.#ensure(reader.kafkaTopic);
    // Live from here: what the log holds now is history, not this subscription's.
    for (const [partition, offset] of await this.#ends(reader.kafkaTopic)) reader.positions.set(partition, offset);
    this.#startLoops(reader);
  }

  /** The offset the next record of each partition will get (Kafka's high watermark). */
  async #ends(kafkaTopic: string): Promise<Map<number, bigint>> {
    const cluster = this.#cluster!;
    await cluster.addTargetTopic(kafkaTopic);
    const partitions = cluster.findTopicPartitionMetadata(kafkaTopic).map((partition) => ({ partition: partition.partitionId }));
    const [latest] = await cluster.fetchTopicsOffset([{ topic: kafkaTopic, partitions }]);
    return new Map((latest?.partitions ?? []).map((partition) => [partition.partition, BigInt(partition.offset)]));
  }

  readonly #ensured = new Map<string, Promise<void>>();
  #ensure(kafkaTopic: string): Promise<void> {
    const ensureTopic = this.#options.ensureTopic;
    if (!ensureTopic) return Promise.resolve();
    let ensured = this.#ensured.get(kafkaTopic);
    if (!ensured) {
      ensured = ensureTopic(kafkaTopic);
      this.#ensured.set(kafkaTopic, ensured);
      // A failed attempt is tried again next time.
      ensured.catch(() => this.#ensured.delete(kafkaTopic));
    }
    return ensured;
  }

  /**
   * One fetch loop per partition leader, each fetching all the partitions it
   * leads in one request, as Kafka's own consumers do: a broker answers a
   * connection's requests in order, so an idle partition's fetch (held at the
   * broker for fetchWaitMs) would hold back a busy one's on the same
   * connection; and leaders are independent, so an idle one must not hold
   * back another's (the mock answers one record batch per partition per fetch,
   * so this decides its throughput).
   */
  #startLoops(reader: Reader): void {
    if (reader.stopped) return;
    for (const { partitionId, leader } of this.#cluster!.findTopicPartitionMetadata(reader.kafkaTopic)) {
      if (!reader.positions.has(partitionId) || reader.loops.has(leader)) continue;
      const loop = this.#readLeader(reader, leader).finally(() => {
        if (reader.loops.get(leader) === loop) reader.loops.delete(leader);
      });
      reader.loops.set(leader, loop);
    }
  }

  /** Every loop of the reader has ended (loops started meanwhile included). */
  async #loopsEnded(reader: Reader): Promise<void> {
    while (reader.loops.size > 0) await Promise.all(reader.loops.values());
  }

  async #readLeader(reader: Reader, leader: number): Promise<void> {
    const cluster = this.#cluster!;
    const waitMs = this.#options.fetchWaitMs ?? kafkaTransportDefaults.fetchWaitMs;
    let failures = 0;
    while (!reader.stopped) {
      const partitions = cluster
        .findTopicPartitionMetadata(reader.kafkaTopic)
        .filter((each) => each.leader === leader && reader.positions.has(each.partitionId))
        .map((each) => each.partitionId);
      // Leadership moved away: the new leader's loop reads them (started after the metadata refresh below).
      if (partitions.length === 0) return;
      try {
        const broker = await cluster.findBroker({ nodeId: String(leader) });
        const answer = await broker.fetch({
          maxWaitTime: waitMs,
          topics: [{ topic: reader.kafkaTopic, partitions: partitions.map((partition) => ({ partition, fetchOffset: String(reader.positions.get(partition) ?? 0n), maxBytes: 1 << 20 })) }],
        });
        this.#handOn(reader, answer.responses.flatMap((response) => response.partitions));
        failures = 0;
        reader.waiters = reader.waiters.filter((waiter) => {
          const reached = [...waiter.through].every(([each, offset]) => (reader.positions.get(each) ?? 0n) >= offset);
          if (reached) waiter.resolve();
          return !reached;
        });
      } catch (error) {
        if (reader.stopped) return;
        // Not yet the transport's reconnect (issue #34): a bounded pause per failure, never a busy loop.
        failures++;
        this.#events?.error(new EventwireError('unavailable', `reading Kafka topic ${reader.kafkaTopic} from broker ${leader} failed`, { cause: error }));
        await new Promise((resolve) => setTimeout(resolve, (this.#options.backoff ?? fullJitterBackoff())(failures)));
        await cluster.refreshMetadata().catch(() => undefined);
        this.#startLoops(reader);
      }
    }
  }

  /** What one fetch brought, in offset order per partition. */
  #handOn(reader: Reader, fetched: readonly FetchedPartition[]): void {
    for (const { partition, messages } of fetched) {
      for (const message of messages) {
        // A fetch answers whole record batches: one may start before the position asked for.
        if (reader.stopped || BigInt(message.offset) < (reader.positions.get(partition) ?? 0n)) continue;
        reader.positions.set(partition, BigInt(message.offset) + 1n);
        const topic = message.headers?.['eventwire-topic']?.toString() ?? message.key?.toString();
        this.#events?.message(message.value?.toString() ?? '', reader.kafkaTopic, topic);
      }
    }
  }

  async unlisten(pattern: string): Promise<void> {
    const reader = this.#readers.get(kafkaTopicOf(pattern));
    if (!reader || --reader.count > 0) return;
    // Events already in the log when the unsubscribe was asked for are on their way: hand them on first.
    await this.#readToEnd(reader).catch((error: unknown) => this.#events?.error(toEventwireError(error)));
    // Subscribed again meanwhile: the reader stays.
    if (reader.count > 0 || this.#readers.get(reader.kafkaTopic) !== reader) return;
    this.#readers.delete(reader.kafkaTopic);
    reader.stopped = true;
    await this.#loopsEnded(reader);
    for (const waiter of reader.waiters.splice(0)) waiter.resolve();
  }

  async flush(): Promise<void> {
    // Everything in the log when flush is called is handed on: read up to
    // each partition's end as of now (a fetch under way may have started
    // before the last record arrived; the mock does not wake it for one).
    await Promise.all([...this.#readers.values()].map((reader) => this.#readToEnd(reader)));
  }

  /** Resolves once `reader` has handed on everything its Kafka topic held when this was called (bounded by requestTimeoutMs). */
  async #readToEnd(reader: Reader): Promise<void> {
    if (reader.stopped) return;
    const timeoutMs = this.#options.requestTimeoutMs ?? kafkaTransportDefaults.requestTimeoutMs;
    await answersWithin(
      (async () => {
        await reader.ready;
        const through = await this.#ends(reader.kafkaTopic);
        await new Promise<void>((resolve) => reader.waiters.push({ through, resolve }));
      })(),
      timeoutMs,
      'Kafka (reading to the end of the log)',
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const reader of this.#readers.values()) reader.stopped = true;
    await Promise.all([...this.#readers.values()].map((reader) => this.#loopsEnded(reader)));
    for (const reader of this.#readers.values()) for (const waiter of reader.waiters.splice(0)) waiter.resolve();
    this.#readers.clear();
    await Promise.allSettled([this.#producer?.disconnect(), this.#cluster?.disconnect()]);
  }
}
