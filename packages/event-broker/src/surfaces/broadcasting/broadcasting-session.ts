// The simple broadcasting WebSocket surface that FastAPI "Laravel-like
// broadcasting" projects ship a client for: `new WebSocket('ws://host/api/v1/
// broadcasting/ws?token=TOKEN')`, then `{ "event": "subscribe", "channel":
// "users" }`, and every broadcast arrives as `{ "event": "UserCreated",
// "channel": "users", "data": {…} }`. Only a translation: subscriptions go
// through the same access rules and router as every other surface.
import { EventwireError, assertPattern, toEventwireError, type EventEnvelope, type TopicLimits } from '@eventwire/event-channel';
import type { Connection } from '../../connection.js';
import type { PresenceMember } from '../../presence.js';
import { PreparedTextFrame } from '../../prepared-frame.js';
import type { RoutedEvent } from '../../router.js';
import { FrameQueue } from '../frame-queue.js';
import type { SessionOps, Subscribed } from '../session-ops.js';
import type { Session } from '../surface.js';

/**
 * The name a broadcast carries: what the server-side broadcasting API set as
 * `broadcastAs` (the envelope's `event` metadata), else the topic itself.
 */
export function broadcastName(envelope: EventEnvelope): string {
  return envelope.metadata?.['event'] ?? envelope.topic;
}

/** `{ event, channel, data }`: one broadcast as these clients read it. */
export function encodeBroadcast(envelope: EventEnvelope): string {
  return JSON.stringify({ event: broadcastName(envelope), channel: envelope.topic, data: envelope.data ?? null });
}

const prepareBroadcast = (envelope: EventEnvelope): PreparedTextFrame => new PreparedTextFrame(encodeBroadcast(envelope));


/**
 * One client of the broadcasting surface. It sends `subscribe` and
 * `unsubscribe` (each answered `subscribed` / `unsubscribed`, or an `error`
 * naming the channel and a code), and `ping` (answered `pong`); it receives
 * broadcasts. On a presence channel `subscribed` carries `members`, and
 * `member_added` / `member_removed` arrive with the member as `data`.
 * Bad input gets an `error` event; the connection stays up.
 * Frames are handled in arrival order (a channel rule may be async).
 */
export class BroadcastingSession implements Session {
  readonly id: string;
  readonly #connection: Connection;
  readonly #ops: SessionOps;
  readonly #topicLimits: TopicLimits;
  readonly #frames = new FrameQueue<string>(
    (text) => this.#handle(text),
    () => this.#error(undefined, new EventwireError('rate_limited', 'Too many frames waiting; this one was dropped')),
  );

  constructor(connection: Connection, ops: SessionOps, topicLimits: TopicLimits) {
    this.id = connection.id;
    this.#connection = connection;
    this.#ops = ops;
    this.#topicLimits = topicLimits;
  }

  deliver(event: RoutedEvent): void {
    this.#connection.sendPrepared(event.encoded(prepareBroadcast));
  }

  memberAdded(channel: string, member: PresenceMember): void {
    this.#send({ event: 'member_added', channel, data: member });
  }

  memberRemoved(channel: string, member: PresenceMember): void {
    this.#send({ event: 'member_removed', channel, data: member });
  }

  /** The connection is gone: drop its subscriptions and presence. */
  closed(): void {
    this.#ops.leaveAll(this);
    this.#frames.clear();
  }

  /** The first frame: the connection's id (what HTTP `socket_id` names to leave it out). */
  welcome(): void {
    this.#send({ event: 'connected', socket_id: this.id });
  }

  receive(data: Buffer): void {
    // In order: a subscribe waiting on an async rule holds back later frames of this client only.
    this.#frames.push(data.toString('utf8'));
  }

  #handle(text: string): Promise<void> | void {
    let frame: { event?: unknown; channel?: unknown } | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) frame = parsed;
    } catch {
      // answered below
    }
    if (!frame) return this.#error(undefined, new EventwireError('invalid_frame', 'Send JSON such as {"event":"subscribe","channel":"users"}'));
    if (frame.event === 'ping') return this.#send({ event: 'pong' });
    if (frame.event !== 'subscribe' && frame.event !== 'unsubscribe') {
      return this.#error(undefined, new EventwireError('invalid_frame', `Unknown event ${describe(frame.event)}; send "subscribe", "unsubscribe" or "ping"`));
    }
    const channel = frame.channel;
    if (typeof channel !== 'string') return this.#error(undefined, new EventwireError('invalid_pattern', '"channel" must be a string'));
    try {
      if (frame.event === 'unsubscribe') {
        assertPattern(channel, this.#topicLimits);
        this.#ops.unsubscribe(this, channel);
        return this.#send({ event: 'unsubscribed', channel });
      }
      const outcome = this.#ops.subscribe(this, this.#connection, channel);
      if (!(outcome instanceof Promise)) return this.#subscribed(channel, outcome);
      return outcome.then(
        (settled) => this.#subscribed(channel, settled),
        (error: unknown) => this.#error(channel, error),
      );
    } catch (error) {
      this.#error(channel, error);
    }
  }

  #subscribed(channel: string, outcome: Subscribed): undefined {
    if (!outcome.subscribed) return undefined; // gone while the rule ran
    const [presence] = outcome.presence;
    this.#send({ event: 'subscribed', channel, ...(presence && { members: presence.members }) });
    return undefined;
  }

  #error(channel: string | undefined, error: unknown): void {
    const failure = toEventwireError(error);
    this.#send({ event: 'error', ...(channel !== undefined && { channel }), code: failure.code, message: failure.message });
  }

  #send(frame: Record<string, unknown>): void {
    this.#connection.send(JSON.stringify(frame));
  }
}

/**
 * A client's value, quoted for an error message: bounded, and never through
 * JSON.stringify of what the client sent (nested thousands deep, it overflows the stack).
 */
function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : typeof value === 'object' ? (value === null ? 'null' : 'an object') : String(value).slice(0, 100);
}
