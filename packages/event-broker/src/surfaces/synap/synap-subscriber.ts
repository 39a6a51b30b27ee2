import { EventwireError, assertPattern, type EventEnvelope, type TopicLimits } from '@eventwire/event-channel';
import type { Connection } from '../../connection.js';
import { PreparedTextFrame } from '../../prepared-frame.js';
import type { RoutedEvent } from '../../router.js';
import type { SessionOps } from '../session-ops.js';
import type { Session } from '../surface.js';

/**
 * The Synap-compatible pub/sub surface: existing Synap pub/sub clients (a raw
 * WebSocket on `/pubsub/ws?topics=…`; publishers over HTTP, in
 * `synap-http.ts`) work unchanged against the eventwire broker. Everything
 * here only translates; publishing and routing go through the same core as
 * the native protocol, so events cross between surfaces and hooks see both.
 */

/** The `message` frame Synap subscribers receive. */
export function encodeSynapMessage(envelope: EventEnvelope): string {
  return JSON.stringify({
    type: 'message',
    message_id: envelope.id,
    topic: envelope.topic,
    payload: envelope.data,
    // Synap clients do `JSON.parse(msg.message)`: the payload as JSON text. A
    // payload that is a string already (Synap's SDKs publish `json.dumps(…)`)
    // is that text, passed through exactly.
    message: typeof envelope.data === 'string' ? envelope.data : JSON.stringify(envelope.data ?? null),
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
export class SynapSubscriber implements Session {
  readonly id: string;
  readonly #connection: Connection;
  readonly #ops: SessionOps;
  readonly #gone: (subscriber: SynapSubscriber) => void;

  constructor(connection: Connection, ops: SessionOps, gone: (subscriber: SynapSubscriber) => void) {
    this.id = connection.id;
    this.#connection = connection;
    this.#ops = ops;
    this.#gone = gone;
  }

  /** The connection is gone. */
  closed(): void {
    this.#ops.leaveAll(this);
    this.#gone(this);
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
  receive(data: Buffer): void {
    let frame: unknown;
    try {
      frame = JSON.parse(data.toString('utf8'));
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
        message: 'This endpoint only delivers; publish with POST /pubsub/{topic}/publish or the command API (POST /api/v1/command)',
      }),
    );
  }
}

