import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  EventwireError,
  assertPattern,
  assertTopic,
  type EventEnvelope,
  type TopicLimits,
} from '@eventwire/event-channel';
import type { Connection } from '../connection.js';
import { PreparedTextFrame } from '../prepared-frame.js';
import type { BrokerCore } from '../core.js';
import { readJsonBody, sendJson } from '../http.js';
import type { RoutedEvent, Subscriber } from '../router.js';

/**
 * The Synap-compatible pub/sub surface: existing Synap pub/sub clients (a raw
 * WebSocket on `/pubsub/ws?topics=…`, `POST /pubsub/{topic}/publish`) work
 * unchanged against the eventwire broker. Everything here only translates;
 * publishing and routing go through the same core as the native protocol, so
 * events cross between surfaces and hooks see both.
 */

/** The `message` frame Synap subscribers receive. */
export function encodeSynapMessage(envelope: EventEnvelope): string {
  return JSON.stringify({
    type: 'message',
    message_id: envelope.id,
    topic: envelope.topic,
    payload: envelope.data,
    // Synap clients do `JSON.parse(msg.message)`; it must be the payload as JSON text.
    message: JSON.stringify(envelope.data ?? null),
    metadata: envelope.metadata ?? {},
    // Synap timestamps are Unix seconds.
    timestamp: Math.floor(Date.parse(envelope.time) / 1000),
  });
}

/** The `message` frame, framed once for every Synap subscriber of an event. */
const prepareSynapMessage = (envelope: EventEnvelope): PreparedTextFrame =>
  new PreparedTextFrame(encodeSynapMessage(envelope));

/**
 * Reads `?topics=a.*,b.#` from an upgrade URL. Throws `invalid_pattern` (the
 * upgrade is refused with 400 and a JSON body) when none is given or one is invalid.
 */
export function parseSynapTopics(url: URL, limits: TopicLimits, maxTopics: number): string[] {
  const topics = (url.searchParams.get('topics') ?? '')
    .split(',')
    .map((topic) => topic.trim())
    .filter((topic) => topic.length > 0);
  if (topics.length === 0) {
    throw new EventwireError('invalid_pattern', 'Give at least one topic: /pubsub/ws?topics=a.b,c.*');
  }
  for (const topic of topics) assertPattern(topic, limits);
  const distinct = [...new Set(topics)];
  if (distinct.length > maxTopics) {
    throw new EventwireError('limit_exceeded', `A connection may hold at most ${maxTopics} subscriptions`);
  }
  return distinct;
}

/** A Synap-protocol WebSocket subscriber. */
export class SynapSubscriber implements Subscriber {
  readonly id: string;
  readonly #connection: Connection;

  constructor(connection: Connection) {
    this.id = connection.id;
    this.#connection = connection;
  }

  deliver(event: RoutedEvent): void {
    this.#connection.sendPrepared(event.encoded(prepareSynapMessage));
  }

  /** The first frame: who the subscriber is and what it listens to. */
  welcome(topics: readonly string[]): void {
    this.#connection.send(
      JSON.stringify({ type: 'connected', subscriber_id: this.id, topics, subscription_count: topics.length }),
    );
  }

  /** Synap subscribers only listen; anything they send gets an error frame except a ping. */
  receive(text: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      frame = undefined;
    }
    if (typeof frame === 'object' && frame !== null && (frame as { type?: unknown }).type === 'ping') {
      this.#connection.send(JSON.stringify({ type: 'pong' }));
      return;
    }
    this.#connection.send(
      JSON.stringify({
        type: 'error',
        code: 'invalid_frame',
        message: 'This endpoint only delivers; publish with POST /pubsub/{topic}/publish',
      }),
    );
  }
}

/** `POST /pubsub/{topic}/publish` with `{ "payload": … }` (or `data`, or Synap's `message` string). */
export async function handleSynapPublish(
  request: IncomingMessage,
  response: ServerResponse,
  topic: string,
  core: BrokerCore,
  limits: { maxPayloadBytes: number; topicLimits: TopicLimits },
): Promise<void> {
  assertTopic(topic, limits.topicLimits);
  const body = await readJsonBody(request, limits.maxPayloadBytes);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new EventwireError('invalid_payload', 'The body must be a JSON object with "payload"');
  }
  const record = body as Record<string, unknown>;
  const data = payloadOf(record);
  const metadata = metadataOf(record['metadata']);
  const envelope = core.createEnvelope(topic, data, {
    source: typeof record['source'] === 'string' && record['source'] !== '' ? record['source'] : 'urn:eventwire:http',
    ...(metadata && { metadata }),
  });
  const result = await core.publish(envelope, { surface: 'http' });
  sendJson(response, 200, {
    message_id: result.event.id,
    topic,
    subscribers_notified: result.notified,
  });
}

function payloadOf(record: Record<string, unknown>): unknown {
  if ('payload' in record) return record['payload'];
  if ('data' in record) return record['data'];
  const message = record['message'];
  if (typeof message === 'string') {
    // Synap's guide publishes JSON as a string in "message"; keep it structured.
    try {
      return JSON.parse(message);
    } catch {
      return message;
    }
  }
  if (message !== undefined) return message;
  throw new EventwireError('invalid_payload', 'The body needs "payload" (or "data", or "message")');
}

function metadataOf(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new EventwireError('invalid_payload', '"metadata" must be an object');
  }
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    out[key] = typeof entry === 'string' ? entry : JSON.stringify(entry);
  }
  return out;
}
