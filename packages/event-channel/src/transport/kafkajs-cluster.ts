// kafkajs's cluster layer (not its public API; the version is pinned
// exactly): Metadata, ListOffsets and Fetch without a consumer group — what
// kafka:// reads with (a group join costs ~3 s, this ~100 ms to live), and
// what the Kafka test server's own test drives. One declaration of the
// internals this code relies on, so a kafkajs upgrade breaks in one place.
import type { Kafka, KafkaMessage } from 'kafkajs';
import { EventwireError } from '../errors.js';
import { kafkaTransportDefaults, type KafkaTransportOptions } from './kafka-options.js';
import { loadOptionalPeer } from './optional-peer.js';

export interface FetchedPartition {
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: readonly KafkaMessage[];
}

export interface InternalBroker {
  /** CreateTopics (replicationFactor -1: the cluster's default, Kafka 2.4 and later). Throws KafkaJSAggregateError of per-topic protocol errors. */
  createTopics(request: { topics: { topic: string; numPartitions: number; replicationFactor: number }[]; timeout: number }): Promise<unknown>;
  fetch(request: {
    maxWaitTime: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: FetchedPartition[] }[] }>;
}

export interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findTopicPartitionMetadata(topic: string): { partitionId: number; leader: number }[];
  /** Every topic's metadata when no topics are named. */
  metadata(): Promise<{ topicMetadata: { topic: string }[] }>;
  /** Per partition, the first offset, the next to be written, or (`fromTimestamp`, ms) the first record at or after that time (-1: none). */
  fetchTopicsOffset(topics: { topic: string; partitions: { partition: number }[]; fromBeginning?: boolean; fromTimestamp?: number }[]): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  findBroker(node: { nodeId: string }): Promise<InternalBroker>;
  /** The controller of the last Metadata answer (KafkaJSBrokerNotFound when no broker has its id: librdkafka's mock). */
  findControllerBroker(): Promise<InternalBroker>;
  refreshMetadata(): Promise<void>;
  readonly brokerPool: { readonly metadata?: { readonly clusterId?: string | null } | null };
}

/** The id of the cluster that answered the last Metadata request (Metadata v2 and later); undefined before one, or from an older broker. */
export function clusterIdOf(cluster: InternalCluster): string | undefined {
  return cluster.brokerPool.metadata?.clusterId ?? undefined;
}

/** kafkajs's cluster object; `unsupported_transport` when this kafkajs keeps it elsewhere (not 2.2.4). */
export function internalCluster(kafka: Kafka, options: { readonly allowAutoTopicCreation: boolean }): InternalCluster {
  const key = Object.getOwnPropertySymbols(kafka).find((symbol) => symbol.description === 'private:Kafka:createCluster');
  if (!key) throw new EventwireError('unsupported_transport', 'kafka:// needs kafkajs 2.2.4 (its cluster layer is not where this version expects it)');
  const create = (kafka as unknown as Record<symbol, (options: { allowAutoTopicCreation: boolean }) => InternalCluster>)[key]!;
  return create.call(kafka, { allowAutoTopicCreation: options.allowAutoTopicCreation });
}

/** The kafkajs module (loaded by loadKafkajs: an optional peer). */
export type KafkaJsModule = typeof import('kafkajs');

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

/** kafkajs's per-connection request queue, as far as the fix below touches it. */
interface RequestQueuePrototype {
  scheduleCheckPendingRequests(this: { pending: unknown[]; throttledUntil: number; throttleCheckTimeoutId: unknown }): void;
}

let quieted: Promise<void> | undefined;

/**
 * kafkajs, loaded when a kafka:// transport connects, with its idle busy
 * loop stopped. kafkajs 2.2.4's request queue re-arms a timer with a
 * negative delay whenever nothing is pending (tulios/kafkajs#1556, #1704;
 * fixed upstream in unreleased PRs #1667/#1755): every open connection
 * wakes the event loop ~1,000 times a second doing nothing — measured here,
 * three brokers on Kafka burned 350–425 ms of CPU a second at rest. The fix
 * is theirs: with nothing pending and no throttle to wait out, schedule no
 * check (a request pushed later is sent at once or checked when an
 * in-flight one is answered). It patches the class once per process, so
 * other kafkajs clients in it gain it too (kafka:// pins kafkajs 2.2.4).
 */
export async function loadKafkajs(): Promise<KafkaJsModule> {
  const module = await loadOptionalPeer<KafkaJsModule>('kafkajs', 'kafka:// needs its client');
  quieted ??= quietIdleQueues().catch(() => undefined);
  await quieted;
  return module;
}

async function quietIdleQueues(): Promise<void> {
  const loaded = await loadOptionalPeer<{ default?: { prototype?: Partial<RequestQueuePrototype> } }>(
    'kafkajs/src/network/requestQueue/index.js',
    'kafka:// needs its client',
  );
  const prototype = loaded.default?.prototype;
  const schedule = prototype?.scheduleCheckPendingRequests;
  // Not the queue this was written for (another kafkajs): left as it is.
  if (!prototype || typeof schedule !== 'function') return;
  prototype.scheduleCheckPendingRequests = function (this) {
    const idle = Array.isArray(this.pending) && this.pending.length === 0 && typeof this.throttledUntil === 'number' && this.throttledUntil <= Date.now();
    if (idle && !this.throttleCheckTimeoutId) return;
    schedule.call(this);
  };
}
