// What a kafkajs error means for kafka://: a leader move (ask the new leader,
// never an outage), an offset retention passed, Kafka's refusal (reached, so
// nothing was written), CreateTopics' answers, and what a failed produce
// tells its caller. kafkajs wraps the broker's answer in `cause` and
// `originalError` links, so each question walks the chain. Separate because
// the plain bus, its produce queue and its readers all ask these questions.
import { EventwireError } from '../errors.js';

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

export function isLeaderChange(error: unknown): boolean {
  return causes(error).some((link) => LEADER_CHANGES.has(String(link['type'])) || STALE_METADATA.has(String(link['name'])));
}

export function isOffsetOutOfRange(error: unknown): boolean {
  return causes(error).some((link) => link['type'] === 'OFFSET_OUT_OF_RANGE');
}

/** A broker's answer (a protocol error): Kafka was reached and refused, so nothing was written. */
export function isRefusal(error: unknown): boolean {
  return causes(error).some((link) => link['name'] === 'KafkaJSProtocolError' || typeof link['type'] === 'string');
}

/** Kafka's answers to CreateTopics, per topic, in kafkajs's KafkaJSAggregateError (or one error). */
function createTopicsErrors(error: unknown): Record<string, unknown>[] {
  const errors = (error as { errors?: unknown } | null)?.errors;
  return Array.isArray(errors) ? errors.flatMap(causes) : causes(error);
}

export function alreadyExists(error: unknown): boolean {
  const errors = createTopicsErrors(error);
  return errors.length > 0 && errors.some((link) => link['type'] === 'TOPIC_ALREADY_EXISTS') && errors.every((link) => link['type'] === 'TOPIC_ALREADY_EXISTS' || link['type'] === undefined);
}

/** Answers meaning this cluster will not create topics for this client (see KafkaTransportOptions.ensureTopic). */
const CANNOT_CREATE = new Set(['UNSUPPORTED_VERSION', 'TOPIC_AUTHORIZATION_FAILED', 'CLUSTER_AUTHORIZATION_FAILED', 'POLICY_VIOLATION', 'INVALID_REPLICATION_FACTOR']);

export function cannotCreateTopics(error: unknown): boolean {
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
export function produceFailure(error: unknown): EventwireError {
  const chain = causes(error);
  if (chain.some((link) => link['type'] === 'MESSAGE_TOO_LARGE')) return new EventwireError('payload_too_large', 'Kafka refused the record as too large', { cause: error });
  if (isRefusal(error)) return new EventwireError('unavailable', 'Kafka refused the produce', { cause: error });
  if (chain.some((link) => link['code'] === 'ECONNREFUSED' || STALE_METADATA.has(String(link['name']))))
    return new EventwireError('connection_closed', 'Kafka could not be reached for the produce (not written)', { cause: error });
  return new EventwireError('timeout', 'Kafka did not answer the produce (it may have been written)', { cause: error });
}
