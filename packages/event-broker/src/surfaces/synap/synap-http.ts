import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  EventwireError,
  assertPattern,
  assertTopic,
  isWildcardPattern,
  toEventwireError,
  type TopicLimits,
} from '@eventwire/event-channel';
import { assertPayloadShape, createEventIdGenerator, type PayloadLimits } from '@eventwire/event-channel/protocol';
import type { Access, Caller } from '../../auth/access.js';
import type { BrokerCore } from '../../core.js';
import { decodePathSegment, httpStatusFor, objectBody, readJsonBody, sendJson } from '../../http.js';
import type { RoutedEvent, Subscriber } from '../../router.js';

/**
 * Synap's HTTP pub/sub API, beside the WebSocket subscriber in `synap.ts`:
 * the REST routes (`POST /pubsub/{topic}/publish`, `/pubsub/subscribe`,
 * `/pubsub/unsubscribe`, `GET /pubsub/stats`, `/pubsub/topics`,
 * `/pubsub/{topic}/info`), the command API Synap's official SDKs use
 * (`POST /api/v1/command`: `{ command, request_id, payload }` →
 * `{ success, request_id, payload | error }`) and its legacy form
 * (`POST /api/stream`: `{ operation, target, data }`). Each operation is
 * written once and reached from all three; publishing goes through the same
 * core as every other surface (one envelope, hooks, stats).
 */

/** What the Synap HTTP API needs of the broker besides the core. */
export interface SynapHttpOptions {
  readonly maxPayloadBytes: number;
  readonly topicLimits: TopicLimits;
  readonly maxSubscriptions: number;
  /** Counters for `/pubsub/stats` that live outside the core. */
  readonly counters: () => { readonly connections: Readonly<Record<string, number>>; readonly slowConsumersCut: number };
}

/** What `pubsub.publish` (and the REST publish) answers. */
export interface SynapPublishAnswer {
  readonly message_id: string;
  readonly topic: string;
  /**
   * Synap's name: subscribers (connections, and registrations made over
   * HTTP) the event matched on this broker. Only this broker's: the other
   * brokers of a cluster are not asked (a round trip per publish), so see
   * `cluster`.
   */
  readonly subscribers_matched: number;
  /** The same number under eventwire's earlier name, kept for its clients. */
  readonly subscribers_notified: number;
  /**
   * Present (`true`) when the broker is in a cluster: the event was also
   * handed to the other brokers, whose subscribers the counts leave out —
   * `subscribers_matched: 0` then does not mean nobody received it.
   */
  readonly cluster?: true;
}

/**
 * Registrations made with `pubsub.subscribe` over HTTP: Synap keeps them
 * without a connection (its SDKs say "no real-time delivery"), and they count
 * as matched subscribers. Bounded, since nothing ever disconnects them.
 */
const MAX_DETACHED_SUBSCRIBERS = 10_000;

/** The commands served; any other Synap command gets a refusal naming these. */
const servedCommands = ['pubsub.publish', 'pubsub.subscribe', 'pubsub.unsubscribe', 'pubsub.topics', 'pubsub.info', 'pubsub.stats'] as const;
type ServedCommand = (typeof servedCommands)[number];

/** Synap's other command families, for a refusal that says what is missing. */
const otherFamilies: Readonly<Record<string, string>> = {
  kv: 'key-value',
  hash: 'hashes',
  list: 'lists',
  set: 'sets',
  sortedset: 'sorted sets',
  zset: 'sorted sets',
  bitmap: 'bitmaps',
  hyperloglog: 'HyperLogLog',
  geospatial: 'geospatial',
  queue: 'queues',
  stream: 'streams',
  transaction: 'transactions',
  script: 'scripting',
};

/** A `pubsub.subscribe` registration: matched and counted, delivered nowhere. */
class DetachedSubscriber implements Subscriber {
  constructor(readonly id: string) {}

  deliver(_event: RoutedEvent): void {
    // Synap's HTTP subscribe has no connection to deliver to.
  }
}

export class SynapHttpApi {
  readonly #core: BrokerCore;
  readonly #access: Access;
  readonly #options: SynapHttpOptions;
  /** Every Synap subscriber by id: WebSocket ones (tracked by the server) and HTTP registrations. */
  readonly #subscribers = new Map<string, Subscriber>();
  readonly #nextId = createEventIdGenerator();
  #detached = 0;

  constructor(core: BrokerCore, access: Access, options: SynapHttpOptions) {
    this.#core = core;
    this.#access = access;
    this.#options = options;
  }

  /** A Synap WebSocket subscriber connected: `pubsub.unsubscribe` can reach it by id. */
  track(subscriber: Subscriber): void {
    this.#subscribers.set(subscriber.id, subscriber);
  }

  /** It disconnected. */
  untrack(subscriber: Subscriber): void {
    if (this.#subscribers.get(subscriber.id) === subscriber) this.#subscribers.delete(subscriber.id);
  }

  /**
   * Answers the request when its path belongs to Synap's HTTP API; returns
   * false otherwise. Throws `EventwireError`s for the REST routes (the server
   * writes them as `{ error }` bodies); the command API answers in its own envelope.
   */
  async handle(request: IncomingMessage, response: ServerResponse, path: string, method: string, caller: Caller): Promise<boolean> {
    const expect = (wanted: string): void => {
      if (method !== wanted) throw new EventwireError('method_not_allowed', `${path} accepts ${wanted}, not ${method}`);
    };
    if (path === '/api/v1/command') {
      expect('POST');
      await this.#commandRequest(request, response, caller);
      return true;
    }
    if (path === '/api/stream') {
      expect('POST');
      await this.#legacyRequest(request, response, caller);
      return true;
    }
    if (!path.startsWith('/pubsub/')) return false;
    const publish = /^\/pubsub\/([^/]+)\/publish$/.exec(path);
    const info = /^\/pubsub\/([^/]+)\/info$/.exec(path);
    if (path === '/pubsub/stats') {
      expect('GET');
      sendJson(response, 200, this.stats());
    } else if (path === '/pubsub/topics') {
      expect('GET');
      sendJson(response, 200, this.topics());
    } else if (path === '/pubsub/subscribe') {
      expect('POST');
      const body = objectBody(await this.#body(request));
      sendJson(response, 200, await this.subscribe(body['topics'], body['subscriber_id'], caller));
    } else if (path === '/pubsub/unsubscribe') {
      expect('POST');
      const body = objectBody(await this.#body(request));
      sendJson(response, 200, this.unsubscribe(body['subscriber_id'], body['topics']));
    } else if (publish) {
      expect('POST');
      const topic = decodePathSegment(publish[1]!);
      // Validate the path before reading a body the topic already condemns.
      assertTopic(topic, this.#options.topicLimits);
      const body = objectBody(await this.#body(request), 'The body must be a JSON object with "payload"');
      sendJson(response, 200, await this.publish(topic, body, 'urn:eventwire:http', caller));
    } else if (info) {
      expect('GET');
      sendJson(response, 200, await this.info(decodePathSegment(info[1]!), caller));
    } else return false;
    return true;
  }

  // ---------------------------------------------------------------------------
  // The operations, once each

  /**
   * Publishes `{ payload | data | message, metadata?, source?, socket_id? }`
   * to `topic` through the core; `socket_id` (or the `X-Socket-ID` header, as
   * Laravel's `toOthers()` sends it) names a connection it is not delivered to.
   * `priority` and `headers`, which Synap's SDKs may send, are accepted and
   * ignored (Synap's server ignores them too).
   */
  async publish(topic: unknown, body: Readonly<Record<string, unknown>>, defaultSource: string, caller: Caller): Promise<SynapPublishAnswer> {
    if (typeof topic !== 'string') throw new EventwireError('invalid_payload', 'pubsub.publish needs "topic", a string');
    assertTopic(topic, this.#options.topicLimits);
    this.#access.takeForIp(caller.ip, 'publish');
    await this.#access.authorize(caller.user, [topic], 'publish');
    const metadata = metadataOf(topic, body['metadata'], this.#core.payloadLimits);
    const source = typeof body['source'] === 'string' && body['source'] !== '' ? body['source'] : defaultSource;
    const envelope = this.#core.createEnvelope(topic, payloadOf(body), {
      source,
      ...(metadata && { metadata }),
      ...(caller.traceparent !== undefined && { traceparent: caller.traceparent }),
    });
    const except = socketIdOf(body['socket_id']) ?? socketIdOf(caller.socketId);
    const result = await this.#core.publish(envelope, { surface: 'http', user: caller.user, ...(except !== undefined && { except }) });
    return {
      message_id: result.event.id,
      topic,
      subscribers_matched: result.notified,
      subscribers_notified: result.notified,
      ...(this.#core.clustered && { cluster: true as const }),
    };
  }

  /**
   * Registers patterns for a subscriber id over HTTP (Synap's
   * `pubsub.subscribe`): a given `subscriber_id` is used (and added to), else
   * one is made. The registration is matched and counted but has no connection.
   */
  async subscribe(topics: unknown, subscriberId: unknown, caller: Caller): Promise<{ subscriber_id: string; topics: string[]; subscription_count: number }> {
    const patterns = this.#patterns(topics, 'topics');
    if (patterns.length === 0) throw new EventwireError('invalid_payload', '"topics" needs at least one topic');
    this.#access.takeForIp(caller.ip, 'subscribe');
    await this.#access.authorize(caller.user, patterns, 'subscribe');
    const id = subscriberId === undefined || subscriberId === null ? `http-${this.#nextId()}` : idOf(subscriberId);
    let subscriber = this.#subscribers.get(id);
    if (!subscriber) {
      if (this.#detached >= MAX_DETACHED_SUBSCRIBERS) {
        throw new EventwireError('limit_exceeded', `At most ${MAX_DETACHED_SUBSCRIBERS} subscribers registered over HTTP; unsubscribe some first`);
      }
      subscriber = new DetachedSubscriber(id);
      this.#subscribers.set(id, subscriber);
      this.#detached++;
    }
    const router = this.#core.router;
    const fresh = router.newPatterns(subscriber, patterns, this.#options.maxSubscriptions, 'A subscriber');
    for (const pattern of fresh) router.subscribe(subscriber, pattern);
    return { subscriber_id: id, topics: patterns, subscription_count: router.patternCount(subscriber) };
  }

  /** Removes some (`topics`) or all patterns of a Synap subscriber, connected or not. */
  unsubscribe(subscriberId: unknown, topics: unknown): { unsubscribed: number } {
    const id = idOf(subscriberId);
    const subscriber = this.#subscribers.get(id);
    if (!subscriber) return { unsubscribed: 0 }; // as Synap answers an unknown id
    const router = this.#core.router;
    let unsubscribed = 0;
    if (topics === undefined || topics === null) {
      unsubscribed = router.patternCount(subscriber);
      router.remove(subscriber);
    } else {
      for (const pattern of this.#patterns(topics, 'topics')) if (router.unsubscribe(subscriber, pattern)) unsubscribed++;
    }
    if (subscriber instanceof DetachedSubscriber && router.patternCount(subscriber) === 0) {
      this.#subscribers.delete(id);
      this.#detached--;
    }
    return { unsubscribed };
  }

  /** Published topics (`topics`, `count`, as Synap) and the patterns subscribed now. */
  topics(): { topics: string[]; count: number; patterns: string[] } {
    const topics = this.#core.topics.list().map((record) => record.topic);
    return { topics, count: topics.length, patterns: this.#core.router.patterns() };
  }

  /**
   * One topic: eventwire's fields and Synap's (`subscriber_count`,
   * `message_count`, `created_at` in Unix seconds). A topic never published and
   * matched by no subscription is `not_found`, as Synap answers it.
   */
  async info(topic: unknown, caller: Caller): Promise<Record<string, unknown>> {
    if (typeof topic !== 'string') throw new EventwireError('invalid_payload', 'pubsub.info needs "topic", a string');
    assertTopic(topic, this.#options.topicLimits);
    await this.#access.authorize(caller.user, [topic], 'subscribe');
    const record = this.#core.topics.get(topic);
    const subscribers = this.#core.router.countMatching(topic);
    if (!record && subscribers === 0) throw new EventwireError('not_found', `Topic "${topic}" not found: never published, no subscriber`);
    return {
      topic,
      subscribers,
      messages_published: record?.messages ?? 0,
      last_published_at: record ? new Date(record.lastPublishedAt).toISOString() : null,
      subscriber_count: subscribers,
      message_count: record?.messages ?? 0,
      created_at: record ? Math.floor(record.firstPublishedAt / 1000) : null,
    };
  }

  /** Synap's `PubSubStats` fields, plus eventwire's connections by surface. */
  stats(): Record<string, unknown> {
    const { subscribers, subscriptions } = this.#core.router.counts();
    const { connections, slowConsumersCut } = this.#options.counters();
    return {
      total_topics: this.#core.topics.size,
      total_subscribers: subscribers,
      total_subscriptions: subscriptions,
      total_wildcard_subscriptions: this.#core.router.patterns().filter(isWildcardPattern).length,
      messages_published: this.#core.counters.published,
      messages_delivered: this.#core.counters.deliveries,
      slow_consumers_dropped: slowConsumersCut,
      connections,
    };
  }

  // ---------------------------------------------------------------------------
  // Command API and its legacy form

  async #run(command: ServedCommand, payload: Readonly<Record<string, unknown>>, caller: Caller): Promise<unknown> {
    switch (command) {
      case 'pubsub.publish':
        if (!('payload' in payload) && !('data' in payload)) {
          throw new EventwireError('invalid_payload', 'pubsub.publish needs "payload" (or "data")');
        }
        return this.publish(payload['topic'], payload, 'urn:eventwire:synap-command', caller);
      case 'pubsub.subscribe':
        return this.subscribe(payload['topics'], payload['subscriber_id'], caller);
      case 'pubsub.unsubscribe':
        return this.unsubscribe(payload['subscriber_id'], payload['topics']);
      case 'pubsub.topics':
        return this.topics();
      case 'pubsub.info':
        return this.info(payload['topic'], caller);
      case 'pubsub.stats':
        return this.stats();
    }
  }

  /** `POST /api/v1/command`: refusals are `success: false` with HTTP 200, as Synap answers. */
  async #commandRequest(request: IncomingMessage, response: ServerResponse, caller: Caller): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = objectBody(await this.#body(request), 'The body must be a JSON object: { "command", "request_id", "payload" }');
    } catch (error) {
      // Not JSON, too large, not an object: the request itself is bad (4xx), same shape.
      const failure = toEventwireError(error);
      sendJson(response, httpStatusFor(failure.code), commandFailure(null, failure));
      return;
    }
    const requestId = typeof body['request_id'] === 'string' ? body['request_id'] : null;
    try {
      const command = servedCommand(body['command']);
      const payload = body['payload'] === undefined ? {} : objectBody(body['payload'], '"payload" must be a JSON object');
      sendJson(response, 200, { success: true, request_id: requestId, payload: await this.#run(command, payload, caller) });
    } catch (error) {
      sendJson(response, 200, commandFailure(requestId, toEventwireError(error)));
    }
  }

  /**
   * `POST /api/stream` with `{ operation, target, data }`, as SDK releases
   * before 1.0 sent it: `target` is the topic (publish, info) or the
   * subscriber id (subscribe, unsubscribe). Answers the bare result, errors
   * as `{ error, code }` with the status for the code.
   */
  async #legacyRequest(request: IncomingMessage, response: ServerResponse, caller: Caller): Promise<void> {
    try {
      const body = objectBody(await this.#body(request), 'The body must be a JSON object: { "operation", "target", "data" }');
      const command = servedCommand(body['operation'], 'operation');
      const data = body['data'] === undefined || body['data'] === null ? {} : objectBody(body['data'], '"data" must be a JSON object');
      const target = body['target'];
      let result: unknown;
      if (command === 'pubsub.publish') {
        const published = await this.publish(target, data, 'urn:eventwire:synap-command', caller);
        // Pre-1.0 clients read the count as "delivered".
        result = { ...published, delivered: published.subscribers_matched };
      } else if (command === 'pubsub.subscribe') result = await this.subscribe(data['topics'], target, caller);
      else if (command === 'pubsub.unsubscribe') result = this.unsubscribe(target, data['topics']);
      else if (command === 'pubsub.info') result = await this.info(target, caller);
      else result = await this.#run(command, data, caller);
      sendJson(response, 200, result);
    } catch (error) {
      const failure = toEventwireError(error);
      sendJson(response, httpStatusFor(failure.code), { error: failure.message, code: failure.code });
    }
  }

  #body(request: IncomingMessage): Promise<unknown> {
    return readJsonBody(request, this.#options.maxPayloadBytes);
  }

  #patterns(value: unknown, field: string): string[] {
    if (!Array.isArray(value) || !value.every((entry) => typeof entry === 'string')) {
      throw new EventwireError('invalid_payload', `"${field}" must be an array of topic patterns`);
    }
    for (const pattern of value) assertPattern(pattern, this.#options.topicLimits);
    return [...new Set(value as string[])];
  }
}

function servedCommand(value: unknown, field = 'command'): ServedCommand {
  if (typeof value !== 'string' || value === '') throw new EventwireError('invalid_payload', `The request needs "${field}", a string such as "pubsub.publish"`);
  if ((servedCommands as readonly string[]).includes(value)) return value as ServedCommand;
  const family = otherFamilies[value.split('.')[0]!];
  const what = family ? `Synap's ${family} commands are not served` : `"${value}" is not a Synap pub/sub command`;
  throw new EventwireError('not_found', `eventwire serves Synap's pub/sub only: ${what}. Served: ${servedCommands.join(', ')}`);
}

/** `{ success: false, request_id, error }`, plus eventwire's stable `code` and details. */
function commandFailure(requestId: string | null, failure: EventwireError): Record<string, unknown> {
  const { message, ...details } = failure.toJSON();
  return { success: false, request_id: requestId, error: message, ...details };
}

function idOf(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 128) {
    throw new EventwireError('invalid_payload', '"subscriber_id" must be a string of 1–128 characters');
  }
  return value;
}

/** The event's data: `payload`, else `data`, else Synap's guide's `message` (JSON text is parsed). */
function payloadOf(record: Readonly<Record<string, unknown>>): unknown {
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

/** Synap metadata is a string map; other values are JSON-encoded rather than dropped. */
function metadataOf(topic: string, value: unknown, limits: PayloadLimits): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new EventwireError('invalid_payload', '"metadata" must be an object');
  }
  // Before JSON.stringify of its values: the same shape limits as the data.
  assertPayloadShape(topic, value, limits);
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    out[key] = typeof entry === 'string' ? entry : JSON.stringify(entry);
  }
  return out;
}

/** A connection id to leave out (`socket_id`), undefined when none is given; anything else than an id is `invalid_payload`. */
function socketIdOf(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 64) throw new EventwireError('invalid_payload', '"socket_id" must be a connection id (a string of at most 64 characters)');
  return value;
}
