// kafka:// — a channel over Kafka, through kafkajs 2.2.4 (an optional peer,
// loaded only when this transport is used; chosen in issue #34 as the one pure
// JavaScript client that installs offline and speaks to the only
// Kafka-protocol server the tests have, librdkafka's mock cluster).
//
// `kafka://host:port[,host:port…]` (the URL table's `kafka` row). The
// mapping: the Kafka topic is the eventwire topic's first segment, the record
// key the full topic (so one topic's events stay in one partition, in order),
// the value the envelope JSON, headers `content-type` and `eventwire-topic`
// for plain Kafka readers. Subscriptions read every partition of their Kafka
// topic without a consumer group (kafkajs's cluster layer: a group join costs
// ~3 s, this ~100 ms to live), from the end as it was when subscribing. When
// Kafka goes away the channel reports `reconnecting`, holds emits, and on
// return resumes every reader from its positions: Kafka kept the log, so
// nothing is missed unless retention passed a position (a `trimmed` gap).
// A pattern whose first segment is a wildcard (`#`, `*.created`) reads every
// Kafka topic, and finds those made later with a Metadata poll every
// `topicRefreshMs`, read from the subscribe time (#positionsSince).
// First segments Kafka would refuse as names are escaped (kafka-topic-name.ts),
// after an optional `prefix`. Kafka topics are created (CreateTopics, one
// partition by default) where the cluster lets a client. History and
// `since` are read from the log itself (kafka-history.ts). With `group`,
// subscriptions read through a Kafka consumer group instead (kafka-group-bus.ts).
import type { Kafka, Producer } from 'kafkajs';
import { fullJitterBackoff } from '../backoff.js';
import { answersWithin } from '../deadline.js';
import { EventwireError, toEventwireError } from '../errors.js';
import type { EventEnvelope } from '../envelope.js';
import type { GapReason } from '../gap.js';
import { KafkaHistory, type KafkaHistoryOptions } from './kafka-history.js';
import { decodeRecord, recordOf, type OutboundRecord } from './kafka-record.js';
import { checkKafkaPrefix, firstSegmentOf, kafkaTopicName, kafkaTopicTooLong } from './kafka-topic-name.js';
import { clusterIdOf, internalCluster, loadKafkajs, type FetchedPartition, type InternalCluster } from './kafkajs-cluster.js';
import { RecentIds } from './recent-ids.js';
import { PubSubTransport, type PubSubBus, type PubSubBusEvents, type PubSubTransportOptions } from './pubsub-transport.js';
import type { HistoryPage, HistoryQuery } from './transport.js';
import { KafkaGroupBus, type KafkaGroupOptions } from './kafka-group-bus.js';

/** Options of {@link KafkaTransport}. */
export interface KafkaTransportOptions extends PubSubTransportOptions, KafkaHistoryOptions, KafkaGroupOptions {
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
   * How a Kafka topic is made, once per Kafka topic per connection, before
   * this channel first produces to it or reads it for a pattern naming it.
   * By default, CreateTopics at the cluster's controller with `partitions`
   * partitions and the cluster's default replication factor (Kafka 2.4 and
   * later); a topic that exists already is taken as it is. When the cluster
   * will not create topics for this client — no controller in its Metadata
   * (librdkafka's mock cluster), no CreateTopics (`UNSUPPORTED_VERSION`, a
   * broker too old for the default replication factor), or refused
   * (`TOPIC_AUTHORIZATION_FAILED`, `CLUSTER_AUTHORIZATION_FAILED`,
   * `POLICY_VIOLATION`) — this is remembered for the connection and topics
   * are what the cluster has or auto-creates (`num.partitions`, often more
   * than one: then order holds per eventwire topic only). A topic neither
   * made nor auto-created fails the emit `unavailable`, with Kafka's answer
   * as the cause. `false`: never create (what the cluster has or
   * auto-creates); a function: called instead (tests pass the mock's
   * createTopic).
   * @default CreateTopics, falling back as above
   */
  readonly ensureTopic?: false | ((kafkaTopic: string) => Promise<void>);
  /**
   * Partitions of a Kafka topic this channel creates (default `ensureTopic`).
   * One, because PROTOCOL.md §3 promises a publisher's events in order
   * across all its topics, and the eventwire topics of one first segment
   * share one Kafka topic: only one partition keeps their order (several
   * keep it per eventwire topic, the record key). More spread a busy Kafka
   * topic over brokers and readers, for that order.
   * @default 1
   */
  readonly partitions?: number;
  /**
   * How often a channel with a pattern whose first segment is a wildcard
   * (`*.created`, `#`) asks Kafka for its topic list, to read Kafka topics
   * made after the subscribe (Kafka tells no one of a new topic; kafkajs's
   * own regex subscriptions are fixed at subscribe time).
   * @default 5000
   */
  readonly topicRefreshMs?: number;
  /**
   * Put in front of every Kafka topic this channel uses (`prefix` + the
   * first segment as kafka-topic-name.ts escapes it), so several apps share
   * a cluster; the brokers of one eventwire cluster use the same one. A
   * wildcard first segment reads only the Kafka topics with it.
   * `[A-Za-z0-9._-]`, checked at construction (`invalid_config`).
   * @default ''
   */
  readonly prefix?: string;
}

/** The defaults of {@link KafkaTransportOptions}. */
export const kafkaTransportDefaults = {
  fetchWaitMs: 100,
  partitions: 1,
  topicRefreshMs: 5000,
  prefix: '',
  requestTimeoutMs: 10_000,
} as const;

export type KafkaJsModule = typeof import('kafkajs');

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

/** An eventwire topic's (or pattern's) first segment. */
function firstSegment(topic: string): string {
  const dot = topic.indexOf('.');
  return dot < 0 ? topic : topic.slice(0, dot);
}

/**
 * The Kafka topic an eventwire topic's records go to: its first segment,
 * characters Kafka refuses escaped (kafka-topic-name.ts), after `prefix`.
 */
export function kafkaTopicOf(topic: string, prefix = ''): string {
  return kafkaTopicName(firstSegment(topic), prefix);
}

/**
 * The bus subscription of patterns whose first segment is a wildcard: every
 * Kafka topic (no Kafka topic is named `*`). A record is handed on through
 * its Kafka topic's key and through this one; the channel delivers the copy
 * of the pattern that owns the topic, so once.
 */
const EVERY_KAFKA_TOPIC = '*';

/** The first segment names one Kafka topic (`orders.*`, `orders.#`, `orders.created`), not every one (`*.created`, `#`). */
export function hasLiteralFirstSegment(pattern: string): boolean {
  const first = firstSegment(pattern);
  return first !== '*' && first !== '#';
}


/** One Kafka topic being read: a position per partition, one fetch loop. */
interface Reader {
  readonly kafkaTopic: string;
  /** Patterns with a literal first segment that need it. */
  count: number;
  /** Read for the patterns whose first segment is a wildcard too. */
  wild: boolean;
  /**
   * Per partition, the time (ms) before which records are not this
   * channel's: a Kafka topic found after the subscribe, where Kafka could not
   * say which offset that time is (see #positionsSince). Dropped at the
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

/** Tries of one produce while the cluster answers (a lost connection ends them: sent again after the reconnect). */
const PRODUCE_ATTEMPTS = 5;
/**
 * Bounds of one produce's batch. Records: a batch holds at most this many
 * emits (well under RECENT_IDS, so a re-sent batch's copies are all still
 * remembered). Bytes (values, keys and header text, estimated as UTF-16
 * length): under Kafka's default 1 MiB record batch limit
 * (message.max.bytes) with room for the framing, so a batch of small
 * records is never refused where each alone would be taken.
 */
const PRODUCE_BATCH_RECORDS = 500;
const PRODUCE_BATCH_BYTES = 512 * 1024;
/** Event ids a reader remembers per partition, to drop a record a retried produce wrote twice. */
const RECENT_IDS = 1024;

/** A produce waiting for its turn (one in flight at a time). */
interface Produce {
  readonly topic: string;
  readonly payload: string;
  /** What the record's headers are made of (PubSubTransport always passes it). */
  readonly envelope: EventEnvelope | undefined;
  readonly resolve: () => void;
  readonly reject: (error: EventwireError) => void;
}

/** A record's size for the batch bound (a rough count: value, key and headers as characters). */
function recordBytes({ topic, payload, envelope }: Produce): number {
  return payload.length + topic.length * 2 + (envelope ? envelope.id.length + envelope.source.length + envelope.time.length + (envelope.traceparent?.length ?? 0) + 160 : 0);
}

type OutboundMessage = OutboundRecord | { readonly key: string; readonly value: string };

/** The error and what it was caused by, through kafkajs's `cause` and `originalError` links. */
function causes(error: unknown): Record<string, unknown>[] {
  const chain: Record<string, unknown>[] = [];
  let at: unknown = error;
  while (typeof at === 'object' && at !== null && chain.length < 8 && !chain.includes(at as Record<string, unknown>)) {
    const link = at as Record<string, unknown>;
    chain.push(link);
    at = link['originalError'] ?? link['cause'];
  }
  return chain;
}

/** Kafka's answers that mean "ask the partition's new leader" (a leader move), never an outage. */
const LEADER_CHANGES = new Set(['NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION', 'REPLICA_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH']);
const STALE_METADATA = new Set(['KafkaJSBrokerNotFound', 'KafkaJSMetadataNotLoaded', 'KafkaJSTopicMetadataNotLoaded']);

function isLeaderChange(error: unknown): boolean {
  return causes(error).some((link) => LEADER_CHANGES.has(String(link['type'])) || STALE_METADATA.has(String(link['name'])));
}

function isOffsetOutOfRange(error: unknown): boolean {
  return causes(error).some((link) => link['type'] === 'OFFSET_OUT_OF_RANGE');
}

/** A broker's answer (a protocol error): Kafka was reached and refused, so nothing was written. */
function isRefusal(error: unknown): boolean {
  return causes(error).some((link) => link['name'] === 'KafkaJSProtocolError' || typeof link['type'] === 'string');
}

/** Kafka's answers to CreateTopics, per topic, in kafkajs's KafkaJSAggregateError (or one error). */
function createTopicsErrors(error: unknown): Record<string, unknown>[] {
  const errors = (error as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? errors.flatMap(causes) : causes(error);
}

function alreadyExists(error: unknown): boolean {
  const errors = createTopicsErrors(error);
  return errors.length > 0 && errors.some((link) => link['type'] === 'TOPIC_ALREADY_EXISTS') && errors.every((link) => link['type'] === 'TOPIC_ALREADY_EXISTS' || link['type'] === undefined);
}

/** Answers meaning this cluster will not create topics for this client (see KafkaTransportOptions.ensureTopic). */
const CANNOT_CREATE = new Set(['UNSUPPORTED_VERSION', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'POLICY_VIOLATION', 'INVALID_REPLICATION_FACTOR']);

function cannotCreateTopics(error: unknown): boolean {
  // No controller among the brokers (librdkafka's mock answers controller -1 or an id it has not), or no CreateTopics at all.
  return createTopicsErrors(error).some(
    (link) => CANNOT_CREATE.has(String(link['type'])) || link['name'] === 'KafkaJSBrokerNotFound' || link['name'] === 'KafkaJSServerDoesNotSupportApiKey',
  );
}

/**
 * What a failed produce tells its caller. Refused by Kafka, or no connection
 * made: nothing was written (`connection_closed` is sent again after the
 * reconnect). A connection lost or a request unanswered after it was written:
 * the record may be in the log — `timeout`, never an ack and never a re-send
 * that could duplicate it.
 */
function produceFailure(error: unknown): EventwireError {
  const chain = causes(error);
  if (chain.some((link) => link['type'] === 'MESSAGE_TOO_LARGE')) return new EventwireError('payload_too_large', 'Kafka refused the record as too large', { cause: error });
  if (isRefusal(error)) return new EventwireError('unavailable', 'Kafka refused the produce', { cause: error });
  if (chain.some((link) => link['code'] === 'ECONNREFUSED' || STALE_METADATA.has(String(link['name']))))
    return new EventwireError('connection_closed', 'Kafka could not be reached for the produce (not written)', { cause: error });
  return new EventwireError('timeout', 'Kafka did not answer the produce (it may have been written)', { cause: error });
}

type BusState = 'connecting' | 'connected' | 'waiting' | 'closed';

/**
 * The client every connection attempt makes (the producer's and readers',
 * and a group bus's consumer): kafkajs's own reconnects and retries are kept
 * short, since outages are the bus's to retry with its backoff.
 */
export function kafkaClient(module: KafkaJsModule, options: KafkaTransportOptions): InstanceType<KafkaJsModule['Kafka']> {
  const timeout = options.requestTimeoutMs ?? kafkaTransportDefaults.requestTimeoutMs;
  return new module.Kafka({
    clientId: 'eventwire-js',
    brokers: options.url.slice('kafka://'.length).split(',').filter(Boolean),
    logLevel: module.logLevel.NOTHING,
    connectionTimeout: Math.min(timeout, 3000),
    requestTimeout: timeout,
    // One quick retry inside kafkajs (a topic just auto-created has no
    // leader yet); an outage is this transport's to retry, with its backoff.
    retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 500 },
  });
}

/** The plain bus: produces, and reads without a consumer group (every channel gets every record). A group bus uses it to produce and to keep the connection. */
export class KafkaBus implements PubSubBus {
  readonly kind = 'kafka';
  readonly #options: KafkaTransportOptions;
  readonly #backoff: (attempt: number) => number;
  readonly #prefix: string;
  #events: PubSubBusEvents | undefined;
  #module: KafkaJsModule | undefined;
  #producer: Producer | undefined;
  #cluster: InternalCluster | undefined;
  readonly #readers = new Map<string, Reader>();
  /** See KafkaTransport.invalidRecords. */
  invalidRecords = 0;
  /**
   * Produces waiting behind the one in flight, so a retry cannot reorder a
   * publisher's events. Refused with `connection_closed` once the connection
   * is lost: never handed to kafkajs while it is down.
   */
  #queue: Produce[] = [];
  #producing = false;
  /** The client of the current connection (history opens its own connections from it). */
  #kafka: Kafka | undefined;
  /** Offsets of live events, and readHistory. */
  readonly history: KafkaHistory;
  /** The cluster this bus's positions belong to (see #followCluster). */
  #clusterId: string | undefined;
  /** `connected` between `ready` and the next `reconnecting`; `waiting` for the next attempt's timer. */
  #state: BusState = 'connecting';
  /** Bumped on every connect attempt and loss: an older connection's loops end. */
  #generation = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Loops pausing between failed fetches, woken early by a loss or close. */
  readonly #sleepers = new Set<() => void>();
  /** A metadata round trip under way, deciding whether a failure is an outage. */
  #probing: Promise<boolean> | undefined;
  /** Patterns with a wildcard first segment listened to: while any, every Kafka topic is read. */
  #wild = 0;
  /** When the first of them was subscribed: a Kafka topic found later is read from this time. */
  #wildSince: number | undefined;
  /** The wildcard patterns' topic list being read (a second one waits for the first). */
  #discovering: Promise<void> | undefined;
  #discoveryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: KafkaTransportOptions) {
    this.#options = options;
    if (!options.url.startsWith('kafka://')) throw new EventwireError('invalid_url', `not a kafka:// URL: ${options.url}`);
    // kafkaClient reads the list from the URL on every attempt.
    if (options.url.slice('kafka://'.length).split(',').filter(Boolean).length === 0) throw new EventwireError('invalid_url', `no broker in ${options.url}`);
    this.#backoff = options.backoff ?? fullJitterBackoff();
    this.#prefix = options.prefix ?? kafkaTransportDefaults.prefix;
    checkKafkaPrefix(this.#prefix);
    const partitions = options.partitions ?? kafkaTransportDefaults.partitions;
    if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > 2 ** 31 - 1) throw new EventwireError('invalid_config', `partitions must be a whole number from 1, not ${String(partitions)}`);
    this.history = new KafkaHistory(options, {
      cluster: () => (this.#state === 'connected' ? this.#cluster : undefined),
      clusterId: () => this.#clusterId,
      kafkaTopicOf: (topic) => this.#nameOf(topic),
      ensure: (kafkaTopic) => this.#ensure(kafkaTopic),
      openCluster: () => this.#kafka && internalCluster(this.#kafka, { allowAutoTopicCreation: true }),
      livePosition: (kafkaTopic, partition) => this.#readers.get(kafkaTopic)?.positions.get(partition),
    });
  }

  /** The Kafka topic of an eventwire topic or literal-first pattern. */
  #nameOf(topic: string): string {
    return kafkaTopicOf(topic, this.#prefix);
  }

  /** The same, refused `invalid_topic` when Kafka would not take it (over 249 characters once escaped). */
  #checkedNameOf(topic: string): string {
    const name = this.#nameOf(topic);
    if (kafkaTopicTooLong(name)) throw new EventwireError('invalid_topic', `the Kafka topic of ${JSON.stringify(firstSegment(topic))} would be ${name.length} characters (Kafka takes 249)`);
    return name;
  }

  open(events: PubSubBusEvents): void {
    this.#events = events;
    void loadKafkajs().then(
      (module) => {
        this.#module = module;
        return this.#connect(1);
      },
      (error: EventwireError) => events.failed(error),
    );
  }

  /**
   * One connection attempt: fresh clients (kafkajs's own reconnects retry
   * on their own schedule, and a producer's would re-send), then every reader
   * resumed from its positions — Kafka kept the log, so nothing is missed —
   * and readers started for patterns subscribed meanwhile, then `ready`.
   */
  async #connect(attempt: number): Promise<void> {
    this.#retryTimer = undefined;
    if (this.#state === 'closed') return;
    this.#state = 'connecting';
    const generation = ++this.#generation;
    // Topic creation is asked again of each connection (it may be another cluster).
    this.#ensured.clear();
    this.#cannotCreate = false;
    const module = this.#module!;
    const kafka = kafkaClient(module, this.#options);
    let producer: Producer | undefined;
    let cluster: InternalCluster | undefined;
    try {
      // No retries inside kafkajs: it cannot tell a produce that was written
      // from one that was not, so it would duplicate; this transport decides.
      producer = kafka.producer({ createPartitioner: module.Partitioners.DefaultPartitioner, maxInFlightRequests: 1, retry: { retries: 0 } });
      await producer.connect();
      cluster = internalCluster(kafka, { allowAutoTopicCreation: true });
      await cluster.connect();
      // Which cluster answers (connect alone does not ask): positions belong to one.
      await cluster.refreshMetadata();
      this.#producer = producer;
      this.#cluster = cluster;
      this.#kafka = kafka;
      if (generation !== this.#generation) throw new EventwireError('connection_closed', 'Kafka went away while connecting');
      this.#followCluster(clusterIdOf(cluster));
      await this.#listenAgain(generation);
      if (generation !== this.#generation) throw new EventwireError('connection_closed', 'Kafka went away while connecting');
    } catch (error) {
      if (this.#producer === producer) [this.#producer, this.#cluster] = [undefined, undefined];
      void Promise.allSettled([producer?.disconnect(), cluster?.disconnect()]);
      if (this.#isClosed()) return;
      // Loops this attempt started end.
      this.#generation++;
      this.#retry(attempt, error);
      return;
    }
    if (this.#isClosed()) return;
    this.#state = 'connected';
    this.#events?.ready(false);
  }

  /**
   * Another cluster answers at these addresses than before (a Kafka that lost
   * its disks, or was replaced): its offsets mean nothing to the positions
   * kept, so every reader starts over at the new log's start, and each of
   * its subscriptions is told it may have missed events (`epoch`).
   */
  #followCluster(clusterId: string | undefined): void {
    const before = this.#clusterId;
    if (clusterId !== undefined) this.#clusterId = clusterId;
    if (before === undefined || clusterId === undefined || clusterId === before) return;
    for (const reader of this.#readers.values()) {
      reader.positions.clear();
      reader.recent.clear();
      this.#events?.missedVia(reader.kafkaTopic, 'epoch');
    }
  }

  /** The last Metadata answer came from another cluster than the one the positions belong to. */
  #replaced(cluster: InternalCluster): boolean {
    const now = clusterIdOf(cluster);
    return this.#clusterId !== undefined && now !== undefined && now !== this.#clusterId;
  }

  /** (A method, so a check after an await is not narrowed away by the assignment before it.) */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Reports `reconnecting` and sets the one timer of the next attempt. */
  #retry(attempt: number, cause: unknown): void {
    this.#state = 'waiting';
    const delayMs = this.#backoff(attempt);
    this.#events?.reconnecting(attempt, delayMs, new EventwireError('connection_closed', 'Kafka is not reachable', { cause }));
    this.#retryTimer = setTimeout(() => void this.#connect(attempt + 1), delayMs);
  }

  /** The readers `events.patterns()` needs, each resumed from its positions or started at the log end. */
  async #listenAgain(generation: number): Promise<void> {
    const wanted = new Map<string, number>();
    let wild = 0;
    for (const pattern of this.#events?.patterns() ?? []) {
      if (!hasLiteralFirstSegment(pattern)) {
        wild++;
        continue;
      }
      const kafkaTopic = this.#nameOf(pattern);
      wanted.set(kafkaTopic, (wanted.get(kafkaTopic) ?? 0) + 1);
    }
    this.#wild = wild;
    if (wild === 0) this.#wildSince = undefined;
    // Unsubscribed while Kafka was away.
    for (const [kafkaTopic, reader] of this.#readers) {
      reader.wild &&= wild > 0;
      if (!wanted.has(kafkaTopic) && !reader.wild) this.#forget(reader);
      else if (!wanted.has(kafkaTopic)) {
        reader.count = 0;
        reader.ready = this.#resume(reader, generation);
      }
    }
    // Every Kafka topic again, those made while Kafka was away read from the subscribe time.
    if (wild > 0) {
      this.#wildSince ??= Date.now();
      await this.#discover(generation, this.#wildSince);
      this.#scheduleDiscovery();
    }
    await Promise.all(
      [...wanted].map(([kafkaTopic, count]) => {
        let reader = this.#readers.get(kafkaTopic);
        if (reader) {
          reader.count = count;
          reader.ready = this.#resume(reader, generation);
        } else {
          reader = newReader(kafkaTopic, count);
          this.#readers.set(kafkaTopic, reader);
          reader.ready = this.#startReading(reader, generation);
        }
        return reader.ready;
      }),
    );
  }

  /** Fetches again from where the reader was; positions retention passed are moved to the log start, with a `trimmed` gap. */
  async #resume(reader: Reader, generation: number): Promise<void> {
    await this.#cluster!.addTargetTopic(reader.kafkaTopic);
    await this.#realign(reader);
    this.#startLoops(reader, generation);
  }

  /**
   * Positions outside the log move to its start: below it, retention dropped
   * records this reader never handed on (`trimmed`); past its end, the topic
   * is not the one read before (deleted and made again: `epoch`). Partitions
   * added meanwhile are read from their start (all of it came after).
   */
  async #realign(reader: Reader): Promise<void> {
    const [starts, ends] = await Promise.all([this.#offsets(reader.kafkaTopic, true), this.#offsets(reader.kafkaTopic, false)]);
    let reason: GapReason | undefined;
    for (const [partition, start] of starts) {
      const at = reader.positions.get(partition);
      if (at !== undefined && at >= start && at <= (ends.get(partition) ?? at)) continue;
      if (at !== undefined) reason = at < start ? 'trimmed' : (reason ?? 'epoch');
      reader.positions.set(partition, start);
    }
    if (reason) this.#events?.missedVia(reader.kafkaTopic, reason);
    if (reason && reader.wild) this.#events?.missedVia(EVERY_KAFKA_TOPIC, reason);
  }

  /**
   * The connection is gone (a fetch or produce failed and no broker answers
   * Metadata): `reconnecting` first, so what is refused here goes back to the
   * transport's outbox, then the waiting produces are refused, loops end and
   * the clients are dropped. Readers keep their positions for the resume.
   */
  #lost(cause: unknown): void {
    if (this.#state === 'closed' || this.#state === 'waiting') return;
    const wasConnected = this.#state === 'connected';
    this.#generation++;
    // An attempt under way sees the new generation and schedules the next one itself.
    if (!wasConnected) return;
    const [producer, cluster] = [this.#producer, this.#cluster];
    [this.#producer, this.#cluster] = [undefined, undefined];
    this.#wake();
    clearTimeout(this.#discoveryTimer);
    this.#discoveryTimer = undefined;
    this.#retry(1, cause);
    for (const waiting of this.#queue.splice(0)) waiting.reject(new EventwireError('connection_closed', 'the connection to Kafka was lost before this was sent'));
    void Promise.allSettled([producer?.disconnect(), cluster?.disconnect()]);
  }

  /** For a group bus: a failure of its consumer, a lost connection when no broker answers Metadata either (see #probe). */
  probe(cause: unknown): Promise<boolean> {
    return this.#probe(cause);
  }

  /** For a group bus: its consumer could not join; reconnect (see #lost). */
  lost(cause: unknown): void {
    this.#lost(cause);
  }

  /** For a group bus: the Kafka topic made as `ensureTopic` says, once (see #ensure). */
  ensure(kafkaTopic: string): Promise<void> {
    return this.#ensure(kafkaTopic);
  }

  /** After a failure: true when no broker answers Metadata either (then the connection is lost). */
  async #probe(cause: unknown): Promise<boolean> {
    const cluster = this.#cluster;
    if (!cluster || this.#state !== 'connected') return true;
    this.#probing ??= cluster.refreshMetadata().then(
      // Another cluster at the same addresses is a lost connection too: the reconnect starts over on it.
      () => this.#replaced(cluster),
      () => true,
    );
    const probing = this.#probing;
    const gone = await probing;
    if (this.#probing === probing) this.#probing = undefined;
    if (gone) this.#lost(cause);
    return gone;
  }

  /** A pause of one failed attempt: one timer, ended early by a loss or close. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
    });
  }

  #wake(): void {
    for (const wake of [...this.#sleepers]) wake();
  }

  keysFor(pattern: string): readonly string[] {
    if (!hasLiteralFirstSegment(pattern)) return [EVERY_KAFKA_TOPIC];
    // Refused here, before the transport keeps the pattern.
    return [this.#checkedNameOf(pattern)];
  }

  publish(topic: string, payload: string, envelope?: EventEnvelope): Promise<void> {
    try {
      this.#checkedNameOf(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#state !== 'connected') return Promise.reject(new EventwireError('connection_closed', 'Not connected to Kafka'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ topic, payload, envelope, resolve, reject });
      void this.#pump();
    });
  }

  /**
   * Sends the queue one produce at a time, while connected: everything that
   * waited behind the one in flight goes as the next produce (one request
   * per leader, one record batch per partition), up to PRODUCE_BATCH_RECORDS
   * records or PRODUCE_BATCH_BYTES. Still one in flight, so a re-send cannot
   * reorder a publisher's events; the batch is what makes Kafka fast (a
   * consumer fetches whole record batches: librdkafka's mock answers only
   * one per partition per fetch, so one record per produce capped the
   * channel at ~2k/s there, bench/RESULTS.md).
   */
  async #pump(): Promise<void> {
    if (this.#producing) return;
    this.#producing = true;
    try {
      while (this.#state === 'connected' && this.#queue.length > 0) await this.#produce(this.#takeBatch());
    } finally {
      this.#producing = false;
    }
  }

  /** The next produce's records, from the front of the queue, in order (at least one, however large). */
  #takeBatch(): Produce[] {
    let bytes = 0;
    let count = 0;
    for (const waiting of this.#queue) {
      const size = recordBytes(waiting);
      if (count > 0 && (count >= PRODUCE_BATCH_RECORDS || bytes + size > PRODUCE_BATCH_BYTES)) break;
      bytes += size;
      count++;
    }
    return this.#queue.splice(0, count);
  }

  /** One produce of a batch: one answer settles every emit in it, a refusal refuses them all with its cause. */
  async #produce(batch: readonly Produce[]): Promise<void> {
    const settle = (error?: EventwireError): void => {
      for (const each of batch) {
        if (error) each.reject(error);
        else each.resolve();
      }
    };
    for (let attempt = 1; ; attempt++) {
      const producer = this.#producer;
      if (!producer || this.#state !== 'connected') return settle(new EventwireError('connection_closed', 'the connection to Kafka was lost before this was sent'));
      try {
        for (const kafkaTopic of new Set(batch.map((each) => this.#nameOf(each.topic)))) await this.#ensure(kafkaTopic);
        await this.#send(producer, batch);
        return settle();
      } catch (error) {
        // A leader move: the old leader refused (nothing written there) and kafkajs refreshed its metadata; the new one is asked
        // (a batch over several leaders may have been written at the others: sent again, the copies dropped by id).
        if (isLeaderChange(error) && attempt < 5) {
          if (attempt > 1) await this.#sleep(this.#backoff(attempt - 1));
          continue;
        }
        // Not Kafka's refusal: maybe the whole cluster went away; then the queue behind goes back to the outbox.
        if (isRefusal(error)) return settle(produceFailure(error));
        // Not answered: maybe written, maybe not. Sent again either way (readers drop the copy by its
        // event id: RecentIds) — here while the cluster answers, else after the reconnect (connection_closed).
        if (await this.#probe(error)) return settle(new EventwireError('connection_closed', 'the connection to Kafka was lost while producing', { cause: error }));
        if (attempt >= PRODUCE_ATTEMPTS) return settle(produceFailure(error));
        await this.#sleep(this.#backoff(attempt));
      }
    }
  }

  /**
   * One produce to Kafka, answered once every in-sync replica has the
   * records (acks -1): the records grouped per Kafka topic, in queue order
   * within each (Kafka keeps order per partition, and the key keeps an
   * eventwire topic in one partition; nothing orders two Kafka topics'
   * records for a reader anyway).
   */
  #send(producer: Producer, batch: readonly Produce[]): Promise<unknown> {
    const byTopic = new Map<string, OutboundMessage[]>();
    for (const { topic, payload, envelope } of batch) {
      const kafkaTopic = this.#nameOf(topic);
      let messages = byTopic.get(kafkaTopic);
      if (!messages) byTopic.set(kafkaTopic, (messages = []));
      // Headers for plain Kafka readers (kafka-record.ts).
      messages.push(envelope ? recordOf(envelope, payload) : { key: topic, value: payload });
    }
    return producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
  }

  async listen(pattern: string): Promise<void> {
    if (!hasLiteralFirstSegment(pattern)) return this.#listenEverywhere();
    const kafkaTopic = this.#nameOf(pattern);
    const existing = this.#readers.get(kafkaTopic);
    if (existing) {
      existing.count++;
      return existing.ready;
    }
    const reader = newReader(kafkaTopic, 1);
    this.#readers.set(kafkaTopic, reader);
    reader.ready = this.#startReading(reader, this.#generation);
    try {
      await reader.ready;
    } catch (error) {
      if (this.#readers.get(kafkaTopic) === reader) this.#readers.delete(kafkaTopic);
      // Lost meanwhile: the reconnect reads it (the transport listens again).
      if (this.#state !== 'connected') throw new EventwireError('connection_closed', 'the connection to Kafka was lost', { cause: error });
      throw new EventwireError('unavailable', `could not start reading Kafka topic ${kafkaTopic}`, { cause: error });
    }
  }

  /**
   * Starts a reader: live from the log end (what the log holds now is
   * history, not this subscription's), or, for a Kafka topic found after
   * the subscribe, from the subscribe time `since`.
   */
  async #startReading(reader: Reader, generation: number, since?: number): Promise<void> {
    // A Kafka topic found in the cluster's list exists: only a pattern's own one is made.
    if (reader.count > 0) await this.#ensure(reader.kafkaTopic);
    const positions = since === undefined ? await this.#ends(reader.kafkaTopic) : await this.#positionsSince(reader, since);
    for (const [partition, offset] of positions) reader.positions.set(partition, offset);
    this.#startLoops(reader, generation);
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
  async #positionsSince(reader: Reader, since: number): Promise<Map<number, bigint>> {
    const cluster = this.#cluster;
    if (!cluster) throw new EventwireError('connection_closed', 'Not connected to Kafka');
    const starts = await this.#offsets(reader.kafkaTopic, true);
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

  /** A pattern whose first segment is a wildcard: every Kafka topic of this channel, and those made later (#scheduleDiscovery). */
  async #listenEverywhere(): Promise<void> {
    const first = this.#wild === 0;
    this.#wild++;
    if (first) this.#wildSince = Date.now();
    try {
      // The first one starts every Kafka topic there is at its end; a later one finds those made since the first's subscribe from then.
      await this.#discover(this.#generation, first ? undefined : this.#wildSince);
    } catch (error) {
      if (--this.#wild === 0) this.#unwild();
      if (this.#state !== 'connected') throw new EventwireError('connection_closed', 'the connection to Kafka was lost', { cause: error });
      throw new EventwireError('unavailable', 'could not list the Kafka topics', { cause: error });
    }
    this.#scheduleDiscovery();
  }

  /**
   * Reads every Kafka topic of this channel's (its name decodes to a first
   * segment; Kafka's internal `__…` topics left out) that has no reader yet,
   * from `since` (undefined: from its end); one at a time per channel.
   */
  #discover(generation: number, since: number | undefined): Promise<void> {
    const run = async (): Promise<void> => {
      const cluster = this.#cluster;
      if (!cluster || generation !== this.#generation || this.#wild === 0) return;
      const { topicMetadata } = await cluster.metadata();
      const starting: Promise<void>[] = [];
      for (const { topic: kafkaTopic } of topicMetadata) {
        // Kafka's internal topics, and those no first segment of this channel maps to (another prefix, another app's names).
        if (kafkaTopic.startsWith('__') || firstSegmentOf(kafkaTopic, this.#prefix) === undefined) continue;
        const existing = this.#readers.get(kafkaTopic);
        if (existing) {
          existing.wild = true;
          starting.push(existing.ready);
          continue;
        }
        const reader = newReader(kafkaTopic, 0);
        reader.wild = true;
        this.#readers.set(kafkaTopic, reader);
        reader.ready = this.#startReading(reader, generation, since);
        starting.push(
          reader.ready.catch((error: unknown) => {
            if (this.#readers.get(kafkaTopic) === reader) this.#readers.delete(kafkaTopic);
            throw error;
          }),
        );
      }
      await Promise.all(starting);
    };
    const discovering = (this.#discovering ?? Promise.resolve()).then(run, run);
    this.#discovering = discovering.catch(() => undefined);
    return discovering;
  }

  /** The next look for Kafka topics made since, while a wildcard pattern is listened to (one timer). */
  #scheduleDiscovery(): void {
    if (this.#discoveryTimer !== undefined || this.#wild === 0 || this.#state !== 'connected') return;
    this.#discoveryTimer = setTimeout(() => {
      this.#discoveryTimer = undefined;
      if (this.#wild === 0 || this.#state !== 'connected') return;
      void this.#discover(this.#generation, this.#wildSince).then(
        () => this.#scheduleDiscovery(),
        async (error: unknown) => {
          // Gone: the reconnect looks again; else reported, and looked for again next time.
          if (await this.#probe(error)) return;
          this.#events?.error(new EventwireError('unavailable', 'could not list the Kafka topics', { cause: error }));
          this.#scheduleDiscovery();
        },
      );
    }, this.#options.topicRefreshMs ?? kafkaTransportDefaults.topicRefreshMs);
  }

  /** The last wildcard pattern is gone: no more looking, and readers only they needed stop. */
  #unwild(): Promise<void>[] {
    this.#wildSince = undefined;
    clearTimeout(this.#discoveryTimer);
    this.#discoveryTimer = undefined;
    const stopping: Promise<void>[] = [];
    for (const reader of this.#readers.values()) {
      if (!reader.wild) continue;
      reader.wild = false;
      if (reader.count === 0) stopping.push(this.#stopReader(reader));
    }
    return stopping;
  }

  /** The offset the next record of each partition will get (Kafka's high watermark). */
  #ends(kafkaTopic: string): Promise<Map<number, bigint>> {
    return this.#offsets(kafkaTopic, false);
  }

  /** Each partition's first offset (`fromBeginning`) or the next one to be written. */
  async #offsets(kafkaTopic: string, fromBeginning: boolean): Promise<Map<number, bigint>> {
    const cluster = this.#cluster;
    if (!cluster) throw new EventwireError('connection_closed', 'Not connected to Kafka');
    await cluster.addTargetTopic(kafkaTopic);
    const partitions = cluster.findTopicPartitionMetadata(kafkaTopic).map((partition) => ({ partition: partition.partitionId }));
    const [offsets] = await cluster.fetchTopicsOffset([{ topic: kafkaTopic, partitions, fromBeginning }]);
    return new Map((offsets?.partitions ?? []).map((partition) => [partition.partition, BigInt(partition.offset)]));
  }

  /** Kafka topics made (or being made) on this connection; cleared at each connect. */
  readonly #ensured = new Map<string, Promise<void>>();
  /** This connection's cluster will not create topics (see KafkaTransportOptions.ensureTopic): not asked again. */
  #cannotCreate = false;

  #ensure(kafkaTopic: string): Promise<void> {
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
    const cluster = this.#cluster;
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

  /**
   * One fetch loop per partition leader, each fetching all the partitions it
   * leads in one request, as Kafka's own consumers do: a broker answers a
   * connection's requests in order, so an idle partition's fetch (held at the
   * broker for fetchWaitMs) would hold back a busy one's on the same
   * connection; and leaders are independent, so an idle one must not hold
   * back another's (the mock answers one record batch per partition per fetch,
   * so this decides its throughput).
   */
  #startLoops(reader: Reader, generation: number): void {
    const cluster = this.#cluster;
    if (reader.stopped || !cluster || generation !== this.#generation) return;
    for (const { partitionId, leader } of cluster.findTopicPartitionMetadata(reader.kafkaTopic)) {
      if (!reader.positions.has(partitionId) || reader.loops.get(leader)?.generation === generation) continue;
      const loop = this.#readLeader(reader, leader, generation, cluster).finally(() => {
        if (reader.loops.get(leader)?.loop === loop) reader.loops.delete(leader);
      });
      reader.loops.set(leader, { generation, loop });
    }
  }

  /** Every loop of the reader has ended (loops started meanwhile included). */
  async #loopsEnded(reader: Reader): Promise<void> {
    while (reader.loops.size > 0) await Promise.all([...reader.loops.values()].map((each) => each.loop));
  }

  async #readLeader(reader: Reader, leader: number, generation: number, cluster: InternalCluster): Promise<void> {
    const waitMs = this.#options.fetchWaitMs ?? kafkaTransportDefaults.fetchWaitMs;
    const current = (): boolean => !reader.stopped && generation === this.#generation;
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
          await this.#realign(reader).catch(() => undefined);
        } else if (isLeaderChange(error)) {
          // A leader move, as a Kafka consumer meets it: silent; the new leader is asked after the refresh.
          if (failures > 1) await this.#sleep(this.#backoff(failures - 1));
        } else {
          // Not reachable: the whole cluster (then the reconnect resumes every reader), or only this broker.
          if (await this.#probe(error)) return;
          if (failures === 1) this.#events?.error(new EventwireError('unavailable', `reading Kafka topic ${reader.kafkaTopic} from broker ${leader} failed`, { cause: error }));
          await this.#sleep(this.#backoff(failures));
        }
        if (!current()) return;
        await cluster.refreshMetadata().catch(() => undefined);
        if (this.#replaced(cluster)) return this.#lost(new EventwireError('connection_closed', 'another Kafka cluster answers at these addresses'));
        this.#startLoops(reader, generation);
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
        const decoded = decodeRecord(message, { kafkaTopic: reader.kafkaTopic, partition, kafkaTopicOf: (topic) => this.#nameOf(topic) });
        if (decoded.kind === 'event') {
          let recent = reader.recent.get(partition);
          if (!recent) reader.recent.set(partition, (recent = new RecentIds(RECENT_IDS)));
          // A record a retried produce wrote twice.
          if (typeof decoded.event.id === 'string' && recent.repeat(decoded.event.id)) continue;
          const event = this.history.stamp(decoded.event, decoded.topic, reader.kafkaTopic, partition, message.offset);
          // Through both bus subscriptions that read this Kafka topic: the channel keeps the one of the pattern owning the topic.
          for (const via of [reader.kafkaTopic, EVERY_KAFKA_TOPIC]) this.#events?.message(event, via, decoded.topic);
        }
        // Reported once, unless it names a topic nobody here subscribed to; the position has moved past it either way.
        else if (decoded.kind === 'invalid' && (decoded.topic === undefined || this.#events?.wants(decoded.topic))) {
          this.invalidRecords++;
          this.#events?.error(decoded.error);
        }
      }
    }
  }

  async unlisten(pattern: string): Promise<void> {
    if (!hasLiteralFirstSegment(pattern)) {
      if (this.#wild === 0 || --this.#wild > 0) return;
      await Promise.all(this.#unwild());
      return;
    }
    const reader = this.#readers.get(this.#nameOf(pattern));
    if (!reader || --reader.count > 0 || reader.wild) return;
    await this.#stopReader(reader);
  }

  /** Hands on what the log held when called, then stops the reader unless a pattern wants it again meanwhile. */
  async #stopReader(reader: Reader): Promise<void> {
    // Events already in the log when the unsubscribe was asked for are on their way: hand them on first.
    await this.#readToEnd(reader).catch((error: unknown) => this.#events?.error(toEventwireError(error)));
    // Subscribed again meanwhile: the reader stays.
    if (reader.count > 0 || reader.wild || this.#readers.get(reader.kafkaTopic) !== reader) return;
    this.#forget(reader);
    await this.#loopsEnded(reader);
  }

  /** Stops a reader: its loops end at their next turn and its waiters are let go. */
  #forget(reader: Reader): void {
    if (this.#readers.get(reader.kafkaTopic) === reader) this.#readers.delete(reader.kafkaTopic);
    reader.stopped = true;
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
    if (reader.stopped || this.#state !== 'connected') return;
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
    this.#state = 'closed';
    this.#generation++;
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#discoveryTimer);
    this.#wake();
    const readers = [...this.#readers.values()];
    for (const reader of readers) this.#forget(reader);
    await Promise.all(readers.map((reader) => this.#loopsEnded(reader)));
    for (const waiting of this.#queue.splice(0)) waiting.reject(new EventwireError('connection_closed', 'the Kafka transport closed before this was sent'));
    await Promise.allSettled([this.#producer?.disconnect(), this.#cluster?.disconnect(), this.history.close()]);
  }
}

function newReader(kafkaTopic: string, count: number): Reader {
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
