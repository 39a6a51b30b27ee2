// redis:// — a channel over Redis pub/sub, through ioredis (an optional
// peer, loaded only when this scheme is used; chosen over node-redis by
// measurement, see the README). A topic is the Redis channel of the same
// name (after an optional prefix), so `redis-cli PUBLISH order.created …`
// and any Redis client in any language take part. Patterns become
// PSUBSCRIBE globs; a glob's `*` also crosses dots, so what it lets through
// is filtered with the channel's own matcher before anything is parsed.
//
// Redis pub/sub keeps nothing: events published while the subscribing
// connection is down are gone, and every live subscription is told so with
// a `gap` after the reconnect.
import type { Redis, RedisOptions } from 'ioredis';
import { fullJitterBackoff } from '../backoff.js';
import { EventwireError } from '../errors.js';
import { loadOptionalPeer } from './optional-peer.js';
import { PubSubTransport, type PubSubBus, type PubSubBusEvents, type PubSubTransportOptions } from './pubsub-transport.js';

/** Options of {@link RedisTransport}. */
export interface RedisTransportOptions extends PubSubTransportOptions {
  /** `redis://[user:password@]host:6379[/db]`, `rediss://…` for TLS. */
  readonly url: string;
  /**
   * Put before every topic to make its Redis channel, to share one Redis
   * between applications (`myapp:` makes `order.created` the channel
   * `myapp:order.created`).
   * @default ''
   */
  readonly prefix?: string;
  /**
   * Publishes issued in one tick go out in one write (ioredis's
   * auto-pipelining), as the NATS client flushes once a tick: fewer, fuller
   * packets, for throughput over latency. Measured (bench/RESULTS.md): a
   * broker cluster on Redis fans out 332-412k deliveries/s with it against
   * 234-248k without (the broker's engine turns it on); one channel at a
   * steady 1,000/s has a p99 of 3-4 ms with it against 1-2 ms without.
   * @default false
   */
  readonly coalescePublishes?: boolean;
  /** Anything else ioredis's options accept (TLS, sentinels…), passed through (and winning). */
  readonly redisOptions?: Readonly<Record<string, unknown>>;
}

type IoRedisModule = typeof import('ioredis');

/** A channel over Redis pub/sub. */
export class RedisTransport extends PubSubTransport {
  constructor(options: RedisTransportOptions) {
    super(new RedisBus(options), options);
  }
}

/**
 * The Redis subscriptions that carry what `pattern` matches, disjoint for
 * every topic: an exact topic is its channel (`c:`), a pattern a glob (`p:`).
 * `order.#` is the channel `order` and the glob `order.*`; with a wildcard
 * before the `#`, one glob covers both.
 */
export function redisKeysFor(pattern: string, prefix = ''): string[] {
  const escaped = escapeGlob(prefix);
  if (pattern === '#') return [`p:${escaped}*`];
  if (pattern.endsWith('.#')) {
    const parent = pattern.slice(0, -2);
    if (!hasWildcard(parent)) return [`c:${prefix}${parent}`, `p:${escaped}${escapeGlob(parent)}.*`];
    return [`p:${escaped}${globOf(parent)}*`];
  }
  if (!hasWildcard(pattern)) return [`c:${prefix}${pattern}`];
  return [`p:${escaped}${globOf(pattern)}`];
}

function hasWildcard(pattern: string): boolean {
  return pattern === '*' || pattern.startsWith('*.') || pattern.includes('.*.') || pattern.endsWith('.*');
}

/** A pattern whose `*` segments become glob `*`, every other character literal. */
function globOf(pattern: string): string {
  return pattern
    .split('.')
    .map((segment) => (segment === '*' ? '*' : escapeGlob(segment)))
    .join('.');
}

/** Glob's own characters taken literally (`*` cannot occur in a topic segment, but may in a prefix). */
function escapeGlob(text: string): string {
  return text.replace(/[\\?*[\]]/g, (character) => `\\${character}`);
}

class RedisBus implements PubSubBus {
  readonly kind = 'redis';
  readonly #options: RedisTransportOptions;
  readonly #prefix: string;
  #subscriber: Redis | undefined;
  #publisher: Redis | undefined;
  #events: PubSubBusEvents | undefined;
  /** Each Redis subscription, how many patterns need it, and its SUBSCRIBE reply. */
  readonly #keys = new Map<string, { count: number; live: Promise<unknown> }>();
  #closed = false;
  /** The subscriber lost its connection since the last ready. */
  #missed = false;
  #wasReady = false;
  #subscriberReady = false;
  #publisherReady = false;
  /** Bumped on every subscriber (re)connect and loss: a resubscribe overtaken by a newer one does not report ready. */
  #round = 0;
  /** Reconnect attempts since the last ready, over both connections. */
  #attempt = 0;
  #lastError: EventwireError = new EventwireError('connection_closed', 'Not connected to Redis yet');

  constructor(options: RedisTransportOptions) {
    this.#options = options;
    this.#prefix = options.prefix ?? '';
  }

  open(events: PubSubBusEvents): void {
    this.#events = events;
    void loadOptionalPeer<IoRedisModule>('ioredis', 'redis:// needs its client').then(
      (module) => this.#start(module),
      (error: EventwireError) => events.failed(error),
    );
  }

  #start(module: IoRedisModule): void {
    if (this.#closed) return;
    const backoff = this.#options.backoff ?? defaultBackoff;
    const timeout = this.#options.requestTimeoutMs ?? 10_000;
    const base = {
      // The channel's outbox holds emits while disconnected; a command on a dead connection fails at once.
      enableOfflineQueue: false,
      // Resubscribed here, and only then reported live.
      autoResubscribe: false,
      connectTimeout: timeout,
      retryStrategy: (times) => (this.#closed ? null : backoff(times)),
      // ioredis's default (10 tries, then rejecting) would fail what the reconnect is about to send again.
      maxRetriesPerRequest: null,
      connectionName: 'eventwire-js',
    } satisfies RedisOptions;
    // ioredis's own RedisOptions type is not assignable to its constructor's under exactOptionalPropertyTypes; merged as a record.
    const options = Object.assign(base, this.#options.redisOptions);
    const Client = module.Redis;
    const subscriber = new Client(this.#options.url, options);
    const publisher = new Client(this.#options.url, { ...options, enableAutoPipelining: this.#options.coalescePublishes ?? false });
    this.#subscriber = subscriber;
    this.#publisher = publisher;
    for (const [client, role] of [
      [subscriber, 'subscriber'],
      [publisher, 'publisher'],
    ] as const) {
      client.on('error', (error: Error) => this.#failure(error));
      client.on('close', () => this.#down(role));
      client.on('reconnecting', (delayMs: number) => {
        if (this.#closed) return;
        this.#events?.reconnecting(++this.#attempt, delayMs, this.#lastError);
      });
      client.on('ready', () => this.#up(role));
    }
    subscriber.on('message', (channel: string, message: string) => this.#message(message, `c:${channel}`, channel));
    subscriber.on('pmessage', (glob: string, channel: string, message: string) => this.#message(message, `p:${glob}`, channel));
  }

  #message(message: string, via: string, channel: string): void {
    if (!channel.startsWith(this.#prefix)) return;
    this.#events?.message(message, via, channel.slice(this.#prefix.length));
  }

  #failure(error: Error): void {
    const failure = fromRedisError(error);
    this.#lastError = failure;
    if (failure.code === 'unauthorized' && !this.#closed) {
      this.#closed = true;
      this.#events?.failed(failure);
    }
  }

  #down(role: 'subscriber' | 'publisher'): void {
    if (role === 'publisher') {
      this.#publisherReady = false;
      return;
    }
    this.#subscriberReady = false;
    if (this.#wasReady) this.#missed = true;
    // Its resubscribe in flight, if any, is for a connection that is gone (a publisher drop leaves it alone).
    this.#round++;
  }

  #up(role: 'subscriber' | 'publisher'): void {
    if (this.#closed) return;
    if (role === 'publisher') {
      this.#publisherReady = true;
      return this.#readyWhenBoth();
    }
    // A fresh connection has no subscriptions: listen to every pattern again before saying so.
    const round = ++this.#round;
    this.#keys.clear();
    const patterns = this.#events!.patterns();
    Promise.all(patterns.map((pattern) => this.listen(pattern))).then(
      () => {
        if (round !== this.#round || this.#closed) return;
        this.#subscriberReady = true;
        this.#readyWhenBoth();
      },
      () => {
        // The connection went again: its next ready resubscribes.
      },
    );
  }

  #readyWhenBoth(): void {
    if (!this.#subscriberReady || !this.#publisherReady || this.#closed) return;
    const missed = this.#missed;
    this.#missed = false;
    this.#wasReady = true;
    this.#attempt = 0;
    this.#events?.ready(missed);
  }

  keysFor(pattern: string): readonly string[] {
    return redisKeysFor(pattern, this.#prefix);
  }

  async publish(topic: string, payload: string): Promise<void> {
    try {
      await this.#publisher!.publish(this.#prefix + topic, payload);
    } catch (error) {
      throw fromRedisError(error);
    }
  }

  async listen(pattern: string): Promise<void> {
    const subscriber = this.#subscriber!;
    await Promise.all(
      this.keysFor(pattern).map((key) => {
        const known = this.#keys.get(key);
        if (known) {
          known.count++;
          return known.live;
        }
        const name = key.slice(2);
        const live = (key.startsWith('p:') ? subscriber.psubscribe(name) : subscriber.subscribe(name)).catch((error: unknown) => {
          this.#keys.delete(key);
          throw fromRedisError(error);
        });
        this.#keys.set(key, { count: 1, live });
        return live;
      }),
    );
  }

  async unlisten(pattern: string): Promise<void> {
    const subscriber = this.#subscriber!;
    await Promise.all(
      this.keysFor(pattern).map(async (key) => {
        const known = this.#keys.get(key);
        if (!known || --known.count > 0) return;
        this.#keys.delete(key);
        const name = key.slice(2);
        // The reply comes after every message Redis sent for it before.
        await (key.startsWith('p:') ? subscriber.punsubscribe(name) : subscriber.unsubscribe(name)).catch((error: unknown) => {
          throw fromRedisError(error);
        });
      }),
    );
  }

  async flush(): Promise<void> {
    // PING's reply follows every message Redis queued for this connection before it.
    await this.#subscriber?.ping().catch(() => {});
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#subscriber, this.#publisher].map((client) => client && quitRedis(client)));
  }
}

/**
 * What `quitRedis` needs of an ioredis client, named here rather than taken
 * from ioredis: this function is in the /protocol declarations the broker's
 * types reach, and a consumer compiling them under --strict must not have to
 * compile ioredis's own (which need a module with no types, redis-errors).
 */
export interface QuittableRedis {
  readonly status: string;
  quit(): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
}

/** QUIT when connected (the server sees a clean goodbye); otherwise stop the reconnect loop. */
export async function quitRedis(client: QuittableRedis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // Fall through: whatever state it is in, it must not reconnect.
    }
  }
  client.disconnect(false);
}

/** ioredis's errors as eventwire codes. */
export function fromRedisError(error: unknown): EventwireError {
  if (error instanceof EventwireError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code =
    /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)
      ? 'unauthorized'
      : /NOPERM/.test(message)
        ? 'forbidden'
        : /timed? ?out/i.test(message)
          ? 'timeout'
          : /closed|not writeable|ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|connect/i.test(message)
            ? 'connection_closed'
            : 'internal';
  return new EventwireError(code, `Redis: ${message}`, { cause: error });
}

const defaultBackoff = fullJitterBackoff();
