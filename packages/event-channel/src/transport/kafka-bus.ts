// kafka://'s plain bus: the connection to Kafka and its reconnect, and which
// Kafka topics are read, without a consumer group (every channel gets every
// record). What it is made of, each in its own file: the produce queue
// (kafka-produce-queue.ts), the readers' positions and fetch loops
// (kafka-reader.ts), topic creation (kafka-topic-creation.ts), history
// (kafka-history.ts); what errors mean (kafka-errors.ts). A group bus
// (kafka-group-bus.ts) composes this one to produce and keep the connection.
import type { Kafka, Producer } from 'kafkajs';
import { fullJitterBackoff } from '../backoff.js';
import { answersWithin } from '../deadline.js';
import { EventwireError, toEventwireError } from '../errors.js';
import type { EventEnvelope } from '../envelope.js';
import { KafkaHistory } from './kafka-history.js';
import { firstSegment, hasLiteralFirstSegment, kafkaTopicOf, kafkaTransportDefaults, type KafkaTransportOptions } from './kafka-options.js';
import { KafkaProduceQueue } from './kafka-produce-queue.js';
import { EVERY_KAFKA_TOPIC, KafkaReading, newReader, type Reader } from './kafka-reader.js';
import { KafkaTopicCreation } from './kafka-topic-creation.js';
import { checkKafkaPrefix, firstSegmentOf, kafkaTopicTooLong } from './kafka-topic-name.js';
import { clusterIdOf, internalCluster, kafkaClient, loadKafkajs, type InternalCluster, type KafkaJsModule } from './kafkajs-cluster.js';
import type { PubSubBus, PubSubBusEvents } from './pubsub-transport.js';

type BusState = 'connecting' | 'connected' | 'waiting' | 'closed';

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
  /** Emits, one produce in flight (kafka-produce-queue.ts). */
  readonly #produces: KafkaProduceQueue;
  /** The readers' positions and fetch loops (kafka-reader.ts). */
  readonly #reading: KafkaReading;
  /** Kafka topics made on this connection (kafka-topic-creation.ts). */
  readonly #topics: KafkaTopicCreation;
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
      ensure: (kafkaTopic) => this.#topics.ensure(kafkaTopic),
      openCluster: () => this.#kafka && internalCluster(this.#kafka, { allowAutoTopicCreation: true }),
      livePosition: (kafkaTopic, partition) => this.#readers.get(kafkaTopic)?.positions.get(partition),
    });
    this.#topics = new KafkaTopicCreation(options, () => this.#cluster);
    this.#produces = new KafkaProduceQueue({
      connected: () => this.#state === 'connected',
      producer: () => this.#producer,
      nameOf: (topic) => this.#nameOf(topic),
      ensure: (kafkaTopic) => this.#topics.ensure(kafkaTopic),
      probe: (cause) => this.#probe(cause),
      sleep: (ms) => this.#sleep(ms),
      backoff: (attempt) => this.#backoff(attempt),
    });
    this.#reading = new KafkaReading(options, {
      cluster: () => this.#cluster,
      generation: () => this.#generation,
      events: () => this.#events,
      nameOf: (topic) => this.#nameOf(topic),
      stamp: (event, topic, kafkaTopic, partition, kafkaOffset) => this.history.stamp(event, topic, kafkaTopic, partition, kafkaOffset),
      probe: (cause) => this.#probe(cause),
      replaced: (cluster) => this.#replaced(cluster),
      lost: (cause) => this.#lost(cause),
      sleep: (ms) => this.#sleep(ms),
      backoff: (attempt) => this.#backoff(attempt),
    });
  }

  /** See KafkaTransport.invalidRecords. */
  get invalidRecords(): number {
    return this.#reading.invalidRecords;
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
    this.#topics.reset();
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
    await this.#reading.realign(reader);
    this.#reading.startLoops(reader, generation);
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
    this.#produces.refuseAll('the connection to Kafka was lost before this was sent');
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

  /** For a group bus: the Kafka topic made as `ensureTopic` says, once (kafka-topic-creation.ts). */
  ensure(kafkaTopic: string): Promise<void> {
    return this.#topics.ensure(kafkaTopic);
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
    return this.#produces.add(topic, payload, envelope);
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
    if (reader.count > 0) await this.#topics.ensure(reader.kafkaTopic);
    const positions = since === undefined ? await this.#reading.ends(reader.kafkaTopic) : await this.#reading.positionsSince(reader, since);
    for (const [partition, offset] of positions) reader.positions.set(partition, offset);
    this.#reading.startLoops(reader, generation);
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
    await this.#reading.loopsEnded(reader);
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
        const through = await this.#reading.ends(reader.kafkaTopic);
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
    await Promise.all(readers.map((reader) => this.#reading.loopsEnded(reader)));
    this.#produces.refuseAll('the Kafka transport closed before this was sent');
    await Promise.allSettled([this.#producer?.disconnect(), this.#cluster?.disconnect(), this.history.close()]);
  }
}
