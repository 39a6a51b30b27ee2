// The Kafka topic an eventwire first segment goes to, and back (issue #34).
// Kafka takes topic names of `[A-Za-z0-9._-]`, at most 249 characters; a
// first segment may hold any character but space and `>` (PROTOCOL.md §1:
// `$sio-session`, which the broker uses, or `café`). A first segment never
// holds `.` (it separates segments), so `.` is the escape: every UTF-8 byte
// of a character outside `[A-Za-z0-9_-]` is written `.HH` (two upper-case hex
// digits). Common names are unchanged, two segments can never map to one
// name (each name decodes one way, and only the canonical escape is taken
// back), and a prefix shared by the brokers of one cluster goes in front.
// Kafka's own caveat applies to the result: it refuses to create a topic
// whose name equals an existing one once `.` and `_` are taken as the same
// (their metric names would collide), so `a_24` and `a.24` (`a$`) cannot both
// exist on one cluster.
import { EventwireError } from '../errors.js';

/** The longest Kafka topic name. */
export const KAFKA_TOPIC_MAX_LENGTH = 249;

const PLAIN = /^[A-Za-z0-9_-]$/;
const KAFKA_NAME = /^[A-Za-z0-9._-]*$/;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** `segment` as Kafka allows it, after `prefix` (not checked for length: see kafkaTopicTooLong). */
export function kafkaTopicName(segment: string, prefix = ''): string {
  let name = prefix;
  for (const character of segment) {
    if (PLAIN.test(character)) name += character;
    else for (const byte of utf8.encode(character)) name += `.${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return name;
}

/** The first segment whose Kafka topic is `name`; undefined when no segment maps to it (another's topic, `__consumer_offsets`, a non-canonical escape). */
export function firstSegmentOf(name: string, prefix = ''): string | undefined {
  if (!name.startsWith(prefix) || name.length === prefix.length) return undefined;
  const bytes: number[] = [];
  const rest = name.slice(prefix.length);
  for (let at = 0; at < rest.length; at++) {
    const character = rest[at]!;
    if (character !== '.') {
      if (!PLAIN.test(character)) return undefined;
      bytes.push(character.charCodeAt(0));
      continue;
    }
    const hex = rest.slice(at + 1, at + 3);
    if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
    bytes.push(Number.parseInt(hex, 16));
    at += 2;
  }
  let segment: string;
  try {
    segment = strictUtf8.decode(new Uint8Array(bytes));
  } catch {
    return undefined;
  }
  // Only the escape kafkaTopicName writes (`.41` for `A` is not one), and only what a first segment may hold.
  if (/[\s>.]/u.test(segment) || kafkaTopicName(segment, prefix) !== name) return undefined;
  return segment;
}

/** Whether a Kafka topic name is over Kafka's limit. */
export function kafkaTopicTooLong(name: string): boolean {
  return name.length > KAFKA_TOPIC_MAX_LENGTH;
}

/** Refuses a prefix Kafka would not take in front of every name (`invalid_config`). */
export function checkKafkaPrefix(prefix: string): void {
  if (!KAFKA_NAME.test(prefix) || prefix.length >= KAFKA_TOPIC_MAX_LENGTH) {
    throw new EventwireError('invalid_config', `kafka:// prefix must be [A-Za-z0-9._-], shorter than ${KAFKA_TOPIC_MAX_LENGTH}: ${JSON.stringify(prefix)}`);
  }
  if (prefix.startsWith('__')) throw new EventwireError('invalid_config', `kafka:// prefix must not start with __ (Kafka's internal topics): ${JSON.stringify(prefix)}`);
}
