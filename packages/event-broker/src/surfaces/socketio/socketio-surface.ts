// The Socket.IO surface: socket.io-client v4 (and any Socket.IO v5 client)
// connects unchanged to `/socket.io/`, over long-polling, WebSocket, or
// polling upgraded to WebSocket (our Engine.IO layer, engine/). Rooms are
// topics (rooms.ts), emits are publishes (arguments.ts), so every other
// surface, an EventChannel and the HTTP APIs reach Socket.IO rooms and the
// other way round. `broker.socketio` (server-api.ts) is `setup`'s handle.
// With `redis`, the Redis emitters' bridge runs beside the sessions: started
// when the broker listens (as the cluster link is), so `setup` has declared
// its namespaces before the first emit is read; closed with the broker.
import type { Surface, SurfaceDescription } from '../surface.js';
import type { SurfaceHost } from '../surface-host.js';
import { EngineServer } from './engine/engine-server.js';
import { startRedisBridge, type RedisBridge, type RedisBridgeStats } from './redis-bridge.js';
import { SocketIoSessionStore } from './session-store.js';
import { socketIoDefaults, type SocketIoOptions } from './socketio-options.js';
import { SocketIoSession } from './socketio-session.js';
import { SocketIoServerImpl } from './socketio-server.js';

/** The Socket.IO surface, with the server-side API `setup` drives. */
export interface SocketIoSurface extends Surface<undefined> {
  readonly server: SocketIoServerImpl;
  /** The Engine.IO sessions open now. */
  readonly engine: EngineServer;
  /** The Redis emitters' bridge's counters, when `redis` is set (all zero before the broker listens); undefined otherwise. */
  redisBridgeStats(): RedisBridgeStats | undefined;
}

/** The bridge's counters before it starts. */
const notStarted: RedisBridgeStats = { subscribed: false, disconnects: 0, received: 0, delivered: 0, unsupported: {}, refused: {} };

/** The Socket.IO surface, known without a broker. */
export function describeSocketIoSurface(options: SocketIoOptions): SurfaceDescription {
  return {
    name: 'socketio',
    websocket: options.path ?? socketIoDefaults.path,
    title: 'Socket.IO',
    description: 'Socket.IO v4/v5 over Engine.IO (socket.io-client unchanged, long-polling or WebSocket): rooms are topics, emits are publishes.',
    credentials: 'optional',
  };
}

export function createSocketIoSurface(host: SurfaceHost, options: SocketIoOptions): SocketIoSurface {
  const server = new SocketIoServerImpl(host, options.namespaces ?? socketIoDefaults.namespaces);
  const description = describeSocketIoSurface(options);
  const engine: EngineServer = new EngineServer(host, () => surface, {
    path: description.websocket,
    pingInterval: options.pingInterval ?? socketIoDefaults.pingInterval,
    pingTimeout: options.pingTimeout ?? socketIoDefaults.pingTimeout,
    maxPayload: options.maxPayload ?? socketIoDefaults.maxPayload,
    upgradeTimeout: options.upgradeTimeout ?? socketIoDefaults.upgradeTimeout,
    ...(options.cors && { cors: options.cors }),
  });
  const context = {
    host,
    namespace: (name: string, auth: Readonly<Record<string, unknown>>) => server.namespace(name, auth),
    connectTimeout: options.connectTimeout ?? socketIoDefaults.connectTimeout,
    clientJoin: options.clientJoin ?? socketIoDefaults.clientJoin,
    ...(options.recovery && { recovery: new SocketIoSessionStore(host, options.recovery === true ? {} : options.recovery) }),
  };
  const redis = typeof options.redis === 'string' ? { url: options.redis } : options.redis;
  let bridge: RedisBridge | undefined;
  let closed = false;
  const surface: SocketIoSurface = {
    name: 'socketio',
    endpoints: { websocket: engine.path, http: [engine.path] },
    // A token at the handshake (`?token=`, a header) is checked there; most
    // Socket.IO clients send theirs in CONNECT's auth payload, checked then.
    credentials: description.credentials,
    claims: (url) => engine.claims(url),
    adopt: (upgrade) => engine.adopt(upgrade),
    accept: ({ url }) => ({ state: undefined, wire: engine.accept(url) }),
    refuse: (upgrade, error) => engine.refuse(upgrade, error),
    open: (start) => new SocketIoSession(start, context),
    http: { serveTransport: (request, response, url) => engine.serve(request, response, url) },
    upgradeHint: (_path, origin) => `connect socket.io-client to ${origin.http} (path "${engine.path}") (Socket.IO)`,
    listening: () => {
      if (!redis || bridge || closed) return;
      bridge = startRedisBridge({
        url: redis.url,
        ...(redis.channel !== undefined && { channel: redis.channel }),
        ...(redis.key !== undefined && { key: redis.key }),
        server,
        // Asked on every message, so a namespace `setup` declares later is reachable from then on.
        acceptNamespace: (name) => server.accepts(name),
        topicLimits: host.limits.topicLimits,
        log: (record) => host.logRecord(record),
      });
    },
    close: async () => {
      closed = true;
      await bridge?.close();
    },
    redisBridgeStats: () => (redis ? (bridge?.stats() ?? notStarted) : undefined),
    server,
    engine,
  };
  return surface;
}
