// The options of kafka:// and what every Kafka bus (the plain one,
// kafka-bus.ts, and the group one, kafka-group-bus.ts) needs of them: the
// defaults, the eventwire topic → Kafka topic mapping, and the kafkajs client
// each connection attempt makes. Separate so both buses and the transport
// import it one way; it imports none of them.
import { kafkaTopicName } from './kafka-topic-name.js';
import type { PubSubTransportOptions } from './pubsub-transport.js';

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

/** What kafka:// keeps history for. */
export interface KafkaHistoryOptions {
  /**
   * Patterns whose events carry offsets and can be read back (`since`,
   * `'earliest'`, `{ last: n }`); a subscription outside them gets a
   * `no_history` gap. Kafka keeps every topic it is given, so by default
   * every pattern has history (within the limits above: one partition, a
   * literal first segment).
   * @default ['#']
   */
  readonly history?: readonly string[];
}

/** The defaults of {@link KafkaHistoryOptions}. */
export const kafkaHistoryDefaults = {
  history: ['#'],
} as const;

/** The defaults of {@link KafkaTransportOptions}. */
export const kafkaTransportDefaults = {
  fetchWaitMs: 100,
  partitions: 1,
  topicRefreshMs: 5000,
  prefix: '',
  requestTimeoutMs: 10_000,
} as const;

/** The consumer-group options of KafkaTransportOptions. */
export interface KafkaGroupOptions {
  /**
   * Read through this Kafka consumer group: every channel with the same
   * `group` (the instances of one service) shares the records of the Kafka
   * topics they subscribe to — each record handled by ONE of them — while
   * channels without it (or in another group) still get every record.
   * The rules:
   * - Members subscribe to the same patterns. Kafka assigns partitions, not
   *   patterns: a record on a Kafka topic this member reads that matches none
   *   of its own patterns is committed and dropped (the member it would have
   *   matched may never see it).
   * - Patterns need a literal first segment (`orders.#`, not `#` or
   *   `*.created`): refused `invalid_pattern`, since a Kafka group's
   *   subscription is a fixed topic list (kafkajs fixes a regex one at
   *   subscribe) and picking up a later topic would be a rebalance of every
   *   member at each discovery.
   * - A subscribe or unsubscribe that changes the Kafka topics read restarts
   *   this member's consumer: a rebalance of the whole group. `subscribe`
   *   resolves once the group has been joined with the new topic list (the
   *   first join of a group waits ~3 s on Kafka's initial rebalance delay).
   * - At least once, to the channel: a record's offset is committed after it
   *   was handed to the channel (not after the handler finished; the handler
   *   is the application's). A member that dies before committing — or whose
   *   partitions move in a rebalance meanwhile — leaves the record to the
   *   member that gets its partition, which handles it again: the envelope's
   *   `id` is the same both times, for a handler that must dedupe.
   * - No `since`: the group's committed offsets are its position (a new
   *   group starts as `groupStart` says), and history is not one member's to
   *   replay (it would hand it records Kafka assigned to others) — a `since`
   *   on a group channel gets a `no_history` gap.
   * - Kafka away: `reconnecting`, then a new consumer joins the group again
   *   and reading resumes at the committed offsets (nothing is missed while
   *   Kafka kept it; no gap).
   * Names are Kafka's: any non-empty string (`invalid_config` otherwise).
   * @default undefined (no group: every subscription reads every record)
   */
  readonly group?: string;
  /**
   * Where a group with no committed offset for a partition starts
   * (Kafka's `auto.offset.reset`): `'latest'`, the log end when the member
   * that first got the partition joined — committed then, so every record
   * produced after the members' subscribes resolved is the group's, also
   * when a rebalance moves the partition later (kafkajs alone would look the
   * end up again at each such move, and skip what came meanwhile);
   * `'earliest'`, everything the log still holds.
   * @default 'latest'
   */
  readonly groupStart?: 'latest' | 'earliest';
  /**
   * How long Kafka waits for a member's heartbeat before it gives the
   * member's partitions to the others (kafkajs's `sessionTimeout`).
   * @default 30_000
   */
  readonly sessionTimeoutMs?: number;
  /** How often a member tells Kafka it is alive (kafkajs's `heartbeatInterval`); well under sessionTimeoutMs. @default 3000 */
  readonly heartbeatIntervalMs?: number;
}

/** The defaults of {@link KafkaGroupOptions}. */
export const kafkaGroupDefaults = {
  groupStart: 'latest',
  sessionTimeoutMs: 30_000,
  heartbeatIntervalMs: 3000,
} as const;

/** An eventwire topic's (or pattern's) first segment. */
export function firstSegment(topic: string): string {
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

/** The first segment names one Kafka topic (`orders.*`, `orders.#`, `orders.created`), not every one (`*.created`, `#`). */
export function hasLiteralFirstSegment(pattern: string): boolean {
  const first = firstSegment(pattern);
  return first !== '*' && first !== '#';
}
