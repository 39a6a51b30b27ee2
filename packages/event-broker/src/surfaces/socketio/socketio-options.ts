// What the `socketio` option configures: the Engine.IO endpoint (engine.io's
// defaults, so a socket.io-client told nothing else finds what it expects)
// and the Socket.IO layer on it (socket.io's connectTimeout, the namespaces
// clients may CONNECT to, a client request to join rooms).
import type { EngineCors } from './engine/engine-options.js';
import type { SocketIoRecoveryOptions } from './session-store.js';

export interface SocketIoOptions {
  /** Where socket.io-client connects (its `path` option), with the trailing slash. @default '/socket.io/' */
  readonly path?: string;
  /** Browser origins allowed to reach the endpoint from other origins (long-polling is plain XHR). @default none: same-origin pages only */
  readonly cors?: EngineCors;
  /** Milliseconds between Engine.IO pings. @default 25000 */
  readonly pingInterval?: number;
  /** Milliseconds a client has to answer a ping before its connection is closed. @default 20000 */
  readonly pingTimeout?: number;
  /** Most bytes one long-polling POST (or one message) may carry. @default 1000000 */
  readonly maxPayload?: number;
  /** Milliseconds a WebSocket upgrade may take before polling goes on. @default 10000 */
  readonly upgradeTimeout?: number;
  /** Milliseconds a new connection has to CONNECT a namespace before it is closed. @default 45000 */
  readonly connectTimeout?: number;
  /**
   * Namespaces a client may CONNECT to without `setup` declaring them with
   * `broker.socketio.of(name)`; any other is refused `Invalid namespace`.
   * @default ['/']
   */
  readonly namespaces?: readonly string[];
  /**
   * The event name a client emits to join rooms itself
   * (`socket.emit('subscribe', 'chat.7', ack)`), checked by the channel
   * rules and answered `{ ok: true }` or `{ error: { code, message } }`;
   * `false`: only the server joins sockets to rooms.
   * @default false
   */
  readonly clientJoin?: string | false;
  /**
   * Connection state recovery (Socket.IO's `connectionStateRecovery`), kept
   * in the broker's history so it survives a restart with a durable store:
   * `true` for the defaults (session-store.ts `socketIoRecoveryDefaults`).
   * A socket is recovered only when history keeps every topic it is on
   * (`$nsp`, `$sid.<id>`, its rooms: e.g. a `#` rule). The CONNECT answer
   * then carries a `pid` and replayable events an offset as last argument.
   * @default false
   */
  readonly recovery?: boolean | SocketIoRecoveryOptions;
  /**
   * The Redis the Socket.IO Redis emitters publish to (python-socketio's
   * `AsyncRedisManager(url, write_only=True)`, npm's
   * `@socket.io/redis-emitter`): their emits and requests reach this
   * surface's rooms as `broker.socketio`'s would (redis-bridge.ts,
   * PROTOCOL.md §7.4). A URL, or `{ url, channel, key }` when the emitters
   * use another channel (python) or key (Node). Run it on ONE broker of a
   * cluster: the cluster carries its emits to the others.
   * @default none: no bridge
   */
  readonly redis?: string | SocketIoRedisOptions;
}

/** The `redis` option in full. */
export interface SocketIoRedisOptions {
  /** `redis://[user:password@]host:6379[/db]`, `rediss://…` for TLS. */
  readonly url: string;
  /** python-socketio's channel (its manager's `channel=`). @default 'socketio' */
  readonly channel?: string;
  /** `@socket.io/redis-emitter`'s `key`. @default 'socket.io' */
  readonly key?: string;
}

export const socketIoDefaults = {
  path: '/socket.io/',
  pingInterval: 25_000,
  pingTimeout: 20_000,
  maxPayload: 1_000_000,
  upgradeTimeout: 10_000,
  connectTimeout: 45_000,
  namespaces: ['/'] as readonly string[],
  clientJoin: false,
  recovery: false,
} as const satisfies Required<Omit<SocketIoOptions, 'cors' | 'redis'>>;
