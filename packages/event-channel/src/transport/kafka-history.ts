// History on kafka:// read from Kafka's own log (issue #34): a Kafka topic
// keeps what was produced to it until retention drops it, so `since`,
// `'earliest'` and `{ last: n }` need no store of ours. The live reader stamps
// each event with its position (`<epoch>:<seq>`) and readHistory reads the
// same partition back, so the channel's seam (live first, then history,
// deduplicated by offset: history-replay.ts) holds as on the other
// transports.
//
// One sequence per pattern: an offset names one partition, and the channel's
// replay keeps one `through` per subscription and pages with the last offset
// it got. So history is served where a pattern's events live in one partition
// — any pattern with a literal first segment on a one-partition Kafka topic.
// A wildcard first segment (every Kafka topic) or a Kafka topic of several
// partitions answers `no_history` for now (the research brief's v2: a
// `through` per epoch and an opaque per-partition cursor).
import { EventwireError, toEventwireError } from '../errors.js';
import type { GapReason } from '../gap.js';
import { MAX_HISTORY_PAGE, parseSince } from '../history/page.js';
import { formatOffset, type ParsedOffset } from '../offset.js';
import { assertPattern, patternCovers, topicMatches } from '../topic.js';
import { fnv1a64 } from './fnv1a.js';
import { decodeRecord, type InboundRecord } from './kafka-record.js';
import type { InternalCluster } from './kafkajs-cluster.js';
import type { HistoryPage, HistoryQuery } from './transport.js';
import { kafkaHistoryDefaults, type KafkaHistoryOptions } from './kafka-options.js';

/** What history needs of the bus that owns the connection. */
export interface KafkaHistoryHost {
  /** The connected cluster, or undefined while there is none. */
  cluster(): InternalCluster | undefined;
  /** The id of the cluster the bus is connected to (Metadata v2+), or undefined: then no offsets. */
  clusterId(): string | undefined;
  /** The Kafka topic an eventwire topic's (or a literal-first pattern's) records are in: the bus's mapping, prefix included. */
  kafkaTopicOf(topic: string): string;
  /** Creates the Kafka topic if the application asked for that (the bus's ensureTopic). */
  ensure(kafkaTopic: string): Promise<void>;
  /**
   * A new, unconnected cluster object of the connected client: history reads
   * on connections of their own. A broker answers a connection's requests in
   * order, so on the live reader's connection every history fetch would wait
   * behind its long poll (fetchWaitMs at an idle topic: ~100 ms a fetch).
   */
  openCluster(): InternalCluster | undefined;
  /**
   * The next offset the live reader of this partition will hand on, if one
   * is reading it: history reads stop there (see `read`).
   */
  livePosition(kafkaTopic: string, partition: number): bigint | undefined;
}

/** Records read back per chunk when looking for the newest n (doubled while too few match). */
const LAST_CHUNK = 500;
/** Bytes asked per partition and fetch (a broker answers at least one batch even when it is bigger). */
const FETCH_BYTES = 1 << 20;

/**
 * The epoch of one partition's sequence: a hash of the cluster id, the Kafka
 * topic and the partition, so offsets of two partitions, two topics or two
 * clusters never compare as one sequence. FNV-1a, 64 bits: these are names
 * to tell apart, not secrets, and it is synchronous, so a live event is
 * stamped as it is handed on.
 */
export function kafkaEpoch(clusterId: string, kafkaTopic: string, partition: number): string {
  return `K${fnv1a64(`${clusterId}\n${kafkaTopic}\n${partition}`).toString(16).toUpperCase().padStart(16, '0')}`;
}

/** A record's offset as an event's: seq = Kafka offset + 1 (seq 0 is "before the first record"). */
export function kafkaEventOffset(epoch: string, kafkaOffset: bigint): string {
  return formatOffset(epoch, Number(kafkaOffset + 1n));
}

/** The partition as a reader of `since` finds it. */
export interface PartitionLog {
  readonly epoch: string;
  /** Kafka's log start offset: older records were dropped by retention. */
  readonly start: bigint;
  /** Kafka's high watermark: the offset the next record gets. */
  readonly end: bigint;
}

/**
 * Where reading after `since` starts, and the gap to report. `since.seq` is
 * the offset of the record after the last one the reader had:
 * - another epoch (another partition, topic or cluster) → `epoch`, from the start;
 * - past the end → the topic was deleted and made again → `epoch`, from the
 *   start. A topic made again that has grown past the old offset is not told
 *   apart (kafkajs's Metadata gives no topic ids): the reader gets what
 *   follows that offset in the new topic, with no gap;
 * - before the log start → retention dropped records after it → `trimmed`,
 *   from the start. The dropped records may not all have matched the pattern:
 *   Kafka cannot say, so the gap is reported whenever any was dropped.
 */
export function kafkaReadStart(since: ParsedOffset, log: PartitionLog): { readonly from: bigint; readonly gap?: GapReason } {
  if (since.epoch !== log.epoch) return { from: log.start, gap: 'epoch' };
  const next = BigInt(since.seq);
  if (next > log.end) return { from: log.start, gap: 'epoch' };
  if (next < log.start) return { from: log.start, gap: 'trimmed' };
  return { from: next };
}

/** A decoded record's event with its offset, over any the producer put there (unchecked: the channel validates). */
export function withOffset(event: object, offset: string): object {
  return { ...event, offset };
}

export class KafkaHistory {
  readonly #patterns: readonly string[];
  readonly #host: KafkaHistoryHost;
  /** The connections history reads on, for one live connection (made again when that one is replaced). */
  #reading: { readonly live: InternalCluster; readonly cluster: Promise<InternalCluster> } | undefined;
  #closed = false;
  /** kafkaEpoch's answers (it runs for every live event on a history topic). */
  readonly #epochs = new Map<string, string>();

  constructor(options: KafkaHistoryOptions, host: KafkaHistoryHost) {
    const patterns = options.history ?? kafkaHistoryDefaults.history;
    for (const pattern of patterns) assertPattern(pattern);
    this.#patterns = patterns;
    this.#host = host;
  }

  /** Events on `topic` carry offsets. */
  keeps(topic: string): boolean {
    return this.#patterns.some((pattern) => topicMatches(pattern, topic));
  }

  /**
   * A live record's event with its offset added, when its topic keeps
   * history (as it is otherwise, or when the cluster's id is unknown: no
   * offset rather than a wrong one).
   */
  stamp(event: object, topic: string | undefined, kafkaTopic: string, partition: number, kafkaOffset: string): object {
    const clusterId = this.#host.clusterId();
    if (clusterId === undefined || topic === undefined || !this.keeps(topic)) return event;
    return withOffset(event, kafkaEventOffset(this.#epoch(clusterId, kafkaTopic, partition), BigInt(kafkaOffset)));
  }

  /** One page of `pattern`'s stored events (see HistoryQuery and kafkaReadStart). */
  async read(pattern: string, query: HistoryQuery): Promise<HistoryPage> {
    assertPattern(pattern);
    const first = pattern.split('.')[0]!;
    if (first === '*' || first === '#' || !this.#patterns.some((kept) => patternCovers(kept, pattern))) {
      return { events: [], more: false, gap: 'no_history' };
    }
    const kafkaTopic = this.#host.kafkaTopicOf(pattern);
    // Checked before asking Kafka: a bad offset is the caller's mistake whatever the cluster says.
    const since = query.since !== undefined && query.since !== 'earliest' ? parseSince(query.since) : undefined;
    const live = this.#connected();
    try {
      await this.#host.ensure(kafkaTopic);
      const clusterId = this.#host.clusterId();
      if (clusterId === undefined) return { events: [], more: false, gap: 'no_history' };
      const cluster = await this.#readingCluster(live);
      await cluster.addTargetTopic(kafkaTopic);
      const partitions = cluster.findTopicPartitionMetadata(kafkaTopic);
      // Several sequences: the channel's replay follows one (see the header).
      if (partitions.length !== 1) return { events: [], more: false, gap: 'no_history' };
      const partition = partitions[0]!.partitionId;
      const log: PartitionLog = { epoch: this.#epoch(clusterId, kafkaTopic, partition), ...(await this.#bounds(cluster, kafkaTopic, partition)) };
      // The seam: the channel subscribes live first and drops live events
      // history already gave it only while the replay runs. History read on
      // its own connection may get ahead of the live reader; what lies past
      // the live reader's position comes live instead, so each event is had
      // once, whichever connection is faster.
      const livePosition = this.#host.livePosition(kafkaTopic, partition);
      const end = livePosition !== undefined && livePosition < log.end ? livePosition : log.end;
      const reading = { cluster, kafkaTopic, partition, log: { ...log, end }, pattern };
      if (query.last !== undefined) return { events: await this.#readLast(reading, Math.min(Math.max(0, query.last), MAX_HISTORY_PAGE)), more: false };
      const start = since ? kafkaReadStart(since, log) : { from: log.start };
      const limit = Math.min(query.limit ?? MAX_HISTORY_PAGE, MAX_HISTORY_PAGE);
      const found: unknown[] = [];
      await this.#scan(reading, start.from, end, (event) => found.push(event) <= limit);
      return { events: found.slice(0, limit), more: found.length > limit, ...(start.gap && { gap: start.gap }) };
    } catch (error) {
      throw new EventwireError('unavailable', `reading the history of ${pattern} from Kafka topic ${kafkaTopic} failed`, { cause: toEventwireError(error) });
    }
  }

  /** The newest `count` matching events: chunks read back from the end, each twice the last, until enough matched or the log start. */
  async #readLast(reading: Reading, count: number): Promise<unknown[]> {
    let newest: unknown[] = [];
    let high = reading.log.end;
    let chunk = BigInt(Math.max(LAST_CHUNK, count));
    while (newest.length < count && high > reading.log.start) {
      const low = high - chunk > reading.log.start ? high - chunk : reading.log.start;
      const found: unknown[] = [];
      await this.#scan(reading, low, high, (event) => found.push(event) > 0);
      newest = [...found, ...newest];
      high = low;
      chunk *= 2n;
    }
    return newest.slice(Math.max(0, newest.length - count));
  }

  /** Hands each event of `pattern` with an offset in [from, to) to `take`, oldest first, until it returns false. */
  async #scan(reading: Reading, from: bigint, to: bigint, take: (event: unknown) => boolean): Promise<void> {
    const { cluster, kafkaTopic, partition, log, pattern } = reading;
    let position = from;
    while (position < to) {
      const leader = cluster.findTopicPartitionMetadata(kafkaTopic).find((each) => each.partitionId === partition)?.leader;
      if (leader === undefined) throw new EventwireError('unavailable', `Kafka topic ${kafkaTopic} partition ${partition} has no leader`);
      const broker = await cluster.findBroker({ nodeId: String(leader) });
      const answer = await broker.fetch({
        // Below the watermark there is something to answer with at once.
        maxWaitTime: 0,
        topics: [{ topic: kafkaTopic, partitions: [{ partition, fetchOffset: String(position), maxBytes: FETCH_BYTES }] }],
      });
      const before = position;
      for (const fetched of answer.responses.flatMap((response) => response.partitions)) {
        if (fetched.partition !== partition) continue;
        for (const message of fetched.messages) {
          const offset = BigInt(message.offset);
          // A fetch answers whole record batches: one may start before the position, or run past the end asked for.
          if (offset < position) continue;
          if (offset >= to) return;
          position = offset + 1n;
          // As the live reader decodes it (kafka-record.ts); a record no event can be made of is skipped here (the live reader reported it).
          const decoded = decodeRecord(message as InboundRecord, { kafkaTopic, partition, kafkaTopicOf: (topic) => this.#host.kafkaTopicOf(topic) });
          if (decoded.kind !== 'event' || decoded.topic === undefined || !topicMatches(pattern, decoded.topic)) continue;
          if (!take(withOffset(decoded.event, kafkaEventOffset(log.epoch, offset)))) return;
        }
      }
      // Nothing readable below the watermark (a transaction's markers, say): stop rather than ask forever.
      if (position === before) return;
    }
  }

  async #bounds(cluster: InternalCluster, kafkaTopic: string, partition: number): Promise<{ start: bigint; end: bigint }> {
    const [earliest, latest] = await Promise.all([
      cluster.fetchTopicsOffset([{ topic: kafkaTopic, partitions: [{ partition }], fromBeginning: true }]),
      cluster.fetchTopicsOffset([{ topic: kafkaTopic, partitions: [{ partition }] }]),
    ]);
    const offsetIn = (answer: typeof earliest): bigint => BigInt(answer[0]?.partitions.find((each) => each.partition === partition)?.offset ?? '0');
    return { start: offsetIn(earliest), end: offsetIn(latest) };
  }

  /** Closes history's own connections. */
  async close(): Promise<void> {
    this.#closed = true;
    const reading = this.#reading;
    this.#reading = undefined;
    if (reading) await reading.cluster.then((cluster) => cluster.disconnect()).catch(() => undefined);
  }

  #readingCluster(live: InternalCluster): Promise<InternalCluster> {
    if (this.#closed) return Promise.reject(new EventwireError('connection_closed', 'The channel is closed'));
    if (this.#reading?.live === live) return this.#reading.cluster;
    const previous = this.#reading;
    if (previous) void previous.cluster.then((cluster) => cluster.disconnect()).catch(() => undefined);
    const cluster = this.#host.openCluster();
    if (!cluster) return Promise.reject(new EventwireError('connection_closed', 'Not connected to Kafka'));
    const reading = { live, cluster: cluster.connect().then(() => cluster) };
    this.#reading = reading;
    // A failed connect is tried again on the next read.
    reading.cluster.catch(() => {
      if (this.#reading === reading) this.#reading = undefined;
    });
    return reading.cluster;
  }

  #epoch(clusterId: string, kafkaTopic: string, partition: number): string {
    const key = `${clusterId}\n${kafkaTopic}\n${partition}`;
    let epoch = this.#epochs.get(key);
    if (epoch === undefined) this.#epochs.set(key, (epoch = kafkaEpoch(clusterId, kafkaTopic, partition)));
    return epoch;
  }

  #connected(): InternalCluster {
    const cluster = this.#host.cluster();
    if (!cluster) throw new EventwireError('connection_closed', 'Not connected to Kafka');
    return cluster;
  }
}

interface Reading {
  readonly cluster: InternalCluster;
  readonly kafkaTopic: string;
  readonly partition: number;
  readonly log: PartitionLog;
  readonly pattern: string;
}
