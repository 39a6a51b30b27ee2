// The Redis emitters' bridge: what python-socketio's `AsyncRedisManager`
// (`write_only=True`) and npm's `@socket.io/redis-emitter` publish into Redis,
// unchanged on their side, reaches the broker's Socket.IO server and through it
// the sockets, EventChannels and every other surface on those topics.
//
// One subscriber connection (ioredis): `SUBSCRIBE socketio` (python-socketio's
// channel), `PSUBSCRIBE socket.io#*` (the Node emitter's emits, every
// namespace) and `PSUBSCRIBE socket.io-request#*` (its requests). Each message
// is decoded by its format (pickle or JSON from python, msgpack or JSON from
// Node: redis-messages.ts, never executing anything) and carried out through
// the server-side API only (emitter-dispatch.ts). Nothing is ever published:
// the bridge reads, so what the broker emits cannot come back to it.
//
// Bad input never throws out of the subscriber: every message ends counted as
// delivered, unsupported (python's `callback`, the emitter's `serverSideEmit`)
// or refused by reason (`stats()`, for /metrics), and refusals and unsupported
// features are logged at most once per `logIntervalMs` per reason, with the
// first bytes in hex — a flood of bad messages cannot flood the log.
//
// CLUSTER: run the bridge on ONE broker of a cluster. Its emits are broker
// publishes, which the cluster delivers to every broker's sockets (hooks and
// history see each once); a bridge on every broker would deliver every emit N
// times. Requests (socketsJoin/Leave, disconnectSockets) act on the sockets of
// the broker that runs the bridge only, as the server API says.
//
// Redis pub/sub keeps nothing: what the emitters publish while the bridge's
// connection is down is lost, as it is for a Socket.IO server on the Redis
// adapter. The connection comes back with full-jitter backoff and subscribes
// again before `stats().subscribed` is true.
import { EventwireError, fullJitterBackoff, topicLimitDefaults, type TopicLimits } from '@eventwire/event-channel';
import { quitRedis } from '@eventwire/event-channel/protocol';
import type { Redis, RedisOptions } from 'ioredis';
import type { BrokerLogger } from '../../log-record.js';
import { dispatchEmitterItem, type DispatchOutcome, type UnsupportedEmitterFeature } from './emitter-dispatch.js';
import { EmitterMessageError } from './emitter-error.js';
import { decodeNodeEmitterMessage, decodeNodeEmitterRequest, decodePythonManagerMessage, type EmitterItem } from './redis-messages.js';
import type { NamespaceName, SocketIoServer } from './server-api.js';

/** Options of {@link startRedisBridge}. */
export interface RedisBridgeOptions {
  /** The Redis the emitters publish to: `redis://[user:password@]host:6379[/db]`, `rediss://…` for TLS. */
  readonly url: string;
  /** The server whose API carries the emits out (`broker.socketio`). */
  readonly server: SocketIoServer;
  /** Receives refusals, unsupported features and connection trouble, rate-limited. */
  readonly log: BrokerLogger;
  /**
   * python-socketio's channel (its manager's `channel=` argument).
   * @default 'socketio'
   */
  readonly channel?: string;
  /**
   * `@socket.io/redis-emitter`'s key (its `key` option): emits on `<key>#<nsp>#…`, requests on `<key>-request#<nsp>#`.
   * @default 'socket.io'
   */
  readonly key?: string;
  /**
   * Whether the emitters may reach namespace `name`. A message for any other
   * is refused `unknown_namespace`, as a Socket.IO server drops what its
   * adapter was not listening for — and so that an emitter cannot declare
   * namespaces on the server without bound. Give the server's declared
   * namespaces.
   * @default only the root namespace `/`
   */
  readonly acceptNamespace?: (name: NamespaceName) => boolean;
  /**
   * The broker's topic limits, to refuse a room that maps onto no topic before the server sees it.
   * @default topicLimitDefaults
   */
  readonly topicLimits?: TopicLimits;
  /**
   * At most one log line per refusal reason (and per unsupported feature) in this time.
   * @default 60_000
   */
  readonly logIntervalMs?: number;
  /**
   * The delay before reconnect attempt n (1 for the first) to Redis.
   * @default full jitter, 250 ms doubling up to 30 s (fullJitterBackoff)
   */
  readonly backoff?: (attempt: number) => number;
  /** Anything else ioredis's options accept (TLS, password, sentinels…), passed through and winning. */
  readonly redisOptions?: Readonly<Record<string, unknown>>;
}

/** Defaults of {@link RedisBridgeOptions}. */
export const redisBridgeDefaults = {
  channel: 'socketio',
  key: 'socket.io',
  acceptNamespace: (name: NamespaceName): boolean => name === '/',
  logIntervalMs: 60_000,
} as const;

/** What the bridge has done since it started: `received` = `delivered` + every `unsupported` + every `refused`. */
export interface RedisBridgeStats {
  /** Subscribed to every channel on a live connection. */
  readonly subscribed: boolean;
  /** Connections to Redis lost since the start. */
  readonly disconnects: number;
  /** Messages read from Redis. */
  readonly received: number;
  /** Emits and requests the server accepted. */
  readonly delivered: number;
  /** Messages asking for what the broker does not do, by feature. */
  readonly unsupported: Readonly<Partial<Record<UnsupportedEmitterFeature, number>>>;
  /** Messages refused, by reason (`forbidden_opcode`, `not_json`, `unknown_namespace`, `invalid_topic`, a hook's code…). */
  readonly refused: Readonly<Record<string, number>>;
}

/** A running bridge. */
export interface RedisBridge {
  stats(): RedisBridgeStats;
  /** Resolves once subscribed (again); resolves at once when already so, never when closed first. */
  subscribed(): Promise<void>;
  /** Quits the connection and stops reconnecting; idempotent. */
  close(): Promise<void>;
}

type Decoder = (channel: string, bytes: Buffer) => EmitterItem;

/**
 * Subscribes to what the Redis emitters publish and carries it out on `server`.
 *
 * @example
 * const bridge = startRedisBridge({ url: 'redis://127.0.0.1:6379', server: broker.socketio!, log: console.log,
 *   acceptNamespace: (name) => name === '/' || name === '/admin' });
 */
export function startRedisBridge(options: RedisBridgeOptions): RedisBridge {
  return new RedisEmitterBridge(options);
}

class RedisEmitterBridge implements RedisBridge {
  readonly #options: RedisBridgeOptions;
  readonly #channel: string;
  readonly #key: string;
  readonly #patterns: ReadonlyMap<string, Decoder>;
  readonly #acceptNamespace: (name: NamespaceName) => boolean;
  readonly #topicLimits: TopicLimits;
  readonly #logLimit: LogLimit;
  #client: Redis | undefined;
  #closed = false;
  #subscribed = false;
  /** Bumped on every (re)connect and loss: a subscribe overtaken by a newer connection does not report subscribed. */
  #round = 0;
  #disconnects = 0;
  #received = 0;
  #delivered = 0;
  readonly #unsupported: Partial<Record<UnsupportedEmitterFeature, number>> = {};
  readonly #refused: Record<string, number> = {};
  #waiting: Array<() => void> = [];

  constructor(options: RedisBridgeOptions) {
    this.#options = options;
    this.#channel = options.channel ?? redisBridgeDefaults.channel;
    this.#key = options.key ?? redisBridgeDefaults.key;
    this.#acceptNamespace = options.acceptNamespace ?? redisBridgeDefaults.acceptNamespace;
    this.#topicLimits = options.topicLimits ?? topicLimitDefaults;
    this.#logLimit = new LogLimit(options.logIntervalMs ?? redisBridgeDefaults.logIntervalMs);
    const key = this.#key;
    this.#patterns = new Map<string, Decoder>([
      [`${escapeGlob(key)}#*`, (channel, bytes) => this.#nodeEmit(channel, bytes)],
      [`${escapeGlob(key)}-request#*`, (channel, bytes) => decodeNodeEmitterRequest(channel, bytes, key)],
    ]);
    // ioredis is loaded when a bridge starts, not with the broker.
    void import('ioredis').then(
      (module) => this.#start(module.Redis),
      (error: unknown) => this.#options.log({ level: 'error', msg: `socket.io redis bridge: cannot load ioredis: ${String(error)}`, code: 'internal' }),
    );
  }

  #start(Client: typeof Redis): void {
    if (this.#closed) return;
    const backoff = this.#options.backoff ?? fullJitterBackoff();
    const base = {
      // Subscribed again on every ready, here, and only then reported subscribed.
      autoResubscribe: false,
      enableOfflineQueue: false,
      retryStrategy: (attempt) => (this.#closed ? null : backoff(attempt)),
      maxRetriesPerRequest: null,
      connectionName: 'eventwire-socketio-bridge',
    } satisfies RedisOptions;
    const client = new Client(this.#options.url, Object.assign(base, this.#options.redisOptions));
    this.#client = client;
    client.on('error', (error: Error) => this.#limited('connection', 'warn', `socket.io redis bridge: ${error.message}`));
    client.on('close', () => {
      if (this.#subscribed) this.#disconnects++;
      this.#subscribed = false;
      this.#round++;
    });
    client.on('ready', () => this.#subscribe(client));
    client.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === this.#channel) this.#handle(message, () => decodePythonManagerMessage(message));
    });
    client.on('pmessageBuffer', (pattern: Buffer, channel: Buffer, message: Buffer) => {
      const decode = this.#patterns.get(pattern.toString());
      if (decode) this.#handle(message, () => decode(channel.toString(), message));
    });
  }

  #subscribe(client: Redis): void {
    if (this.#closed) return;
    const round = ++this.#round;
    Promise.all([client.subscribe(this.#channel), client.psubscribe(...this.#patterns.keys())]).then(
      () => {
        if (round !== this.#round || this.#closed) return;
        this.#subscribed = true;
        for (const resolve of this.#waiting.splice(0)) resolve();
      },
      () => {
        // The connection went again: its next ready subscribes.
      },
    );
  }

  /** The Node emitter's emit: the namespace in the channel (`<key>#<nsp>#[<room>#]`) must be the packet's, as the Redis adapter listens per namespace. */
  #nodeEmit(channel: string, bytes: Buffer): EmitterItem {
    const item = decodeNodeEmitterMessage(bytes);
    if (item.kind === 'emit' && !channel.startsWith(`${this.#key}#${item.message.nsp}#`)) {
      throw new EmitterMessageError('bad_field', 'The packet\'s namespace is not the channel\'s');
    }
    return item;
  }

  #handle(bytes: Buffer, decode: () => EmitterItem): void {
    this.#received++;
    let outcome: DispatchOutcome;
    try {
      outcome = dispatchEmitterItem(decode(), this.#options.server, { acceptNamespace: this.#acceptNamespace, topicLimits: this.#topicLimits });
    } catch (error) {
      const refusal =
        error instanceof EmitterMessageError
          ? error
          : new EmitterMessageError('not_a_message', error instanceof Error ? error.message : String(error));
      outcome = { kind: 'refused', reason: refusal.reason, error: refusal };
    }
    switch (outcome.kind) {
      case 'delivered':
        this.#delivered++;
        return;
      case 'unsupported':
        this.#unsupported[outcome.feature] = (this.#unsupported[outcome.feature] ?? 0) + 1;
        this.#limited(`unsupported:${outcome.feature}`, 'warn', `socket.io redis bridge: ${outcome.feature} is not supported, message dropped`);
        return;
      case 'refused': {
        this.#refused[outcome.reason] = (this.#refused[outcome.reason] ?? 0) + 1;
        const opcode = outcome.error instanceof EmitterMessageError && outcome.error.opcode !== undefined ? ` ${outcome.error.opcode}` : '';
        this.#limited(`refused:${outcome.reason}`, 'warn', `socket.io redis bridge: message refused (${outcome.reason}${opcode}): ${outcome.error.message}; first bytes ${hexStart(bytes)}`, outcome.error);
        return;
      }
    }
  }

  #limited(key: string, level: 'warn' | 'error', msg: string, error?: EventwireError): void {
    const suppressed = this.#logLimit.take(key);
    if (suppressed === undefined) return;
    const more = suppressed > 0 ? ` (${suppressed} more of these since the last line)` : '';
    this.#options.log({ level, msg: msg + more, ...(error !== undefined && { code: error.code }) });
  }

  stats(): RedisBridgeStats {
    return {
      subscribed: this.#subscribed,
      disconnects: this.#disconnects,
      received: this.#received,
      delivered: this.#delivered,
      unsupported: { ...this.#unsupported },
      refused: { ...this.#refused },
    };
  }

  subscribed(): Promise<void> {
    if (this.#subscribed) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribed = false;
    this.#waiting = [];
    if (this.#client) await quitRedis(this.#client);
  }
}

/**
 * One log line per key per interval; the lines in between are counted and
 * the next line says how many there were.
 */
class LogLimit {
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** The count suppressed since the last line when a line may be written now; undefined when not. */
  take(key: string): number | undefined {
    const now = performance.now();
    const last = this.#last.get(key);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return undefined;
    }
    this.#last.set(key, { at: now, suppressed: 0 });
    return last?.suppressed ?? 0;
  }
}

/** The first bytes of a message in hex, what an operator needs to tell a format from garbage. */
function hexStart(bytes: Buffer, count = 32): string {
  const hex = bytes.subarray(0, count).toString('hex');
  return bytes.byteLength > count ? `${hex}… (${bytes.byteLength} bytes)` : hex;
}

/** Glob's own characters taken literally. */
function escapeGlob(text: string): string {
  return text.replace(/[\\?*[\]]/g, (character) => `\\${character}`);
}
