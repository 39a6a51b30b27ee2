// kafka://'s readers: one Kafka topic read without a consumer group — where
// it reads from (the log end, a time, the log start after retention passed
// or the topic was made again) and one fetch loop per partition leader
// handing records on in offset order, copies of a re-sent produce dropped.
// Separate from the bus (kafka-bus.ts), which keeps the connection and which
// Kafka topics are read, and hands this what it needs as a small host.
import { EventwireError } from '../errors.js';
import type { GapReason } from '../gap.js';
import { isLeaderChange, isOffsetOutOfRange } from './kafka-errors.js';
import { kafkaTransportDefaults, type KafkaTransportOptions } from './kafka-options.js';
import { decodeRecord } from './kafka-record.js';
import type { FetchedPartition, InternalCluster } from './kafkajs-cluster.js';
import type { PubSubBusEvents } from './pubsub-transport.js';
import { RecentIds } from './recent-ids.js';

/**
 * The bus subscription of patterns whose first segment is a wildcard: every
 * Kafka topic (no Kafka topic is named `*`). A record is handed on through
 * its Kafka topic's key and through this one; the channel delivers the copy
 * of the pattern that owns the topic, so once.
 */
export const EVERY_KAFKA_TOPIC = '*';

/** One Kafka topic being read: a position per partition, one fetch loop. */
export interface Reader {
  readonly kafkaTopic: string;
  /** Patterns with a literal first segment that need it. */
  count: number;
  /** Read for the patterns whose first segment is a wildcard too. */
  wild: boolean;
  /**
   * Per partition, the time (ms) before which records are not this
   * channel's: a Kafka topic found after the subscribe, where Kafka could not
   * say which offset that time is (see KafkaReading.positionsSince). Dropped at the
   * first record at or after it.
   */
  readonly floors: Map<number, number>;
  stopped: boolean;
  /** A fetch loop per partition leader, by broker id (ends when it leads none of them, or its connection is lost). */
  readonly loops: Map<number, { readonly generation: number; readonly loop: Promise<void> }>;
  /** Positions fixed and the loop running (what a second pattern on the same Kafka topic waits for). */
  ready: Promise<void>;
  /** Next offset to read, per partition. */
  readonly positions: Map<number, bigint>;
  /** Flushes waiting for the positions to reach these offsets. */
  waiters: { readonly through: Map<number, bigint>; readonly resolve: () => void }[];
  /** The last event ids handed on, per partition. */
  readonly recent: Map<number, RecentIds>;
}

/** Event ids a reader remembers per partition, to drop a record a retried produce wrote twice. */
const RECENT_IDS = 1024;

export function newReader(kafkaTopic: string, count: number): Reader {
  return { kafkaTopic, count, wild: false, floors: new Map(), stopped: false, loops: new Map(), ready: Promise.resolve(), positions: new Map(), waiters: [], recent: new Map() };
}

/** A record older than its partition's floor (see Reader.floors) is passed over; the first one at or after it lifts the floor. */
function passedOver(reader: Reader, partition: number, timestamp: string): boolean {
  const floor = reader.floors.get(partition);
  if (floor === undefined) return false;
  if (Number(timestamp) < floor) return true;
  reader.floors.delete(partition);
  return false;
}

/** What the readers need of their bus's connection. */
export interface KafkaReadingHost {
  /** The current connection's cluster (none while away). */
  cluster(): InternalCluster | undefined;
  /** Bumped on every connect attempt and loss: a loop of an older one ends. */
  generation(): number;
  events(): PubSubBusEvents | undefined;
  /** The Kafka topic of an eventwire topic. */
  nameOf(topic: string): string;
  /** An event's offset, from the Kafka record it came in (kafka-history.ts). */
  stamp(event: object, topic: string | undefined, kafkaTopic: string, partition: number, kafkaOffset: string): object;
  /** After a failure: true when no broker answers Metadata either (then the bus has lost the connection). */
  probe(cause: unknown): Promise<boolean>;
  /** The last Metadata answer came from another cluster than the one the positions belong to. */
  replaced(cluster: InternalCluster): boolean;
  lost(cause: unknown): void;
  /** A pause between failed fetches, ended early by a loss or close. */
  sleep(ms: number): Promise<void>;
  backoff(attempt: number): number;
}

/** Positions and fetch loops of a bus's readers. */
export class KafkaReading {
  readonly #options: KafkaTransportOptions;
  readonly #host: KafkaReadingHost;
  /** See KafkaTransport.invalidRecords. */
  invalidRecords = 0;

  constructor(options: KafkaTransportOptions, host: KafkaReadingHost) {
    this.#options = options;
    this.#host = host;
  }

  /**
   * Positions outside the log move to its start: below it, retention dropped
   * records this reader never handed on (`trimmed`); past its end, the topic
   * is not the one read before (deleted and made again: `epoch`). Partitions
   * added meanwhile are read from their start (all of it came after).
   */
  async realign(reader: Reader): Promise<void> {
    const [starts, ends] = await Promise.all([this.offsets(reader.kafkaTopic, true), this.offsets(reader.kafkaTopic, false)]);
    let reason: GapReason | undefined;
    for (const [partition, start] of starts) {
      const at = reader.positions.get(partition);
      if (at !== undefined && at >= start && at <= (ends.get(partition) ?? at)) continue;
      if (at !== undefined) reason = at < start ? 'trimmed' : (reason ?? 'epoch');
      reader.positions.set(partition, start);
    }
    if (reason) this.#host.events()?.missedVia(reader.kafkaTopic, reason);
    if (reason && reader.wild) this.#host.events()?.missedVia(EVERY_KAFKA_TOPIC, reason);
  }

  /**
   * Where a Kafka topic found after the subscribe is read from: the first
   * record at or after the subscribe time (ListOffsets by timestamp), not
   * offset 0 and not the log end. Metadata <= v2 (the mock's; kafkajs asks
   * <= v6, none with creation times) cannot say whether the topic was made
   * after the subscribe or existed unseen (a broker's topic list lags a
   * creation), and "what was produced after I subscribed" is what a
   * subscription means in both cases: offset 0 would replay an unseen old
   * topic, the log end would lose what a new topic got before the next poll.
   * Kafka answers -1 when no record is that recent — and librdkafka's mock
   * answers -1 to every time asked, so then the partition is read from its
   * start with the time as a floor (records older than it are passed over),
   * which gives the same records either way; it costs a read of records that
   * are all older only on a real Kafka whose topic was unseen at subscribe.
   * Times are the records' (the producer's clock, or the broker's with
   * LogAppendTime): a producer whose clock is behind may be read as older.
   */
  async positionsSince(reader: Reader, since: number): Promise<Map<number, bigint>> {
    const cluster = this.#host.cluster();
    if (!cluster) throw new EventwireError('connection_closed', 'Not connected to Kafka');
    const starts = await this.offsets(reader.kafkaTopic, true);
    const partitions = [...starts.keys()].map((partition) => ({ partition }));
    const [byTime] = await cluster.fetchTopicsOffset([{ topic: reader.kafkaTopic, partitions, fromTimestamp: since }]);
    const positions = new Map<number, bigint>();
    for (const [partition, start] of starts) {
      const offset = BigInt(byTime?.partitions.find((each) => each.partition === partition)?.offset ?? '-1');
      if (offset >= start) positions.set(partition, offset);
      else {
        positions.set(partition, start);
        reader.floors.set(partition, since);
      }
    }
    return positions;
  }

  /** The offset the next record of each partition will get (Kafka's high watermark). */
  ends(kafkaTopic: string): Promise<Map<number, bigint>> {
    return this.offsets(kafkaTopic, false);
  }

  /** Each partition's first offset (`fromBeginning`) or the next one to be written. */
  async offsets(kafkaTopic: string, fromBeginning: boolean): Promise<Map<number, bigint>> {
    const cluster = this.#host.cluster();
    if (!cluster) throw new EventwireError('connection_closed', 'Not connected to Kafka');
    await cluster.addTargetTopic(kafkaTopic);
    const partitions = cluster.findTopicPartitionMetadata(kafkaTopic).map((partition) => ({ partition: partition.partitionId }));
    const [offsets] = await cluster.fetchTopicsOffset([{ topic: kafkaTopic, partitions, fromBeginning }]);
    return new Map((offsets?.partitions ?? []).map((partition) => [partition.partition, BigInt(partition.offset)]));
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
  startLoops(reader: Reader, generation: number): void {
    const cluster = this.#host.cluster();
    if (reader.stopped || !cluster || generation !== this.#host.generation()) return;
    for (const { partitionId, leader } of cluster.findTopicPartitionMetadata(reader.kafkaTopic)) {
      if (!reader.positions.has(partitionId) || reader.loops.get(leader)?.generation === generation) continue;
      const loop = this.#readLeader(reader, leader, generation, cluster).finally(() => {
        if (reader.loops.get(leader)?.loop === loop) reader.loops.delete(leader);
      });
      reader.loops.set(leader, { generation, loop });
    }
  }

  /** Every loop of the reader has ended (loops started meanwhile included). */
  async loopsEnded(reader: Reader): Promise<void> {
    while (reader.loops.size > 0) await Promise.all([...reader.loops.values()].map((each) => each.loop));
  }

  async #readLeader(reader: Reader, leader: number, generation: number, cluster: InternalCluster): Promise<void> {
    const waitMs = this.#options.fetchWaitMs ?? kafkaTransportDefaults.fetchWaitMs;
    const current = (): boolean => !reader.stopped && generation === this.#host.generation();
    let failures = 0;
    while (current()) {
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
        if (!current()) return;
        this.#handOn(reader, answer.responses.flatMap((response) => response.partitions));
        failures = 0;
        reader.waiters = reader.waiters.filter((waiter) => {
          const reached = [...waiter.through].every(([each, offset]) => (reader.positions.get(each) ?? 0n) >= offset);
          if (reached) waiter.resolve();
          return !reached;
        });
      } catch (error) {
        if (!current()) return;
        failures++;
        if (isOffsetOutOfRange(error)) {
          // Retention passed this reader's position: on from the log start, with a gap.
          await this.realign(reader).catch(() => undefined);
        } else if (isLeaderChange(error)) {
          // A leader move, as a Kafka consumer meets it: silent; the new leader is asked after the refresh.
          if (failures > 1) await this.#host.sleep(this.#host.backoff(failures - 1));
        } else {
          // Not reachable: the whole cluster (then the reconnect resumes every reader), or only this broker.
          if (await this.#host.probe(error)) return;
          if (failures === 1) this.#host.events()?.error(new EventwireError('unavailable', `reading Kafka topic ${reader.kafkaTopic} from broker ${leader} failed`, { cause: error }));
          await this.#host.sleep(this.#host.backoff(failures));
        }
        if (!current()) return;
        await cluster.refreshMetadata().catch(() => undefined);
        if (this.#host.replaced(cluster)) return this.#host.lost(new EventwireError('connection_closed', 'another Kafka cluster answers at these addresses'));
        this.startLoops(reader, generation);
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
        if (passedOver(reader, partition, message.timestamp)) continue;
        const decoded = decodeRecord(message, { kafkaTopic: reader.kafkaTopic, partition, kafkaTopicOf: (topic) => this.#host.nameOf(topic) });
        if (decoded.kind === 'event') {
          let recent = reader.recent.get(partition);
          if (!recent) reader.recent.set(partition, (recent = new RecentIds(RECENT_IDS)));
          // A record a retried produce wrote twice.
          if (typeof decoded.event.id === 'string' && recent.repeat(decoded.event.id)) continue;
          const event = this.#host.stamp(decoded.event, decoded.topic, reader.kafkaTopic, partition, message.offset);
          // Through both bus subscriptions that read this Kafka topic: the channel keeps the one of the pattern owning the topic.
          for (const via of [reader.kafkaTopic, EVERY_KAFKA_TOPIC]) this.#host.events()?.message(event, via, decoded.topic);
        }
        // Reported once, unless it names a topic nobody here subscribed to; the position has moved past it either way.
        else if (decoded.kind === 'invalid' && (decoded.topic === undefined || this.#host.events()?.wants(decoded.topic))) {
          this.invalidRecords++;
          this.#host.events()?.error(decoded.error);
        }
      }
    }
  }
}
