import type { PusherAppOptions } from './surfaces/pusher/pusher-apps.js';
import type { DashboardOptions } from './dashboard/dashboard.js';
import type { ClusterEngine } from './cluster/cluster-engine.js';
import type { ClusterOptions } from './cluster/cluster-options.js';
import type { EventMap, EventTracing, EventwireError, TopicLimits } from '@eventwire/event-channel';
import type { HistoryRule, HistoryStore } from '@eventwire/event-channel/protocol';
import type { RateLimits } from './auth/access.js';
import type { Authenticator } from './auth/authenticate.js';
import type { PermissionRules } from './auth/permissions.js';
import type { SurfaceFactory } from './surfaces/surface-host.js';

/** Options of {@link EventBrokerServer}. Every field is optional. */
export interface BrokerOptions<TEvents extends EventMap = EventMap> {
  /**
   * TCP port for WebSocket and HTTP. 0 lets the OS choose (see `listen()`'s result).
   * @default 15500
   */
  readonly port?: number;
  /**
   * Interface to bind. Use `0.0.0.0` to accept connections from other hosts.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * The event map the broker enforces: publishes to undeclared topics are
   * refused with `unknown_event` and data failing its schema with
   * `invalid_payload`. Hooks are typed from it.
   */
  readonly events?: TEvents;
  /**
   * With `events`, let topics the map does not declare through unchecked.
   * @default false
   */
  readonly allowUnknownTopics?: boolean;
  /**
   * Largest accepted message (a WebSocket frame or an HTTP body), in bytes.
   * Bigger ones get `payload_too_large` (HTTP 413) and the connection stays up.
   * @default 1_048_576 (1 MiB)
   */
  readonly maxPayloadBytes?: number;
  /**
   * Most levels of nesting an event's data may have (`{"a":{"a":…}}`, `[[…]]`;
   * `{"a":1}` is 1 deep), checked on every surface before any hook, schema or
   * store sees it. Deeper data, and numbers JSON cannot carry (`1e400`, which
   * parses as Infinity), get `invalid_payload` (HTTP 400); the connection stays up.
   * At most 1000 (`MAX_PAYLOAD_DEPTH`): deeper data could overflow the stack
   * of the `JSON.stringify` that sends every event.
   * @default 128
   */
  readonly maxPayloadDepth?: number;
  /**
   * Most patterns one connection may hold; more get `limit_exceeded`.
   * @default 1000
   */
  readonly maxSubscriptionsPerConnection?: number;
  /** Bounds on topics and patterns. @default topicLimitDefaults */
  readonly topicLimits?: TopicLimits;
  /**
   * Bytes a connection may keep waiting to be sent. One whose unsent data is
   * still above this `slowConsumerMs` after it was seen above it (it is not
   * reading), or ever reaches twice this (a hard bound on the memory it
   * holds), is a slow consumer: closed with 4008, so it never holds back
   * anyone else. A reader that takes a burst bigger than this and drains it
   * in time is not cut.
   * @default 8_388_608 (8 MiB)
   */
  readonly maxOutboundBytes?: number;
  /**
   * Bytes all connections together may keep waiting to be sent. Over it the
   * readers furthest behind are cut first (counted as slow consumers, dropped
   * at once), so a burst to thousands of stalled readers cannot exhaust the
   * memory while healthy readers, which hold little, keep receiving.
   * @default a quarter of the memory the process may use (the cgroup's limit, else the machine's), at most 1 GiB
   */
  readonly maxTotalOutboundBytes?: number;
  /**
   * How long a connection's unsent data may stay above `maxOutboundBytes`.
   * @default 1000
   */
  readonly slowConsumerMs?: number;
  /**
   * Heartbeat interval: the broker pings every connection this often and drops
   * one that did not answer the previous ping. Announced to clients.
   * @default 25_000
   */
  readonly heartbeatMs?: number;
  /**
   * How long a native-protocol client may stay connected without sending
   * `hello`; then it is closed with 4000. Bounds what idle, never-greeting
   * sockets can hold.
   * @default 10_000
   */
  readonly helloTimeoutMs?: number;
  /**
   * Longest an `intercept` hook may take before the publish fails with `timeout`.
   * @default 1000
   */
  readonly interceptTimeoutMs?: number;
  /**
   * Longest one `observe` call may take before it counts as failed and the
   * observer moves on to its next event.
   * @default 30_000
   */
  readonly observerTimeoutMs?: number;
  /**
   * How many generations of derived events (a hook's `emit` reacting to an
   * event that was itself derived) are allowed; deeper ones are dropped and
   * counted, which stops hook loops.
   * @default 8
   */
  readonly maxDerivedDepth?: number;
  /**
   * How long `close()` waits for clients to finish their closing handshake.
   * @default 5000
   */
  readonly shutdownTimeoutMs?: number;
  /**
   * The envelope `source` of events the broker itself emits (derived events,
   * server-side publishes).
   * @default 'urn:eventwire:broker'
   */
  readonly source?: string;
  /**
   * Topics that keep history: events on them get an `offset`, are stored
   * (bounded per topic by `maxEvents` and `maxAgeMs`), replayed to clients
   * that reconnect, readable with `GET /history/{pattern}`, and deduplicated
   * when a publish is re-sent. The first matching rule applies.
   * @example [{ pattern: 'order.#', maxEvents: 10_000, maxAgeMs: 86_400_000 }]
   */
  readonly history?: readonly HistoryRule[];
  /**
   * Join a cluster: brokers on one server share one event space. The URL's
   * scheme picks the engine: `'nats://host:4222'` (history in JetStream),
   * `'redis://host:6379'` or `'postgres://user@host/db'`; or options with
   * credentials and the node name; or an engine (`createClusterEngine`, or
   * one of your own implementing `ClusterEngine`). See docs/SCALING.md.
   */
  readonly cluster?: string | ClusterOptions | ClusterEngine;
  /**
   * A directory for durable state: with it, history goes to an append-only
   * log in `<dataDir>/history` that survives restarts and `kill -9`.
   */
  readonly dataDir?: string;
  /**
   * When the durable log forces writes to disk: `'always'` (before each ack),
   * a number of milliseconds, or `'never'`. See `LogHistoryStoreOptions.fsync`.
   * @default 100
   */
  readonly historyFsync?: 'always' | 'never' | number;
  /**
   * Most bytes the durable log keeps on disk; past it the oldest segments
   * are deleted (readers behind them get a gap).
   * @default 1_073_741_824 (1 GiB)
   */
  readonly historyMaxBytes?: number;
  /**
   * Most bytes of history held in memory: by the in-memory store, by the
   * durable log's index (what reads are served from), and by each cluster
   * broker's mirror of the JetStream stream. Events count their estimated
   * heap cost (their data walked, plus ~390 bytes each); past the bound the
   * oldest go, and a reader behind them is told of a gap (`trimmed`), as past
   * a rule's `maxEvents`. Without it, history in memory was bounded only by
   * event counts (1,000,000 events of up to `maxPayloadBytes` each).
   * @default an eighth of the memory the process may use (the cgroup's limit, else RAM), at most 1 GiB
   */
  readonly historyMaxMemoryBytes?: number;
  /**
   * Where history is stored, overriding `dataDir`. @default a `LogHistoryStore`
   * in `dataDir` when given, else a `MemoryHistoryStore` (lost on restart; its
   * epoch changes, so clients are told of the gap)
   */
  readonly historyStore?: HistoryStore;
  /**
   * Most missed events one reconnecting client is replayed; past it the
   * client gets a `replay_limit` gap.
   * @default 10_000
   */
  readonly maxReplayEvents?: number;
  /**
   * Who may connect: every WebSocket connection and HTTP call (but `/health`)
   * is authenticated with the credential it carries (`?token=`,
   * `Authorization: Bearer`, Basic's password, or the native hello's
   * `token`). Wrong credentials are refused before any state is created:
   * HTTP 401, a refused upgrade, or close 4001. `createJwtAuthenticator()`
   * verifies JWTs; any function will do. Without it, everyone is anonymous.
   */
  readonly authenticate?: Authenticator;
  /**
   * Whether a request without credentials is let in as anonymous.
   * @default true without `authenticate`, false with it
   */
  readonly allowAnonymous?: boolean;
  /**
   * What users may publish and subscribe, by pattern, for users whose
   * `authenticate` result carries no `permissions` of its own: per user id,
   * for every authenticated user, for anonymous connections. Refusals are
   * `forbidden` (HTTP 403). Unrestricted when omitted.
   * @example { users: { 'svc-orders': { publish: ['order.*'], subscribe: ['inventory.#'] } }, anonymous: { publish: [] } }
   */
  readonly permissions?: PermissionRules;
  /**
   * Token-bucket rate limits per connection and per IP for publishes,
   * subscribes and connects, and for failed authentications (on by default).
   * Refusals are `rate_limited` error frames or HTTP 429, with when to retry.
   */
  readonly rateLimits?: RateLimits;
  /**
   * Most WebSocket connections at once; a newcomer past it is refused with
   * 503 and `Retry-After`, never reset. The default keeps a reserve of file
   * descriptors below the process's open-file limit (5% of it, 32 to 1000;
   * see capacity.ts), so at the cap `/health`, `/stats`, HTTP publish and the
   * broker's own files keep working.
   * @default open-file limit − reserve (Linux), else 10,000
   */
  readonly maxConnections?: number;
  /**
   * Most WebSocket connections from one IP address; past it, 429 with `Retry-After`.
   * @default unlimited
   */
  readonly maxConnectionsPerIp?: number;
  /**
   * Addresses of reverse proxies in front of the broker (exact, as the socket
   * reports them: `127.0.0.1`, `10.0.0.5`). A request from one of them counts
   * against the client it forwarded for (`X-Forwarded-For`, the right-most
   * entry that is not a trusted proxy), not against the proxy; from anyone
   * else the header is ignored, since clients can forge it.
   * @default none
   */
  readonly trustedProxies?: readonly string[];
  /**
   * Where the simple broadcasting WebSocket surface listens (the one FastAPI
   * "Laravel-like broadcasting" clients use: `{"event":"subscribe","channel":…}`
   * in, `{"event","channel","data"}` out); `false` turns it off.
   * @default '/api/v1/broadcasting/ws'
   */
  readonly broadcastingPath?: string | false;
  /**
   * Wire surfaces of your own, beside the built-in ones (native, Synap,
   * broadcasting, Pusher): each factory gets what the broker offers (the
   * core, the session operations, access, limits) and returns a `Surface`
   * (see `surfaces/surface.ts`). Its clients go through the same admission,
   * authentication, rules, hooks and router as every other.
   * @default []
   */
  readonly surfaces?: readonly SurfaceFactory[];
  /**
   * The Pusher Channels surface (protocol 7), so pusher-js and Laravel Echo
   * connect unchanged: WebSocket `/app/{key}`, the HTTP API under
   * `/apps/{id}/…` that Pusher's server libraries sign, and the channel and
   * user auth endpoints. `true` serves the development app
   * `app-id`/`app-key`/`app-secret` (a well-known secret: never in
   * production). Off unless set.
   */
  readonly pusher?: boolean | PusherOptions;
  /**
   * `GET /metrics` in Prometheus text format (behind the broker's
   * authentication, as `/stats` is); `false` turns it off.
   * @default true
   */
  readonly metrics?: boolean | MetricsOptions;
  /**
   * A span around each event the broker routes (validation, hooks, delivery),
   * a child of the trace the event arrived with (`traceparent`); subscribers
   * receive it carrying the broker span's traceparent, and hook-emitted
   * events carry it on. `openTelemetryTracing()` from `@eventwire/event-channel/otel`.
   * @default off
   */
  readonly tracing?: EventTracing;
  /**
   * The live dashboard at `/dashboard`: connections and rates, top topics,
   * hooks, slow consumers, the last events (redacted previews) and a form to
   * publish a test event. It reads `$sys.stats` and `$sys.events`, which only
   * `users` may subscribe to when the broker authenticates.
   * @default off
   */
  readonly dashboard?: boolean | DashboardOptions;
  /**
   * Most members (distinct users) one presence channel may have; a newcomer
   * past it is refused with `limit_exceeded`.
   * @default 100
   */
  readonly maxPresenceMembers?: number;
  /** Receives one readable line per connection and state change. Silent by default. */
  readonly log?: (line: string) => void;
  /**
   * Receives failures nobody else hears of: failing observers, dropped derived
   * events, transport errors. @default writes to console.error
   */
  readonly onError?: (error: EventwireError) => void;
}

/** The `metrics` option in full. */
export interface MetricsOptions {
  /** @default '/metrics' */
  readonly path?: string;
  /**
   * Topic patterns counted apart under a `topic_group` label (the first
   * matching one wins; every other topic is `other`). Raw topics never become
   * labels: they are unbounded and chosen by clients.
   * @default none
   */
  readonly topicGroups?: readonly string[];
  /**
   * prom-client's default process and Node.js metrics (CPU, memory, GC, event-loop lag).
   * @default true
   */
  readonly defaultMetrics?: boolean;
}

/** The `pusher` option in full. */
export interface PusherOptions {
  /** The apps served; the first is the default (its channels are topics as they are). @default the development app */
  readonly apps?: readonly PusherAppOptions[];
  /**
   * Where channel auth is answered (Laravel's path; Echo's `authEndpoint`); `false` turns it off.
   * @default '/broadcasting/auth'
   */
  readonly authPath?: string | false;
  /**
   * Where user auth for `pusher:signin` is answered (pusher-js's `userAuthentication.endpoint`); `false` turns it off.
   * @default '/pusher/user-auth'
   */
  readonly userAuthPath?: string | false;
  /**
   * Origins whose pages may call the auth endpoints from the browser (CORS),
   * `'*'` for any. Same-origin and server-side calls need none.
   * @default none
   */
  readonly allowedOrigins?: readonly string[] | '*';
}

/** The defaults of {@link BrokerOptions}. */
export const brokerDefaults = {
  port: 15500,
  host: '127.0.0.1',
  allowUnknownTopics: false,
  maxPayloadBytes: 1_048_576,
  maxPayloadDepth: 128,
  maxSubscriptionsPerConnection: 1000,
  maxOutboundBytes: 8_388_608,
  slowConsumerMs: 1000,
  heartbeatMs: 25_000,
  helloTimeoutMs: 10_000,
  interceptTimeoutMs: 1000,
  observerTimeoutMs: 30_000,
  maxDerivedDepth: 8,
  shutdownTimeoutMs: 5000,
  source: 'urn:eventwire:broker',
  maxReplayEvents: 10_000,
  maxPresenceMembers: 100,
} as const;
