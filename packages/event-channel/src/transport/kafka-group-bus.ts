// kafka:// with `group`: the channel's subscriptions read through a Kafka
// consumer group, so several instances of one service share the work — each
// record handled by one member of the group (queue semantics), beside the
// broadcast of plain subscriptions (kafka-bus.ts's KafkaBus, which
// every other channel on the same topics still uses).
//
// Reading is kafkajs's public group consumer (`groupId`): Kafka assigns each
// partition to one member and keeps the group's committed offsets. Producing,
// the connection's state and the reconnect are the plain bus's, composed
// here with no readers of its own: one produce path for both kinds of
// channel. The consumer is made afresh on every change of the Kafka topics
// read (kafkajs subscribes before `run` and cannot drop a topic) and on
// every reconnect; each change is a rebalance of the whole group (kafkajs
// speaks the classic eager protocol: the first join waits Kafka's
// group.initial.rebalance.delay.ms, ~3 s by default; a member that dies
// without leaving holds its partitions for sessionTimeoutMs).
import type { Consumer, KafkaMessage } from 'kafkajs';
import { answersWithin } from '../deadline.js';
import { EventwireError } from '../errors.js';
import type { EventEnvelope } from '../envelope.js';
import { decodeRecord } from './kafka-record.js';
import { kafkaClient, loadKafkajs, type KafkaJsModule } from './kafkajs-cluster.js';
import { KafkaBus } from './kafka-bus.js';
import { hasLiteralFirstSegment, kafkaGroupDefaults, kafkaTopicOf, kafkaTransportDefaults, type KafkaTransportOptions } from './kafka-options.js';
import { kafkaTopicTooLong } from './kafka-topic-name.js';
import type { PubSubBus, PubSubBusEvents } from './pubsub-transport.js';
import { RecentIds } from './recent-ids.js';

/** Event ids remembered per partition, to drop a record a retried produce wrote twice (as the plain bus does). */
const RECENT_IDS = 1024;

/** The bus of a channel with `group`: the plain bus produces and keeps the connection, a group consumer reads. */
export class KafkaGroupBus implements PubSubBus {
  readonly kind = 'kafka';
  readonly #options: KafkaTransportOptions;
  readonly #group: string;
  readonly #plain: KafkaBus;
  #events: PubSubBusEvents | undefined;
  #module: KafkaJsModule | undefined;
  /** The patterns listened to (the transport calls listen/unlisten once per pattern). */
  #patterns = new Set<string>();
  #consumer: Consumer | undefined;
  /** The Kafka topics #consumer was subscribed to. */
  #reading = new Set<string>();
  /** Consumer changes, one at a time. */
  #changing: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #recent = new Map<string, RecentIds>();
  /** See KafkaTransport.invalidRecords. */
  invalidRecords = 0;

  constructor(options: KafkaTransportOptions) {
    const { group, groupStart, sessionTimeoutMs, heartbeatIntervalMs } = options;
    if (typeof group !== 'string' || group === '') throw new EventwireError('invalid_config', 'kafka group must be a non-empty string');
    if (groupStart !== undefined && groupStart !== 'latest' && groupStart !== 'earliest') throw new EventwireError('invalid_config', `kafka groupStart must be 'latest' or 'earliest', not ${String(groupStart)}`);
    for (const [name, value] of [['sessionTimeoutMs', sessionTimeoutMs], ['heartbeatIntervalMs', heartbeatIntervalMs]] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value > 0)) throw new EventwireError('invalid_config', `kafka ${name} must be a positive integer`);
    }
    this.#options = options;
    this.#group = group;
    this.#plain = new KafkaBus(options);
  }

  open(events: PubSubBusEvents): void {
    this.#events = events;
    void loadKafkajs().then(
      (module) => {
        this.#module = module;
        this.#plain.open({
          ...events,
          // The plain bus reads nothing here: the patterns are the group consumer's.
          patterns: () => {
            this.#patterns = new Set(events.patterns());
            return [];
          },
          // Connected: the group is joined with every pattern before the channel is told.
          ready: () => {
            void this.#change().then(
              () => {
                if (!this.#closed) events.ready(false);
              },
              (error: unknown) => this.#plain.lost(error),
            );
          },
          reconnecting: (attempt, delayMs, error) => {
            void this.#drop();
            events.reconnecting(attempt, delayMs, error);
          },
        });
      },
      (error: EventwireError) => events.failed(error),
    );
  }

  keysFor(pattern: string): readonly string[] {
    if (!hasLiteralFirstSegment(pattern))
      throw new EventwireError('invalid_pattern', `a kafka group channel's pattern needs a literal first segment (a group reads a fixed list of Kafka topics): ${pattern}`);
    const name = this.#nameOf(pattern);
    if (kafkaTopicTooLong(name)) throw new EventwireError('invalid_topic', `the Kafka topic of ${JSON.stringify(pattern)} would be ${name.length} characters (Kafka takes 249)`);
    return [name];
  }

  publish(topic: string, payload: string, envelope?: EventEnvelope): Promise<void> {
    return this.#plain.publish(topic, payload, envelope);
  }

  async listen(pattern: string): Promise<void> {
    this.#patterns.add(pattern);
    try {
      await this.#change();
    } catch (error) {
      this.#patterns.delete(pattern);
      throw error instanceof EventwireError && error.code === 'connection_closed' ? error : new EventwireError('unavailable', `could not join Kafka consumer group ${this.#group}`, { cause: error });
    }
  }

  async unlisten(pattern: string): Promise<void> {
    this.#patterns.delete(pattern);
    // Its Kafka topic no longer read: the consumer without it has replaced the one that read it, so nothing more arrives.
    await this.#change().catch((error: unknown) => this.#events?.error(new EventwireError('unavailable', `could not rejoin Kafka consumer group ${this.#group}`, { cause: error })));
  }

  /**
   * Nothing to wait for: a member hands on each record as kafkajs fetches it,
   * and what is in the log but not yet fetched is not this member's — it stays
   * uncommitted and goes to whoever holds its partition next.
   */
  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.#closed = true;
    // Leaving the group (not dying in it) hands this member's partitions on at once, with its offsets committed.
    await this.#serial(() => this.#drop());
    await this.#plain.close();
  }

  #nameOf(pattern: string): string {
    return kafkaTopicOf(pattern, this.#options.prefix ?? kafkaTransportDefaults.prefix);
  }

  /** Runs `step` after every change before it. */
  #serial(step: () => Promise<void>): Promise<void> {
    const next = this.#changing.then(step, step);
    this.#changing = next.catch(() => undefined);
    return next;
  }

  /** A consumer reading exactly the Kafka topics of the patterns, joined (or none, without patterns). */
  #change(): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed) throw new EventwireError('connection_closed', 'the Kafka transport is closed');
      const topics = new Set([...this.#patterns].map((pattern) => this.#nameOf(pattern)));
      if (this.#consumer && topics.size === this.#reading.size && [...topics].every((topic) => this.#reading.has(topic))) return;
      await this.#drop();
      if (topics.size > 0) await this.#join(topics);
    });
  }

  async #join(topics: Set<string>): Promise<void> {
    const options = this.#options;
    for (const topic of topics) await this.#plain.ensure(topic);
    const kafka = kafkaClient(this.#module!, options);
    const consumer = kafka.consumer({
      groupId: this.#group,
      sessionTimeout: options.sessionTimeoutMs ?? kafkaGroupDefaults.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs ?? kafkaGroupDefaults.heartbeatIntervalMs,
      maxWaitTimeInMs: options.fetchWaitMs ?? kafkaTransportDefaults.fetchWaitMs,
      allowAutoTopicCreation: true,
      // kafkajs restarts a crashed consumer on its own timer, even one being
      // disconnected (its join failing under the disconnect): only the
      // current one may, or a dropped one reconnects forever.
      retry: { retries: 5, restartOnFailure: async () => consumer === this.#consumer && !this.#closed },
    });
    this.#consumer = consumer;
    this.#reading = topics;
    // Joined, and (groupStart latest) the start of partitions new to the group fixed: what subscribe waits for.
    const joined = new Promise<void>((resolve, reject) => {
      let first = true;
      consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
        const fixing = this.#fixStart(kafka, consumer, payload.memberAssignment);
        if (first) fixing.then(resolve, reject);
        else fixing.catch((error: unknown) => this.#events?.error(new EventwireError('unavailable', `could not fix where Kafka group ${this.#group} starts`, { cause: error })));
        first = false;
      });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => void this.#crashed(consumer, payload.error, payload.restart));
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [...topics], fromBeginning: (options.groupStart ?? kafkaGroupDefaults.groupStart) === 'earliest' });
      await consumer.run({
        // Committed after each record was handed to the channel (kafkajs resolves the offset when eachMessage returns).
        autoCommit: true,
        autoCommitThreshold: 1,
        autoCommitInterval: null,
        eachMessage: async ({ topic, partition, message }) => this.#handOn(topic, partition, message),
      });
      // A join waits for every member to rejoin: one that died without leaving, up to its session timeout.
      const boundMs = (options.sessionTimeoutMs ?? kafkaGroupDefaults.sessionTimeoutMs) + (options.requestTimeoutMs ?? kafkaTransportDefaults.requestTimeoutMs);
      await answersWithin(joined, boundMs, `Kafka consumer group ${this.#group} (joining)`);
    } catch (error) {
      if (this.#consumer === consumer) void this.#drop();
      throw error;
    }
  }

  /**
   * `groupStart: 'latest'` made exact. Kafka's own reset resolves "latest"
   * at the first fetch of the member a partition is assigned to, and keeps
   * it nowhere until a record is committed: records produced between the
   * join and that fetch are skipped, and again each time a rebalance moves a
   * partition nothing was read from yet. So at every join this member pauses
   * what it was assigned (synchronously, in kafkajs's join event: before its
   * first fetch), commits the log end for partitions the group has no offset
   * for — the group's position from then on, whichever member gets the
   * partition later — seeks there (overriding a reset kafkajs may have run
   * meanwhile), and resumes. Assignments are disjoint, so no two members
   * commit one partition in a generation.
   */
  async #fixStart(kafka: ReturnType<typeof kafkaClient>, consumer: Consumer, assigned: Readonly<Record<string, readonly number[]>>): Promise<void> {
    if ((this.#options.groupStart ?? kafkaGroupDefaults.groupStart) !== 'latest') return;
    const topics = Object.keys(assigned).filter((topic) => (assigned[topic] ?? []).length > 0);
    if (topics.length === 0) return;
    const all = topics.map((topic) => ({ topic }));
    consumer.pause(all);
    const admin = kafka.admin();
    try {
      await admin.connect();
      const committed = await admin.fetchOffsets({ groupId: this.#group, topics });
      const starts: { topic: string; partition: number; offset: string }[] = [];
      for (const { topic, partitions } of committed) {
        const unset = partitions.filter((each) => (assigned[topic] ?? []).includes(each.partition) && BigInt(each.offset) < 0n).map((each) => each.partition);
        if (unset.length === 0) continue;
        const ends = await admin.fetchTopicOffsets(topic);
        for (const partition of unset) starts.push({ topic, partition, offset: ends.find((each) => each.partition === partition)?.high ?? '0' });
      }
      if (starts.length > 0) await consumer.commitOffsets(starts);
      for (const start of starts) consumer.seek(start);
    } finally {
      await admin.disconnect().catch(() => undefined);
      if (consumer === this.#consumer) consumer.resume(all);
    }
  }

  /** Stops the consumer: it finishes the record in hand, commits, and leaves the group. */
  async #drop(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    this.#reading = new Set();
    await consumer?.disconnect().catch(() => undefined);
  }

  /**
   * kafkajs gave up on its consumer. No broker answers: a lost connection
   * (the plain bus reconnects; then a new consumer joins). Else it restarts
   * itself when it says so, or a new one joins here.
   */
  async #crashed(consumer: Consumer, error: Error, restart: boolean): Promise<void> {
    if (consumer !== this.#consumer || this.#closed) return;
    if (await this.#plain.probe(error)) return;
    this.#events?.error(new EventwireError('unavailable', `the consumer of Kafka group ${this.#group} failed`, { cause: error }));
    if (restart || consumer !== this.#consumer) return;
    await this.#serial(() => this.#drop());
    await this.#change().catch((again: unknown) => this.#plain.lost(again));
  }

  /** One record of this member's share, to the channel (it is committed when this returns). */
  #handOn(kafkaTopic: string, partition: number, message: KafkaMessage): void {
    // Closing while kafkajs works through a fetched batch: the channel takes
    // nothing more, and a record returned from here would be committed — lost
    // to the group. Thrown, it stays uncommitted for the partition's next owner.
    if (this.#closed) throw new EventwireError('connection_closed', 'the channel closed before this record was handed on (left to the group)');
    const decoded = decodeRecord(message, { kafkaTopic, partition, kafkaTopicOf: (topic) => this.#nameOf(topic) });
    if (decoded.kind === 'event') {
      const place = `${kafkaTopic}/${partition}`;
      let recent = this.#recent.get(place);
      if (!recent) this.#recent.set(place, (recent = new RecentIds(RECENT_IDS)));
      // A record a retried produce wrote twice.
      if (typeof decoded.event.id === 'string' && recent.repeat(decoded.event.id)) return;
      // A record matching none of this member's patterns is dropped by the transport (and committed: see `group`).
      this.#events?.message(decoded.event, kafkaTopic, decoded.topic);
    } else if (decoded.kind === 'invalid' && (decoded.topic === undefined || this.#events?.wants(decoded.topic))) {
      this.invalidRecords++;
      this.#events?.error(decoded.error);
    }
  }
}
