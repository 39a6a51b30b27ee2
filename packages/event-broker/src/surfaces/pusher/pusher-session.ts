// The Pusher Channels protocol (version 7) as a WebSocket surface beside the
// native, Synap and broadcasting ones, so pusher-js and Laravel Echo connect
// unchanged to `/app/{key}`. Only a translation: subscriptions join the same
// router and presence registry, client events are publishes through the same
// core (hooks, history, cluster), and a private or presence channel is let in
// by the signature its app's auth endpoint gave (Laravel's, or the broker's).
import { EventwireError, toEventwireError, type ErrorCode } from '@eventwire/event-channel';
import { closeCodes } from '@eventwire/event-channel/protocol';
import { randomInt } from 'node:crypto';
import type { Access } from '../../auth/access.js';
import { channelKind } from '../../auth/channels.js';
import { verifyChannelAuth, verifyUserAuth } from '../../auth/pusher-signature.js';
import { TokenBucket } from '../../auth/rate-limit.js';
import type { Connection } from '../../connection.js';
import type { BrokerCore } from '../../core.js';
import { isCacheTopic } from '../../last-events.js';
import type { PresenceMember } from '../../presence.js';
import type { RoutedEvent } from '../../router.js';
import { FrameQueue } from '../frame-queue.js';
import type { SessionOps } from '../session-ops.js';
import type { Session } from '../surface.js';
import { isEncryptedChannel, pusherDataToEventData, type PusherApp } from './pusher-apps.js';
import type { PusherWebhooks } from './pusher-webhooks.js';

/** The protocol versions served: pusher-js since 3.0 speaks 7; 5 and 6 differ only in what we never send. */
const SUPPORTED_PROTOCOLS = new Set(['5', '6', '7']);

/** Seconds of silence after which a Pusher client pings (sent in connection_established). */
export const PUSHER_ACTIVITY_TIMEOUT_S = 120;

/** The Pusher close and error codes this surface uses (protocol 7's table). */
export const pusherCodes = {
  /** 4000–4099: the client must not reconnect as it is. */
  appNotFound: 4001,
  unsupportedProtocol: 4007,
  noProtocol: 4008,
  unauthorized: 4009,
  /** 4100–4199: reconnect with backoff. */
  overCapacity: 4100,
  /** 4200–4299: reconnect now. */
  reconnect: 4200,
  /** 4300–4399: the message was refused, the connection stays. */
  clientEventRateLimited: 4301,
} as const;

/**
 * A socket id in Pusher's `N.N` form. The first number is random per broker,
 * so ids stay distinct across a cluster, where a publish "to others" names the
 * socket to leave out on every broker.
 */
export function createSocketIdGenerator(): () => string {
  const prefix = randomInt(1, 2 ** 31 - 1);
  let next = 0;
  return () => `${prefix}.${++next}`;
}

/** A connect refused with a Pusher code of its own (not one mapped from an eventwire code). */
export class PusherRefusal extends EventwireError {
  override readonly name = 'PusherRefusal';
  constructor(
    readonly pusherCode: number,
    message: string,
  ) {
    super('unsupported_protocol', message);
  }
}

/** Throws unless a connect URL's query names a version served (`protocol=7`): a missing one is 4008, one not served 4007. */
export function assertPusherProtocol(url: URL): void {
  const protocol = url.searchParams.get('protocol');
  if (protocol === null) throw new PusherRefusal(pusherCodes.noProtocol, 'No protocol version given: connect to /app/{key}?protocol=7');
  if (!SUPPORTED_PROTOCOLS.has(protocol)) throw new PusherRefusal(pusherCodes.unsupportedProtocol, `Protocol ${protocol.slice(0, 20)} is not supported; use 7`);
}

/** The frame a refused Pusher connection gets before it is closed with the same code. */
export function pusherErrorFrame(code: number | null, message: string): string {
  return JSON.stringify({ event: 'pusher:error', data: { code, message } });
}

/**
 * The Pusher close code for one of eventwire's, so pusher-js acts as the
 * broker means: a shutdown is "reconnect now" (4200), a slow consumer cut
 * "reconnect after a pause" (4100); eventwire's 4008 would read as "no
 * protocol version, never retry". Pusher codes (4000–4399) pass as they are.
 */
export function pusherCloseCode(code: number): number {
  if (code === closeCodes.goingAway) return pusherCodes.reconnect;
  if (code === closeCodes.slowConsumer) return pusherCodes.overCapacity;
  if (code === closeCodes.unauthorized) return pusherCodes.unauthorized;
  if (code === closeCodes.protocolError || code === closeCodes.messageTooBig) return pusherCodes.reconnect;
  return code;
}

/** The Pusher code a refused connect or a failed operation gets, by eventwire code. */
export function pusherCodeFor(code: ErrorCode): number | null {
  switch (code) {
    case 'unavailable':
    case 'rate_limited':
      return pusherCodes.overCapacity;
    case 'unauthorized':
    case 'forbidden':
      return pusherCodes.unauthorized;
    case 'not_found':
      return pusherCodes.appNotFound;
    default:
      return null;
  }
}

/** What the surface needs of the broker. */
export interface PusherLimits {
  readonly core: BrokerCore;
  readonly access: Access;
  readonly sessions: SessionOps;
  readonly maxSubscriptions: number;
  readonly maxPayloadBytes: number;
  /** The apps' webhooks, when some app has one. */
  readonly webhooks: PusherWebhooks | undefined;
  /** A session ended (the surface's registry of socket ids forgets it). */
  readonly gone: (session: PusherSession) => void;
}

/** The frames a Pusher client sends: `{ event, data?, channel? }`. */
interface PusherFrame {
  readonly event?: unknown;
  readonly data?: unknown;
  readonly channel?: unknown;
}

/**
 * One pusher-js (or Laravel Echo) connection. It subscribes and
 * unsubscribes channels, pings, signs in, and sends client events; it
 * receives events, presence changes and errors. Bad input gets a
 * `pusher:error` (or, for one channel, `pusher:subscription_error`) and the
 * connection stays. Frames are handled in arrival order.
 */
export class PusherSession implements Session {
  /** The socket id (`N.N`): what `socket_id` names to leave this connection out. */
  readonly id: string;
  readonly app: PusherApp;
  readonly #connection: Connection;
  readonly #limits: PusherLimits;
  readonly #frames = new FrameQueue<string>(
    (text) => this.#handle(text),
    () => this.#error(null, new EventwireError('rate_limited', 'Too many frames waiting; this one was dropped')),
  );
  /** Topic → the member id this connection holds there (presence channels). */
  readonly #presence = new Map<string, string>();
  /** The user this connection signed in as (`pusher:signin`). */
  #user: { readonly id: string; readonly topic: string } | undefined;
  #clientEvents: TokenBucket | undefined;

  constructor(connection: Connection, app: PusherApp, limits: PusherLimits) {
    this.id = connection.id;
    this.app = app;
    this.#connection = connection;
    this.#limits = limits;
  }

  /** The user this connection signed in as, if it did. */
  get userId(): string | undefined {
    return this.#user?.id;
  }

  deliver(event: RoutedEvent): void {
    this.#connection.sendPrepared(event.encoded(this.app.prepare));
  }

  memberAdded(topic: string, member: PresenceMember): void {
    this.#send({ event: 'pusher_internal:member_added', channel: this.#channel(topic), data: JSON.stringify({ user_id: member.id, user_info: member.info }) });
  }

  memberRemoved(topic: string, member: PresenceMember): void {
    this.#send({ event: 'pusher_internal:member_removed', channel: this.#channel(topic), data: JSON.stringify({ user_id: member.id }) });
  }

  /** The first frame: the socket id and how long the client may stay silent. */
  welcome(): void {
    this.#send({
      event: 'pusher:connection_established',
      data: JSON.stringify({ socket_id: this.id, activity_timeout: PUSHER_ACTIVITY_TIMEOUT_S }),
    });
  }

  /** The connection is gone: drop its subscriptions and presence. */
  closed(): void {
    this.#limits.sessions.leaveAll(this);
    this.#frames.clear();
    this.#limits.gone(this);
  }

  receive(data: Buffer): void {
    this.#frames.push(data.toString('utf8'));
  }

  async #handle(text: string): Promise<void> {
    if (text.length > this.#limits.maxPayloadBytes) {
      return this.#error(null, new EventwireError('payload_too_large', `Message of ${text.length} bytes exceeds the limit of ${this.#limits.maxPayloadBytes}`));
    }
    let frame: PusherFrame | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) frame = parsed;
    } catch {
      // answered below
    }
    if (!frame || typeof frame.event !== 'string') {
      return this.#error(null, new EventwireError('invalid_frame', 'Send JSON such as {"event":"pusher:subscribe","data":{"channel":"orders"}}'));
    }
    // pusher-js sends data as an object; other clients as a JSON string.
    const data = typeof frame.data === 'string' ? pusherDataToEventData(frame.data) : frame.data;
    const fields = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
    try {
      switch (frame.event) {
        case 'pusher:ping':
          return this.#send({ event: 'pusher:pong', data: {} });
        case 'pusher:pong':
          return;
        case 'pusher:subscribe':
          return this.#subscribe(fields);
        case 'pusher:unsubscribe':
          return this.#unsubscribe(fields['channel']);
        case 'pusher:signin':
          return this.#signin(fields);
        default:
          if (frame.event.startsWith('client-')) return await this.#clientEvent(frame.event, frame.channel, data, frame.data);
          throw new EventwireError('invalid_frame', `Unknown event ${JSON.stringify(frame.event.slice(0, 100))}`);
      }
    } catch (error) {
      this.#error(null, error);
    }
  }

  #subscribe(fields: Record<string, unknown>): void {
    const channel = fields['channel'];
    let topic: string;
    try {
      topic = this.app.topicOf(channel);
    } catch (error) {
      return this.#subscriptionError(typeof channel === 'string' ? channel : '', error, 400);
    }
    const name = channel as string;
    const { router, presence } = this.#limits.core;
    try {
      if (router.has(this, topic) && !this.#presence.has(topic)) return this.#succeeded(name, topic);
      router.newPatterns(this, [topic], this.#limits.maxSubscriptions);
      const kind = channelKind(topic);
      let member: PresenceMember | undefined;
      if (this.#user?.topic === topic) {
        // The signed-in user's own channel: signing in was its authorization.
      } else if (name.startsWith('#')) {
        throw new EventwireError('forbidden', `"${name}" is the channel of another user; sign in as that user first`);
      } else if (kind === 'public') {
        // A Pusher socket is anonymous: the permissions of anonymous callers
        // apply (decided at once for a public name, throwing when refused).
        this.#limits.access.authorize(undefined, [topic], 'subscribe');
      } else {
        const auth = fields['auth'];
        const channelData = typeof fields['channel_data'] === 'string' ? fields['channel_data'] : undefined;
        if (typeof auth !== 'string' || !verifyChannelAuth(auth, this.app.key, this.app.secret, this.id, name, kind === 'presence' ? channelData : undefined)) {
          throw this.#limits.access.refuse(new EventwireError('unauthorized', `Invalid signature for "${name}": expected HMAC SHA256 of "${this.id}:${name}${kind === 'presence' ? ':<channel_data>' : ''}" with the app's secret`));
        }
        if (kind === 'presence') member = presenceMember(channelData);
      }
      if (member) {
        // Before subscribing: a refusal (the member limit) leaves nothing behind.
        presence.join(topic, member, this);
        this.#presence.set(topic, member.id);
      }
      router.subscribe(this, topic);
      this.#succeeded(name, topic);
    } catch (error) {
      const failure = toEventwireError(error);
      this.#subscriptionError(name, failure, failure.code === 'unauthorized' ? 401 : failure.code === 'forbidden' ? 403 : 400);
    }
  }

  /**
   * `subscription_succeeded`; on a presence channel with the members now,
   * itself included. Then, on a cache channel, its last event (or
   * `pusher:cache_miss`): in the same step as the router subscription, so no
   * live event can come before it, and each event arrives once — routed
   * before the subscription, it is the last event; after, it is live.
   */
  #succeeded(channel: string, topic: string): void {
    if (!this.#presence.has(topic)) this.#send({ event: 'pusher_internal:subscription_succeeded', channel, data: '{}' });
    else {
      const members = this.#limits.core.presence.members(topic);
      const hash: Record<string, unknown> = {};
      for (const each of members) hash[each.id] = each.info;
      this.#send({
        event: 'pusher_internal:subscription_succeeded',
        channel,
        data: JSON.stringify({ presence: { ids: members.map((each) => each.id), hash, count: members.length } }),
      });
    }
    if (!isCacheTopic(topic)) return;
    const last = this.#limits.core.lastEvents.get(topic);
    // The same frame its live subscribers were sent (the app's encoder).
    if (last) return this.#connection.sendPrepared(this.app.prepare(last));
    this.#send({ event: 'pusher:cache_miss', channel });
    // The `cache_miss` webhook: once per subscription that missed, from the subscriber's broker.
    this.#limits.webhooks?.cacheMiss(this.app, channel);
  }

  #unsubscribe(channel: unknown): void {
    const topic = this.app.topicOf(channel);
    this.#limits.sessions.unsubscribe(this, topic);
    this.#presence.delete(topic);
  }

  /**
   * `pusher:signin`: `auth` is `key:HMAC(secret, "socket_id::user::user_data")`
   * from the app's user-auth endpoint; `user_data` a JSON object with an `id`.
   * Answered `pusher:signin_success`; the client then subscribes its
   * `#server-to-user-{id}` channel, which carries events sent to that user.
   */
  #signin(fields: Record<string, unknown>): void {
    const auth = fields['auth'];
    const userData = fields['user_data'];
    if (typeof auth !== 'string' || typeof userData !== 'string') {
      throw new EventwireError('invalid_frame', 'pusher:signin needs "auth" and "user_data" (strings)');
    }
    if (!verifyUserAuth(auth, this.app.key, this.app.secret, this.id, userData)) throw this.#limits.access.refuse(new EventwireError('unauthorized', 'Invalid signin signature'));
    let id: unknown;
    try {
      id = (JSON.parse(userData) as { id?: unknown }).id;
    } catch {
      // refused below
    }
    if (typeof id !== 'string' || id === '') throw new EventwireError('invalid_frame', 'user_data must be a JSON object with "id", a non-empty string');
    this.#user = { id, topic: this.app.userTopic(id) };
    this.#send({ event: 'pusher:signin_success', data: { user_data: userData } });
  }

  /**
   * A `client-*` event: relayed to the channel's other subscribers (never
   * back to the sender), on a private or presence channel this connection is
   * subscribed to, when the app allows client events, within its rate.
   */
  async #clientEvent(event: string, channel: unknown, data: unknown, raw: unknown): Promise<void> {
    if (!this.app.clientEvents) throw new EventwireError('forbidden', `Client events are turned off for app ${this.app.id}`);
    const topic = this.app.topicOf(channel);
    if (channelKind(topic) === 'public') throw new EventwireError('forbidden', 'Client events are only allowed on private and presence channels');
    // Pusher refuses them there too: the broker could not tell ciphertext from a forgery.
    if (isEncryptedChannel(String(channel))) throw new EventwireError('forbidden', 'Client events are not supported on encrypted channels');
    if (!this.#limits.core.router.has(this, topic)) throw new EventwireError('forbidden', `Subscribe to "${String(channel)}" before sending client events on it`);
    this.#clientEvents ??= new TokenBucket({ perSecond: this.app.maxClientEventsPerSecond }, Date.now());
    if (this.#clientEvents.take(Date.now()) > 0) {
      this.#limits.access.refuse(new EventwireError('rate_limited', 'client events'));
      return this.#send({
        event: 'pusher:error',
        data: { code: pusherCodes.clientEventRateLimited, message: `At most ${this.app.maxClientEventsPerSecond} client events per second`, error_code: 'rate_limited' },
      });
    }
    const memberId = this.#presence.get(topic);
    const core = this.#limits.core;
    const envelope = core.createEnvelope(topic, data, {
      source: 'urn:eventwire:pusher',
      metadata: { event, ...(memberId !== undefined && { pusher_user_id: memberId }) },
    });
    await core.publish(envelope, { surface: 'pusher', connectionId: this.id, except: this.id });
    // After the publish: a hook's refusal sends none. `data` as the client sent it, a string (pusher-js sends an object).
    this.#limits.webhooks?.clientEvent(this.app, channel as string, event, typeof raw === 'string' ? raw : JSON.stringify(raw ?? null), this.id, memberId);
  }

  #subscriptionError(channel: string, error: unknown, status: number): void {
    const failure = toEventwireError(error);
    this.#send({
      event: 'pusher:subscription_error',
      channel,
      data: { type: 'AuthError', error: failure.message, status, error_code: failure.code },
    });
  }

  #error(code: number | null, error: unknown): void {
    const failure = toEventwireError(error);
    this.#send({ event: 'pusher:error', data: { code: code ?? pusherCodeFor(failure.code), message: failure.message, error_code: failure.code } });
  }

  #channel(topic: string): string {
    return this.app.channelOf(topic) ?? topic;
  }

  #send(frame: Record<string, unknown>): void {
    this.#connection.send(JSON.stringify(frame));
  }
}

/** A presence channel's member from the signed `channel_data` (`{ user_id, user_info? }`). */
function presenceMember(channelData: string | undefined): PresenceMember {
  let parsed: { user_id?: unknown; user_info?: unknown } | undefined;
  try {
    parsed = channelData === undefined ? undefined : (JSON.parse(channelData) as typeof parsed);
  } catch {
    // refused below
  }
  const id = parsed?.user_id;
  if ((typeof id !== 'string' || id === '') && typeof id !== 'number') {
    throw new EventwireError('invalid_payload', 'A presence channel needs channel_data {"user_id": …, "user_info": {…}}');
  }
  const info = parsed!.user_info;
  return { id: String(id), info: typeof info === 'object' && info !== null && !Array.isArray(info) ? (info as Record<string, unknown>) : {} };
}
