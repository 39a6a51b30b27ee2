// The Pusher apps a broker serves, and how a Pusher channel name maps onto an
// eventwire topic and back. The mapping is the identity for the default app:
// Pusher's channel alphabet ([A-Za-z0-9_\-=@,.;]) is a subset of what a topic
// allows, so `orders`, `private-user.1` and `presence-room.7` are topics as
// they are, and native, Synap and broadcasting clients share them with
// pusher-js unchanged. An app with a namespace is kept apart by it: the
// namespace and a ':' (a character no Pusher name holds, so no other app's
// channel can collide) follow the channel's kind prefix, which stays first so
// private and presence rules and the router's guard see the same kind.
import { EventwireError, findTopicProblem, type EventEnvelope, type TopicLimits } from '@eventwire/event-channel';
import { PreparedTextFrame } from '../../prepared-frame.js';
import type { PusherWebhookOptions } from './pusher-webhooks.js';

/** One Pusher app: what pusher-js names as `key`, and what server libraries sign with. */
export interface PusherAppOptions {
  /** The app id of the HTTP API (`/apps/{id}/events`). */
  readonly id: string;
  /** The public key clients connect with (`/app/{key}`). */
  readonly key: string;
  /** Signs channel auth and HTTP API requests; never leaves the server. */
  readonly secret: string;
  /**
   * Keeps this app's channels apart from every other app's: channel `orders`
   * is topic `{namespace}:orders`, `private-user.1` is `private-{namespace}:user.1`.
   * The first app has none unless set (its channels are topics as they are);
   * every later app defaults to its id.
   */
  readonly namespace?: string;
  /**
   * Whether clients may send `client-*` events on private and presence
   * channels they are subscribed to (Laravel Echo's `whisper`).
   * @default true
   */
  readonly clientEvents?: boolean;
  /**
   * The end-to-end encryption master key (32 bytes, base64: Pusher's
   * `encryptionMasterKeyBase64`), for `private-encrypted-…` channels: the
   * broker's auth endpoint derives each channel's `shared_secret` from it.
   * The broker itself only relays their ciphertext. Without it the broker's
   * endpoint refuses encrypted channels (Laravel's own endpoint can still sign them).
   */
  readonly encryptionMasterKey?: string;
  /**
   * Client events one connection may send per second (Pusher's own limit is 10);
   * past it they are refused with `pusher:error` 4301.
   * @default 10
   */
  readonly maxClientEventsPerSecond?: number;
  /**
   * Where this app's server is told what happens on its channels, in
   * Pusher's webhook format (signed with `secret`): occupied and vacated
   * channels, presence members added and removed, client events, cache misses.
   * @default none
   */
  readonly webhooks?: readonly PusherWebhookOptions[];
}

/** The development app used when the Pusher surface is turned on without apps (Soketi's defaults). */
export const developmentPusherApp: PusherAppOptions = { id: 'app-id', key: 'app-key', secret: 'app-secret' };

/** The Pusher channel alphabet and length (Pusher's own rules). */
const PUSHER_CHANNEL = /^[A-Za-z0-9_\-=@,.;]{1,200}$/;
const NAMESPACE = /^[A-Za-z0-9_-]{1,64}$/;
/** pusher-js subscribes to this channel after `pusher:signin`; events sent to a user arrive on it. */
const SERVER_TO_USER = '#server-to-user-';
/** Where those land among topics: private (exact subscribers only) and unreachable from a Pusher name ('$'). */
const USER_TOPIC = 'private-$server-to-user.';

const KIND_PREFIXES = ['private-', 'presence-'] as const;

/** One configured app, with its mapping and its frame encoder. */
export class PusherApp {
  readonly id: string;
  readonly key: string;
  readonly secret: string;
  readonly namespace: string | undefined;
  readonly clientEvents: boolean;
  readonly maxClientEventsPerSecond: number;
  /** The decoded encryption master key, when set. */
  readonly encryptionMasterKey: Buffer | undefined;
  /**
   * Encodes one routed event as this app's clients read it, once per event
   * whatever the number of its subscribers (a stable function: RoutedEvent
   * caches by encoder).
   */
  readonly prepare: (envelope: EventEnvelope) => PreparedTextFrame;
  readonly #topicLimits: TopicLimits;

  constructor(options: PusherAppOptions, namespace: string | undefined, topicLimits: TopicLimits) {
    this.id = options.id;
    this.key = options.key;
    this.secret = options.secret;
    this.namespace = namespace;
    this.clientEvents = options.clientEvents ?? true;
    this.maxClientEventsPerSecond = options.maxClientEventsPerSecond ?? 10;
    this.encryptionMasterKey = options.encryptionMasterKey === undefined ? undefined : Buffer.from(options.encryptionMasterKey, 'base64');
    this.#topicLimits = topicLimits;
    this.prepare = (envelope) => new PreparedTextFrame(encodePusherEvent(envelope, this.channelOf(envelope.topic) ?? envelope.topic));
  }

  /**
   * The topic of a Pusher channel of this app; throws `invalid_topic` for a
   * name outside Pusher's rules or one the broker's topic rules refuse
   * (`a..b`: an empty segment).
   */
  topicOf(channel: unknown): string {
    if (typeof channel !== 'string') throw new EventwireError('invalid_topic', 'The channel must be a string');
    if (channel.startsWith(SERVER_TO_USER)) return this.userTopic(channel.slice(SERVER_TO_USER.length));
    if (!PUSHER_CHANNEL.test(channel)) {
      throw new EventwireError('invalid_topic', `"${channel.slice(0, 200)}" is not a Pusher channel name: 1 to 200 of A-Z a-z 0-9 _ - = @ , . ;`);
    }
    const topic = this.#namespaced(channel);
    const problem = findTopicProblem(topic, 'topic', this.#topicLimits);
    if (problem) throw new EventwireError('invalid_topic', `Channel "${channel}" cannot be a topic here (${problem}); dots separate topic segments, so none may be empty`);
    return topic;
  }

  /** The topic events for one signed-in user go to (`#server-to-user-{id}`). */
  userTopic(userId: string): string {
    const topic = this.#namespaced(`${USER_TOPIC}${userId}`);
    if (userId === '' || findTopicProblem(topic, 'topic', this.#topicLimits)) {
      throw new EventwireError('invalid_topic', `User id "${userId.slice(0, 100)}" cannot name a user channel (no whitespace, "*", "#", ">" or empty dot segments)`);
    }
    return topic;
  }

  /** The channel name of one of this app's topics; undefined when the topic is not this app's. */
  channelOf(topic: string): string | undefined {
    const prefix = KIND_PREFIXES.find((kind) => topic.startsWith(kind)) ?? '';
    let rest = topic.slice(prefix.length);
    if (this.namespace !== undefined) {
      if (!rest.startsWith(`${this.namespace}:`)) return undefined;
      rest = rest.slice(this.namespace.length + 1);
    }
    if (prefix === 'private-' && rest.startsWith('$server-to-user.')) return `${SERVER_TO_USER}${rest.slice('$server-to-user.'.length)}`;
    const channel = prefix + rest;
    return PUSHER_CHANNEL.test(channel) ? channel : undefined;
  }

  #namespaced(channel: string): string {
    if (this.namespace === undefined) return channel;
    const prefix = KIND_PREFIXES.find((kind) => channel.startsWith(kind)) ?? '';
    return `${prefix}${this.namespace}:${channel.slice(prefix.length)}`;
  }
}

/** Pusher's end-to-end encrypted channels: private, with a shared secret per channel. */
export function isEncryptedChannel(channel: string): boolean {
  return channel.startsWith('private-encrypted-');
}

/** The apps of one broker, by key (WebSocket) and by id (HTTP API). */
export class PusherApps {
  readonly all: readonly PusherApp[];
  readonly #byKey = new Map<string, PusherApp>();
  readonly #byId = new Map<string, PusherApp>();

  constructor(options: readonly PusherAppOptions[], topicLimits: TopicLimits) {
    if (options.length === 0) throw new EventwireError('invalid_payload', 'pusher.apps needs at least one app { id, key, secret }');
    const namespaces = new Set<string | undefined>();
    this.all = options.map((app, index) => {
      for (const field of ['id', 'key', 'secret'] as const) {
        if (typeof app[field] !== 'string' || app[field] === '') throw new EventwireError('invalid_payload', `pusher.apps[${index}].${field} must be a non-empty string`);
      }
      const namespace = app.namespace ?? (index === 0 ? undefined : app.id);
      if (namespace !== undefined && !NAMESPACE.test(namespace)) {
        throw new EventwireError('invalid_payload', `pusher.apps[${index}].namespace "${namespace}" must be 1 to 64 of A-Z a-z 0-9 _ -`);
      }
      if (app.encryptionMasterKey !== undefined && Buffer.from(app.encryptionMasterKey, 'base64').length !== 32) {
        throw new EventwireError('invalid_payload', `pusher.apps[${index}].encryptionMasterKey must be 32 bytes, base64-encoded (openssl rand -base64 32)`);
      }
      if (namespaces.has(namespace)) throw new EventwireError('invalid_payload', `pusher.apps[${index}]: two apps share the namespace ${namespace ?? '(none)'}; they would see each other's channels`);
      namespaces.add(namespace);
      if (this.#byKey.has(app.key) || this.#byId.has(app.id)) throw new EventwireError('invalid_payload', `pusher.apps[${index}]: id and key must be unique`);
      const built = new PusherApp(app, namespace, topicLimits);
      this.#byKey.set(app.key, built);
      this.#byId.set(app.id, built);
      return built;
    });
  }

  byKey(key: string): PusherApp | undefined {
    return this.#byKey.get(key);
  }

  byId(id: string): PusherApp | undefined {
    return this.#byId.get(id);
  }
}

/**
 * One event as Pusher clients read it: `{ event, channel, data }` with `data`
 * a JSON string (protocol 7 encodes it twice; pusher-js parses it back), and
 * `user_id` on a client event from a presence member.
 */
export function encodePusherEvent(envelope: EventEnvelope, channel: string): string {
  const userId = envelope.metadata?.['pusher_user_id'];
  return JSON.stringify({
    // No Pusher event name (a native emit): the channel's name, as the app knows it.
    event: envelope.metadata?.['event'] ?? channel,
    channel,
    data: JSON.stringify(envelope.data ?? null),
    ...(userId !== undefined && { user_id: userId }),
  });
}

/**
 * A Pusher event's `data` (a string, usually JSON) as eventwire data: parsed
 * when it is JSON, so native subscribers get the object; kept as the string
 * otherwise. Either way pusher-js reads back what was sent.
 */
export function pusherDataToEventData(data: unknown): unknown {
  if (typeof data !== 'string') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}
