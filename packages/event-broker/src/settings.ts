// Every broker setting that a config file, an environment variable or a flag
// can hold, declared once: its schema (the file's validation), its flag and
// variable, how their text is read, its default and its --help line. The
// options type, `brokerDefaults`, the config file's type and schema, the
// CLI's `parseArgs` options and its usage text are all derived from this
// table, so a setting cannot exist in one of them and be missing in another
// (settings.test.ts walks every entry through file, environment and flag).
//
// The contract of an entry (and how text is read) is setting.ts.
//
// To add a setting: one entry below — `option<T>()` for an `EventBrokerServer`
// option (its key becomes a `BrokerOptions` field, documented by the TSDoc
// here), `configOnly<T>()` for what only a config builds (observers,
// authenticators) — and one sample in test/settings.test.ts.
import {
  MAX_PAYLOAD_DEPTH,
  parsePattern,
  topicLimitDefaults,
  type TopicError,
  type TopicLimits,
} from '@eventwire/event-channel';
import type { HistoryRule } from '@eventwire/event-channel/protocol';
import { z } from 'zod';
import type { ApiKey } from './auth/api-keys.js';
import type { RateLimits } from './auth/access.js';
import type { PermissionRules } from './auth/permissions.js';
import { defaultMaxConnections, defaultTotalOutboundBytes } from './capacity.js';
import type { ClusterEngine } from './cluster/cluster-engine.js';
import type { ClusterOptions } from './cluster/cluster-options.js';
import { clusterSchemes } from './cluster/create-engine.js';
import type { DashboardOptions } from './dashboard/dashboard.js';
import { logHistoryStoreDefaults } from './history/log-store.js';
import { brokerLogLevels, type BrokerLogLevel } from './log-record.js';
import { defaultHistoryMemoryBytes } from './history/memory-bound.js';
import type { MetricsOptions, PusherOptions } from './options.js';
import { pusherWebhookEventTypes } from './surfaces/pusher/pusher-webhook-sender.js';
import type { SocketIoOptions } from './surfaces/socketio/socketio-options.js';
import {
  asText,
  configOnly,
  decimal,
  exact,
  json,
  list,
  onOff,
  option,
  parseDuration,
  parseHistoryFlag,
  parsePusherFlag,
  parsePusherWebhookFlag,
  parseSize,
  pathOrOff,
  presence,
  wholeNumber,
  type OptionSetting,
  type Setting,
} from './setting.js';

export { exact, option } from './setting.js';
export type { Setting, SettingText } from './setting.js';

// ---------------------------------------------------------------------------
// Schemas shared by several settings

/** A positive number as given, or text that `parse` turns into one (its error becomes the message). */
function numberOrText(parse: (text: string) => number, expected: string) {
  return z.union(
    [
      z.number().int().positive(),
      z.string().transform((text, context) => {
        try {
          return parse(text);
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
    ],
    { error: expected },
  );
}

const duration = numberOrText(parseDuration, 'expected a duration: milliseconds or a string like "24h"');
const size = numberOrText(parseSize, 'expected a size: a byte count or a string like "1mb"');
const milliseconds = z.number({ error: 'expected milliseconds (a number)' }).int().nonnegative();
const count = z.number({ error: 'expected a whole number' }).int().positive();
/** The schemes a cluster engine speaks (create-engine.ts's table). */
const clusterUrl = new RegExp(`^(${clusterSchemes.join('|')})://`);
const clusterSchemeList = clusterSchemes.map((scheme) => `${scheme}://`);
const clusterUrlProblem = `expected a ${clusterSchemeList.slice(0, -1).join(', ')} or ${clusterSchemeList.at(-1)!} URL`;
/** Why a pattern given in config is not valid (its `{name}` captures read as `*`), or undefined. */
function patternProblem(text: string): string | undefined {
  try {
    parsePattern(text);
    return undefined;
  } catch (error) {
    return (error as TopicError).problem;
  }
}
const pattern = z.string().refine((text) => patternProblem(text) === undefined, {
  error: (issue) => `"${String(issue.input)}" is not a valid topic pattern (${patternProblem(String(issue.input))})`,
});
const redisUrl = z.string().regex(/^rediss?:\/\/\S+$/, 'expected a redis:// or rediss:// URL');
const httpPath = (example: string) => z.string().regex(/^\/[^?#\s]*$/, `expected a path such as ${example}`);

const permissionsSchema = z.strictObject({ publish: z.array(pattern).optional(), subscribe: z.array(pattern).optional() });
const rateSchema = z.strictObject({
  perSecond: z.number({ error: 'expected a rate per second (a positive number)' }).positive(),
  burst: count.optional(),
});
/** One webhook of a Pusher app (pusher-webhooks.ts's PusherWebhookOptions). */
const pusherWebhookSchema = z.strictObject(
  {
    url: z.string().regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL'),
    eventTypes: z.array(z.enum(pusherWebhookEventTypes)).optional(),
    filter: z.strictObject({ channelPrefix: z.string().optional(), channelSuffix: z.string().optional() }).optional(),
    headers: z.record(z.string(), z.string()).optional(),
    batchMs: milliseconds.optional(),
    maxBatch: count.optional(),
    maxQueued: count.optional(),
    timeoutMs: milliseconds.optional(),
    retryForMs: milliseconds.optional(),
    retryBaseMs: milliseconds.optional(),
    retryMaxDelayMs: milliseconds.optional(),
  },
  { error: 'expected { url, eventTypes?, filter?: { channelPrefix?, channelSuffix? }, headers?, batchMs?, maxBatch?, maxQueued?, timeoutMs?, retryForMs?, retryBaseMs?, retryMaxDelayMs? }' },
);
const scopedRates = z.strictObject({ perConnection: rateSchema.optional(), perIp: rateSchema.optional() });

/** One `history` entry of a config: like `HistoryRule`, with the age also as text (`'24h'`). */
export interface HistoryRuleConfig {
  readonly pattern: string;
  /** Most events kept per topic. @default 1000 */
  readonly maxEvents?: number;
  /** Longest an event is kept: milliseconds, or `'90s'`, `'30m'`, `'24h'`, `'7d'`. @default '24h' */
  readonly maxAge?: number | string;
}

/** An audit log: a path, or a path with rotation settings. */
export type AuditLogConfig = string | { readonly path: string; readonly maxBytes?: number | string; readonly maxFiles?: number };

/** One webhook: every event matching `topics` is POSTed to `url` as a CloudEvent. */
export interface WebhookConfig {
  readonly url: string;
  /** @default '#' */
  readonly topics?: string;
  /** Extra request headers (an authorization token, say); masked by `--print-config`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** @default 5 */
  readonly retries?: number;
  /** @default 5000 */
  readonly timeoutMs?: number;
  /** Events the webhook may fall behind by. @default 10_000 */
  readonly queueSize?: number;
}

/** Byte sizes: a count, or text (`'1mb'`). */
type Size = number | string;

// ---------------------------------------------------------------------------
// The table

/**
 * The `EventBrokerServer` options a config file, a variable or a flag can
 * set. Each entry's TSDoc is the option's documentation (`BrokerOptions`
 * shows it).
 */
export const optionSettings = {
  /**
   * TCP port for WebSocket and HTTP. 0 lets the OS choose (see `listen()`'s result).
   * @default 15500
   */
  port: option<number>()({
    flag: 'port',
    env: 'EVENTWIRE_PORT',
    arg: '<n>',
    help: 'TCP port; 0 picks a free one',
    read: wholeNumber,
    schema: z.number({ error: 'expected a port number' }).int().min(0).max(65535, 'expected a port number from 0 to 65535'),
    default: 15500,
  }),
  /**
   * Interface to bind. Use `0.0.0.0` to accept connections from other hosts.
   * @default '127.0.0.1'
   */
  host: option<string>()({
    flag: 'host',
    env: 'EVENTWIRE_HOST',
    arg: '<address>',
    help: 'interface to bind; 0.0.0.0 for every interface',
    read: asText,
    schema: z.string().min(1, 'expected an interface address such as 127.0.0.1 or 0.0.0.0'),
    default: '127.0.0.1',
  }),
  /**
   * PEM certificate file (chain included): with `tlsKey`, the broker serves
   * `wss://` and `https://` itself on every surface. Read again on SIGHUP and
   * when the file changes. See docs/DEPLOY.md.
   * @default none (plain ws:// and http://)
   */
  tlsCert: option<string>()({
    flag: 'tls-cert',
    env: 'EVENTWIRE_TLS_CERT',
    arg: '<file>',
    help: 'PEM certificate: serve wss:// and https:// (with --tls-key)',
    read: asText,
    schema: z.string().min(1, 'expected a certificate file path'),
  }),
  /**
   * PEM private key file of `tlsCert`.
   * @default none
   */
  tlsKey: option<string>()({
    flag: 'tls-key',
    env: 'EVENTWIRE_TLS_KEY',
    arg: '<file>',
    help: 'PEM private key of --tls-cert',
    read: asText,
    schema: z.string().min(1, 'expected a private key file path'),
  }),
  /**
   * With `events`, let topics the map does not declare through unchecked.
   * @default false
   */
  allowUnknownTopics: option<boolean>()({
    flag: 'allow-unknown-topics',
    env: 'EVENTWIRE_ALLOW_UNKNOWN_TOPICS',
    arg: '<on|off>',
    help: "with a config's event map, let undeclared topics through",
    read: onOff,
    schema: z.boolean(),
    default: false,
  }),
  /**
   * Largest accepted message (a WebSocket frame or an HTTP body), in bytes.
   * Bigger ones get `payload_too_large` (HTTP 413) and the connection stays up.
   * @default 1_048_576 (1 MiB)
   */
  maxPayloadBytes: option<number, Size>()({
    flag: 'max-payload',
    env: 'EVENTWIRE_MAX_PAYLOAD',
    arg: '<size>',
    help: 'largest message: 1mb, 512kb, or bytes',
    read: asText,
    schema: size,
    default: 1_048_576,
  }),
  /**
   * Most levels of nesting an event's data may have (`{"a":{"a":…}}`, `[[…]]`;
   * `{"a":1}` is 1 deep), checked on every surface before any hook, schema or
   * store sees it. Deeper data, and numbers JSON cannot carry (`1e400`, which
   * parses as Infinity), get `invalid_payload` (HTTP 400); the connection stays up.
   * At most 1000 (`MAX_PAYLOAD_DEPTH`): deeper data could overflow the stack
   * of the `JSON.stringify` that sends every event.
   * @default 128
   */
  maxPayloadDepth: option<number>()({
    flag: 'max-payload-depth',
    env: 'EVENTWIRE_MAX_PAYLOAD_DEPTH',
    arg: '<n>',
    help: `deepest nesting of event data (at most ${MAX_PAYLOAD_DEPTH}); deeper is invalid_payload`,
    read: wholeNumber,
    schema: count.max(MAX_PAYLOAD_DEPTH, `expected at most ${MAX_PAYLOAD_DEPTH} levels`),
    default: 128,
  }),
  /**
   * Most patterns one connection may hold; more get `limit_exceeded`.
   * @default 1000
   */
  maxSubscriptionsPerConnection: option<number>()({
    flag: 'max-subscriptions-per-connection',
    env: 'EVENTWIRE_MAX_SUBSCRIPTIONS_PER_CONNECTION',
    arg: '<n>',
    help: 'most patterns one connection may hold',
    read: wholeNumber,
    schema: count,
    default: 1000,
  }),
  /** Bounds on topics and patterns; a config may give one field. @default topicLimitDefaults */
  topicLimits: option<TopicLimits, Partial<TopicLimits>>()({
    flag: 'topic-limits',
    env: 'EVENTWIRE_TOPIC_LIMITS',
    arg: '<json>',
    help: 'bounds on topics: {"maxLength":n,"maxSegments":n}',
    read: json,
    schema: z.strictObject({ maxLength: count, maxSegments: count }).partial(),
    toOption: (limits) => ({ ...topicLimitDefaults, ...exact(limits) }),
    default: topicLimitDefaults,
  }),
  /**
   * Bytes a connection may keep waiting to be sent. One whose unsent data is
   * still above this `slowConsumerMs` after it was seen above it (it is not
   * reading), or ever reaches twice this (a hard bound on the memory it
   * holds), is a slow consumer: closed with 4008, so it never holds back
   * anyone else. A reader that takes a burst bigger than this and drains it
   * in time is not cut.
   * @default 8_388_608 (8 MiB)
   */
  maxOutboundBytes: option<number, Size>()({
    flag: 'max-outbound-bytes',
    env: 'EVENTWIRE_MAX_OUTBOUND_BYTES',
    arg: '<size>',
    help: "one connection's unsent bytes before it is a slow consumer",
    read: asText,
    schema: size,
    default: 8_388_608,
  }),
  /**
   * Bytes all connections together may keep waiting to be sent. Over it the
   * readers furthest behind are cut first (counted as slow consumers, dropped
   * at once), so a burst to thousands of stalled readers cannot exhaust the
   * memory while healthy readers, which hold little, keep receiving.
   * @default a quarter of the memory the process may use (the cgroup's limit, else the machine's), at most 1 GiB
   */
  maxTotalOutboundBytes: option<number, Size>()({
    flag: 'max-total-outbound-bytes',
    env: 'EVENTWIRE_MAX_TOTAL_OUTBOUND_BYTES',
    arg: '<size>',
    help: "all connections' unsent bytes; past it the furthest behind are cut",
    defaultText: 'a quarter of the memory limit, at most 1gb',
    read: asText,
    schema: size,
    defaultOf: () => defaultTotalOutboundBytes(),
  }),
  /**
   * How long a connection's unsent data may stay above `maxOutboundBytes`.
   * @default 1000
   */
  slowConsumerMs: option<number>()({
    flag: 'slow-consumer-ms',
    env: 'EVENTWIRE_SLOW_CONSUMER_MS',
    arg: '<ms>',
    help: 'how long unsent data may stay above --max-outbound-bytes',
    read: wholeNumber,
    schema: milliseconds,
    default: 1000,
  }),
  /**
   * Heartbeat interval: the broker pings every connection this often and drops
   * one that did not answer the previous ping. Announced to clients.
   * @default 25_000
   */
  heartbeatMs: option<number>()({
    flag: 'heartbeat',
    env: 'EVENTWIRE_HEARTBEAT_MS',
    arg: '<ms>',
    help: 'ping interval',
    read: wholeNumber,
    schema: milliseconds,
    default: 25_000,
  }),
  /**
   * How long a native-protocol client may stay connected without sending
   * `hello`; then it is closed with 4000. Bounds what idle, never-greeting
   * sockets can hold.
   * @default 10_000
   */
  helloTimeoutMs: option<number>()({
    flag: 'hello-timeout-ms',
    env: 'EVENTWIRE_HELLO_TIMEOUT_MS',
    arg: '<ms>',
    help: 'how long a native client may stay without sending hello',
    read: wholeNumber,
    schema: milliseconds,
    default: 10_000,
  }),
  /**
   * Longest an `intercept` hook may take before the publish fails with `timeout`.
   * @default 1000
   */
  interceptTimeoutMs: option<number>()({
    flag: 'intercept-timeout-ms',
    env: 'EVENTWIRE_INTERCEPT_TIMEOUT_MS',
    arg: '<ms>',
    help: 'longest an intercept hook may take',
    read: wholeNumber,
    schema: milliseconds,
    default: 1000,
  }),
  /**
   * Longest one `observe` call may take before it counts as failed and the
   * observer moves on to its next event.
   * @default 30_000
   */
  observerTimeoutMs: option<number>()({
    flag: 'observer-timeout-ms',
    env: 'EVENTWIRE_OBSERVER_TIMEOUT_MS',
    arg: '<ms>',
    help: 'longest one observe call may take',
    read: wholeNumber,
    schema: milliseconds,
    default: 30_000,
  }),
  /**
   * How many generations of derived events (a hook's `emit` reacting to an
   * event that was itself derived) are allowed; deeper ones are dropped and
   * counted, which stops hook loops.
   * @default 8
   */
  maxDerivedDepth: option<number>()({
    flag: 'max-derived-depth',
    env: 'EVENTWIRE_MAX_DERIVED_DEPTH',
    arg: '<n>',
    help: 'generations of hook-emitted events allowed',
    read: wholeNumber,
    schema: z.number().int().nonnegative(),
    default: 8,
  }),
  /**
   * How long `close()` waits for clients to finish their closing handshake.
   * @default 5000
   */
  shutdownTimeoutMs: option<number>()({
    flag: 'shutdown-timeout-ms',
    env: 'EVENTWIRE_SHUTDOWN_TIMEOUT_MS',
    arg: '<ms>',
    help: "how long stopping waits for clients' closing handshake",
    read: wholeNumber,
    schema: milliseconds,
    default: 5000,
  }),
  /**
   * The envelope `source` of events the broker itself emits (derived events,
   * server-side publishes).
   * @default 'urn:eventwire:broker'
   */
  source: option<string>()({
    flag: 'source',
    env: 'EVENTWIRE_SOURCE',
    arg: '<uri>',
    help: "the source of events the broker emits itself",
    read: asText,
    schema: z.string().min(1),
    default: 'urn:eventwire:broker',
  }),
  /**
   * Topics that keep history: events on them get an `offset`, are stored
   * (bounded per topic by `maxEvents` and `maxAgeMs`), replayed to clients
   * that reconnect, readable with `GET /history/{pattern}`, and deduplicated
   * when a publish is re-sent. The first matching rule applies. A config
   * writes the age as `maxAge` (`'24h'` works).
   * @example [{ pattern: 'order.#', maxEvents: 10_000, maxAgeMs: 86_400_000 }]
   */
  history: option<readonly HistoryRule[], readonly HistoryRuleConfig[]>()({
    flag: 'history',
    env: 'EVENTWIRE_HISTORY',
    arg: '<rule>',
    help: "keep history for a pattern: pattern[:maxEvents[:maxAge]], e.g. 'order.#:10000:24h'",
    repeatable: true,
    read: (text) => list(text).map(parseHistoryFlag),
    schema: z.array(z.strictObject({ pattern, maxEvents: count.optional(), maxAge: duration.optional() })),
    toOption: (rules) =>
      rules.map((rule) => ({
        pattern: rule.pattern,
        ...(rule.maxEvents !== undefined && { maxEvents: rule.maxEvents }),
        ...(rule.maxAge !== undefined && { maxAgeMs: rule.maxAge }),
      })),
  }),
  /**
   * Join a cluster: brokers on one server share one event space. The URL's
   * scheme picks the engine: `'nats://host:4222'` (history in JetStream),
   * `'redis://host:6379'`, `'postgres://user@host/db'` or
   * `'kafka://host:9092,host:9092'`; or options with
   * credentials and the node name; or an engine (`createClusterEngine`, or
   * one of your own implementing `ClusterEngine`). See docs/SCALING.md.
   */
  cluster: option<string | ClusterOptions | ClusterEngine>()({
    flag: 'cluster',
    env: 'EVENTWIRE_CLUSTER',
    arg: '<url>',
    help: 'share one event space with the brokers on this server: nats://a:4222,b:4222, redis://host:6379, postgres://user@host/db or kafka://a:9092,b:9092',
    read: asText,
    // One object schema (a URL alone is its `url`), so a wrong key names its path instead of a union's "invalid input".
    schema: z.preprocess(
      (value) => (typeof value === 'string' ? { url: value } : value),
      z.strictObject({
        url: z.string().regex(clusterUrl, clusterUrlProblem),
        servers: z.array(z.string()).optional(),
        node: z.string().min(1).optional(),
        token: z.string().optional(),
        user: z.string().optional(),
        pass: z.string().optional(),
        credentials: z.string().optional(),
        reconnectTimeWaitMs: count.optional(),
        outboxSize: count.optional(),
        statsTimeoutMs: count.optional(),
        history: z
          .strictObject({
            stream: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a JetStream stream name (letters, digits, _ and -)').optional(),
            replicas: z.number({ error: 'expected 1 to 5 copies' }).int().min(1).max(5).optional(),
            maxBytes: size.optional(),
            readyTimeoutMs: milliseconds.optional(),
            publishTimeoutMs: count.optional(),
          })
          .optional(),
        presence: z.strictObject({ heartbeatMs: count.optional(), syncTimeoutMs: count.optional(), membersPerPart: count.optional() }).optional(),
        redis: z.strictObject({ prefix: z.string().optional() }).optional(),
        kafka: z
          .strictObject({
            prefix: z.string().optional(),
            partitions: count.optional(),
            fetchWaitMs: milliseconds.optional(),
            topicRefreshMs: count.optional(),
            history: z
              .strictObject({
                topic: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'expected one segment of letters, digits, _ and -').optional(),
                mirrorMaxBytes: size.optional(),
                readyTimeoutMs: milliseconds.optional(),
              })
              .optional(),
          })
          .optional(),
        postgres: z
          .strictObject({
            channel: z.string().min(1).max(63).optional(),
            table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'expected a table name (letters, digits, _)').optional(),
            largeEventRetentionMs: milliseconds.optional(),
          })
          .optional(),
      }),
    ),
  }),
  /**
   * A directory for durable state: with it, history goes to an append-only
   * log in `<dataDir>/history` that survives restarts and `kill -9`.
   */
  dataDir: option<string>()({
    flag: 'data-dir',
    env: 'EVENTWIRE_DATA_DIR',
    arg: '<dir>',
    help: 'durable state: history goes to a log there, kept across restarts',
    read: asText,
    schema: z.string().min(1),
  }),
  /**
   * When the durable log forces writes to disk: `'always'` (before each ack),
   * a number of milliseconds, or `'never'`. See `LogHistoryStoreOptions.fsync`.
   * @default 100
   */
  historyFsync: option<'always' | 'never' | number>()({
    flag: 'fsync',
    env: 'EVENTWIRE_FSYNC',
    arg: '<policy>',
    help: 'when the history log syncs to disk: always | never | <ms>',
    read: wholeNumber,
    // The enum carries the message: for a string zod reports the one option of that type, so it must list every valid value.
    schema: z.union([z.enum(['always', 'never'], { error: 'expected always, never or a number of milliseconds' }), z.number().int().positive()], {
      error: 'expected always, never or a number of milliseconds',
    }),
    default: logHistoryStoreDefaults.fsync,
  }),
  /**
   * Most bytes the durable log keeps on disk; past it the oldest segments
   * are deleted (readers behind them get a gap).
   * @default 1_073_741_824 (1 GiB)
   */
  historyMaxBytes: option<number, Size>()({
    flag: 'history-max-bytes',
    env: 'EVENTWIRE_HISTORY_MAX_BYTES',
    arg: '<size>',
    help: 'most bytes the durable history log keeps on disk',
    read: asText,
    schema: size,
    default: logHistoryStoreDefaults.maxBytes,
  }),
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
  historyMaxMemoryBytes: option<number, Size>()({
    flag: 'history-max-memory',
    env: 'EVENTWIRE_HISTORY_MAX_MEMORY',
    arg: '<size>',
    help: 'most history held in memory; past it the oldest go (gap)',
    defaultText: 'an eighth of the memory limit, at most 1gb',
    read: asText,
    schema: size,
    defaultOf: () => defaultHistoryMemoryBytes(),
  }),
  /**
   * Most missed events one reconnecting client is replayed; past it the
   * client gets a `replay_limit` gap.
   * @default 10_000
   */
  maxReplayEvents: option<number>()({
    flag: 'max-replay-events',
    env: 'EVENTWIRE_MAX_REPLAY_EVENTS',
    arg: '<n>',
    help: 'most missed events replayed to one reconnecting client',
    read: wholeNumber,
    schema: count,
    default: 10_000,
  }),
  /**
   * Whether a request without credentials is let in as anonymous.
   * @default true without `authenticate`, false with it
   */
  allowAnonymous: option<boolean>()({
    flag: 'allow-anonymous',
    env: 'EVENTWIRE_ALLOW_ANONYMOUS',
    arg: '<on|off>',
    help: 'let requests without credentials in as anonymous',
    defaultText: 'on without authentication, off with it',
    read: onOff,
    schema: z.boolean(),
    defaultOf: (options: { readonly authenticate?: unknown }) => options.authenticate === undefined,
  }),
  /**
   * What users may publish and subscribe, by pattern, for users whose
   * `authenticate` result carries no `permissions` of its own: per user id,
   * for every authenticated user, for anonymous connections. Refusals are
   * `forbidden` (HTTP 403). Unrestricted when omitted.
   * @example { users: { 'svc-orders': { publish: ['order.*'], subscribe: ['inventory.#'] } }, anonymous: { publish: [] } }
   */
  permissions: option<PermissionRules>()({
    flag: 'permissions',
    env: 'EVENTWIRE_PERMISSIONS',
    arg: '<json>',
    help: 'who may publish and subscribe what: {"users":{…},"authenticated":{…},"anonymous":{…}}',
    defaultText: 'unrestricted',
    read: json,
    schema: z.strictObject({
      users: z.record(z.string(), permissionsSchema).optional(),
      authenticated: permissionsSchema.optional(),
      anonymous: permissionsSchema.optional(),
    }),
  }),
  /**
   * Token-bucket rate limits per connection and per IP for publishes,
   * subscribes and connects, and for failed authentications (on by default).
   * Refusals are `rate_limited` error frames or HTTP 429, with when to retry.
   */
  rateLimits: option<RateLimits>()({
    flag: 'rate-limits',
    env: 'EVENTWIRE_RATE_LIMITS',
    arg: '<json>',
    help: 'token buckets: {"publish":{"perConnection":{"perSecond":n,"burst":n}},…}',
    defaultText: 'limits on failed authentication only',
    read: json,
    schema: z.strictObject({
      publish: scopedRates.optional(),
      subscribe: scopedRates.optional(),
      connect: z.strictObject({ perIp: rateSchema.optional() }).optional(),
      failedAuth: z.strictObject({ perIp: rateSchema.optional() }).optional(),
    }),
  }),
  /**
   * Most WebSocket connections at once; a newcomer past it is refused with
   * 503 and `Retry-After`, never reset. The default keeps a reserve of file
   * descriptors below the process's open-file limit (5% of it, 32 to 1000;
   * see capacity.ts), so at the cap `/health`, `/stats`, HTTP publish and the
   * broker's own files keep working.
   * @default open-file limit − reserve (Linux), else 10,000
   */
  maxConnections: option<number>()({
    flag: 'max-connections',
    env: 'EVENTWIRE_MAX_CONNECTIONS',
    arg: '<n>',
    help: 'most WebSocket connections; past it 503 + Retry-After',
    defaultText: 'the open-file limit minus a reserve',
    read: wholeNumber,
    schema: count,
    defaultOf: () => defaultMaxConnections().value,
  }),
  /**
   * Most WebSocket connections from one IP address; past it, 429 with `Retry-After`.
   * @default unlimited
   */
  maxConnectionsPerIp: option<number>()({
    flag: 'max-connections-per-ip',
    env: 'EVENTWIRE_MAX_CONNECTIONS_PER_IP',
    arg: '<n>',
    help: 'most connections from one address; 429 past it',
    defaultText: 'unlimited',
    read: wholeNumber,
    schema: count,
    defaultOf: () => Infinity,
  }),
  /**
   * Addresses of reverse proxies in front of the broker (exact, as the socket
   * reports them: `127.0.0.1`, `10.0.0.5`). A request from one of them counts
   * against the client it forwarded for (`X-Forwarded-For`, the right-most
   * entry that is not a trusted proxy), not against the proxy; from anyone
   * else the header is ignored, since clients can forge it.
   * @default none
   */
  trustedProxies: option<readonly string[]>()({
    flag: 'trusted-proxies',
    env: 'EVENTWIRE_TRUSTED_PROXIES',
    arg: '<a,b>',
    help: 'reverse proxies whose X-Forwarded-For is believed',
    defaultText: 'none',
    read: list,
    schema: z.array(z.string().min(1, 'expected an IP address')),
    defaultOf: () => [],
  }),
  /**
   * Where the simple broadcasting WebSocket surface listens (the one FastAPI
   * "Laravel-like broadcasting" clients use: `{"event":"subscribe","channel":…}`
   * in, `{"event","channel","data"}` out); `false` turns it off.
   * @default '/api/v1/broadcasting/ws'
   */
  broadcastingPath: option<string | false, string | false>()({
    flag: 'broadcasting-path',
    env: 'EVENTWIRE_BROADCASTING_PATH',
    arg: '<path|off>',
    help: 'where the broadcasting WebSocket surface listens',
    read: pathOrOff,
    schema: z.union([z.literal(false), httpPath('/api/v1/broadcasting/ws')]),
    default: '/api/v1/broadcasting/ws',
    resolve: (path): string | undefined => (path === false ? undefined : path),
  }),
  /**
   * The Pusher Channels surface (protocol 7), so pusher-js and Laravel Echo
   * connect unchanged: WebSocket `/app/{key}`, the HTTP API under
   * `/apps/{id}/…` that Pusher's server libraries sign, and the channel and
   * user auth endpoints. `true` serves the development app
   * `app-id`/`app-key`/`app-secret` (a well-known secret: never in
   * production). Off unless set.
   */
  pusher: option<boolean | PusherOptions>()({
    flag: 'pusher',
    env: 'EVENTWIRE_PUSHER',
    arg: '<app>',
    help: 'speak the Pusher protocol (pusher-js, Laravel Echo) for an app id:key:secret, or "dev" for app-id:app-key:app-secret',
    defaultText: 'off',
    repeatable: true,
    read: (text) => {
      const apps = list(text).map(parsePusherFlag);
      return apps.includes('dev') ? true : { apps };
    },
    // `true` is the development app ({}); `false` is off. An object is checked key by key (a union would only say "invalid input").
    schema: z.preprocess(
      (value) => (value === true ? {} : value === false ? undefined : value),
      z.strictObject(
        {
          apps: z
            .array(
              z.strictObject({
                id: z.string().min(1, 'expected the app id (HTTP API: /apps/{id})'),
                key: z.string().min(1, 'expected the public app key (clients connect to /app/{key})'),
                secret: z.string().min(8, 'expected a secret of at least 8 characters'),
                namespace: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1 to 64 of A-Z a-z 0-9 _ -').optional(),
                clientEvents: z.boolean().optional(),
                encryptionMasterKey: z
                  .string()
                  .refine((text) => Buffer.from(text, 'base64').length === 32, 'expected 32 bytes, base64-encoded (openssl rand -base64 32)')
                  .optional(),
                maxClientEventsPerSecond: z.number({ error: 'expected a rate per second (a positive number)' }).positive().optional(),
                webhooks: z.array(pusherWebhookSchema).optional(),
              }),
            )
            .min(1, 'expected at least one app { id, key, secret }')
            .optional(),
          authPath: z.union([z.literal(false), httpPath('/broadcasting/auth')]).optional(),
          userAuthPath: z.union([z.literal(false), httpPath('/pusher/user-auth')]).optional(),
          allowedOrigins: z.union([z.literal('*'), z.array(z.string().min(1))]).optional(),
          webhookRemovalDelayMs: z.number({ error: 'expected milliseconds (0 or more)' }).min(0).optional(),
        },
        { error: 'expected true, or { apps?, authPath?, userAuthPath?, allowedOrigins?, webhookRemovalDelayMs? }' },
      ).optional(),
    ),
    resolve: (pusher): PusherOptions | undefined => (pusher === true ? {} : pusher || undefined),
  }),
  /**
   * The Socket.IO surface (protocol v5 over Engine.IO v4), so socket.io-client
   * v4 connects unchanged: long-polling and WebSocket at `path`. Rooms are
   * topics (`chat.7` of `/` is the topic `chat.7`), emits are publishes;
   * `setup(broker)` drives `broker.socketio`. `true` serves the defaults
   * (engine.io's and socket.io's). Off unless set.
   */
  socketio: option<boolean | SocketIoOptions>()({
    flag: 'socketio',
    env: 'EVENTWIRE_SOCKETIO',
    arg: '<on|json>',
    help: 'speak Socket.IO (socket.io-client v4): "on", or options as JSON {"path","cors","pingInterval",…}',
    defaultText: 'off',
    companion: {
      flag: 'socketio-redis',
      env: 'EVENTWIRE_SOCKETIO_REDIS',
      arg: '<url>',
      help: 'read the Socket.IO Redis emitters (python-socketio write_only, @socket.io/redis-emitter) from this Redis (turns --socketio on)',
      path: 'socketio.redis',
      implies: 'on',
    },
    read: (text, redis) => {
      const value = String(text).trim().startsWith('{') ? json(text) : onOff(text);
      // Off is the default: `--socketio off` (and EVENTWIRE_SOCKETIO=off) leaves the surface unset.
      if (value === false) return undefined;
      if (redis === undefined) return value;
      return { ...(typeof value === 'object' && value !== null ? value : {}), redis };
    },
    schema: z.preprocess(
      (value) => (value === true ? {} : value === false ? undefined : value),
      z.strictObject(
          {
            path: z.string().regex(/^\/[^?#\s]*\/$/, 'expected a path with its trailing slash, such as /socket.io/').optional(),
            cors: z
              .strictObject({
                origin: z.union([z.literal('*'), z.array(z.string().min(1))]),
                credentials: z.boolean().optional(),
              })
              .optional(),
            pingInterval: z.number().int().positive().optional(),
            pingTimeout: z.number().int().positive().optional(),
            maxPayload: z.number().int().positive().optional(),
            upgradeTimeout: z.number().int().positive().optional(),
            connectTimeout: z.number().int().positive().optional(),
            namespaces: z.array(z.string().regex(/^\/[^,]*$/, 'expected a namespace such as / or /admin')).optional(),
            clientJoin: z.union([z.literal(false), z.string().min(1)]).optional(),
            recovery: z.union([z.boolean(), z.strictObject({ maxDisconnectionDuration: z.number().int().positive().optional(), skipMiddlewares: z.boolean().optional(), maxSessions: z.number().int().positive().optional() })]).optional(),
            redis: z
              .union([
                redisUrl,
                z.strictObject({ url: redisUrl, channel: z.string().min(1).optional(), key: z.string().min(1).optional() }, { error: 'expected a redis:// URL, or { url, channel?, key? }' }),
              ])
              .optional(),
          },
          { error: 'expected true, or { path?, cors?, pingInterval?, pingTimeout?, maxPayload?, upgradeTimeout?, connectTimeout?, namespaces?, clientJoin?, recovery?, redis? }' },
        ).optional(),
    ),
    resolve: (socketio): SocketIoOptions | undefined => (socketio === true ? {} : socketio || undefined),
  }),
  /**
   * `GET /metrics` in Prometheus text format (behind the broker's
   * authentication, as `/stats` is); `false` turns it off.
   * @default true
   */
  metrics: option<boolean | MetricsOptions>()({
    flag: 'metrics',
    env: 'EVENTWIRE_METRICS',
    arg: '<on|off>',
    help: 'GET /metrics (Prometheus)',
    read: onOff,
    schema: z.union([
      z.boolean(),
      z.strictObject({
        path: httpPath('/metrics').optional(),
        topicGroups: z.array(pattern).optional(),
        defaultMetrics: z.boolean().optional(),
      }),
    ]),
    default: true,
    resolve: (metrics): MetricsOptions | undefined => (metrics === false ? undefined : metrics === true || metrics === undefined ? {} : metrics),
  }),
  /**
   * The live dashboard at `/dashboard`: connections and rates, top topics,
   * hooks, slow consumers, the last events (redacted previews) and a form to
   * publish a test event. It reads `$sys.stats` and `$sys.events`, which only
   * `users` may subscribe to when the broker authenticates.
   * @default off
   */
  dashboard: option<boolean | DashboardOptions>()({
    flag: 'dashboard',
    env: 'EVENTWIRE_DASHBOARD',
    arg: '<on|off>',
    help: 'the live page at /dashboard (users: in a config file; with authentication, only dashboard.users may watch)',
    read: onOff,
    schema: z.union([
      z.boolean(),
      z.strictObject({
        path: httpPath('/dashboard').optional(),
        users: z.array(z.string().min(1)).optional(),
        redact: z.array(z.string().min(1)).optional(),
        intervalMs: count.optional(),
      }),
    ]),
    default: false,
    resolve: (dashboard): DashboardOptions | undefined => (dashboard === true ? {} : dashboard || undefined),
  }),
  /**
   * Serve the browser build of `@eventwire/event-channel` (one ES module, no
   * bundler needed) at `GET /eventwire/event-channel.js` and its source map
   * at `/eventwire/event-channel.js.map`, to pages of any origin (CORS), with
   * an ETag. As Socket.IO's `serveClient`; `false` answers 404 there (the
   * dashboard still loads the file under its own path).
   * @default true
   */
  serveClient: option<boolean>()({
    flag: 'serve-client',
    env: 'EVENTWIRE_SERVE_CLIENT',
    arg: '<on|off>',
    help: 'GET /eventwire/event-channel.js, the browser build of the channel',
    read: onOff,
    schema: z.boolean(),
    default: true,
  }),
  /**
   * Serve `GET /asyncapi.json`: the AsyncAPI 3.0 document of the event map
   * and these options (servers per surface, security, operations from
   * `permissions`, channel rule parameters), behind the same credentials as
   * `/stats`. Built at construction (a validator without JSON Schema fails
   * it there, `unsupported_schema`) and again when channel rules change.
   * @default false
   */
  asyncapi: option<boolean>()({
    flag: 'asyncapi',
    env: 'EVENTWIRE_ASYNCAPI',
    arg: '<on|off>',
    help: 'GET /asyncapi.json, the AsyncAPI 3.0 document of the event map and this broker',
    read: onOff,
    schema: z.boolean(),
    default: false,
  }),
  /**
   * How long a cache channel (Pusher's `cache-*`, `private-cache-*`,
   * `presence-cache-*`) keeps its last event for new subscribers; past it
   * they get `pusher:cache_miss`. Pusher documents no figure we could
   * verify (Soketi keeps 1 h); 30 minutes is our choice.
   * @default 1_800_000
   */
  cacheChannelTtlMs: option<number>()({
    flag: 'cache-channel-ttl-ms',
    env: 'EVENTWIRE_CACHE_CHANNEL_TTL_MS',
    arg: '<ms>',
    help: 'how long a cache channel keeps its last event',
    read: wholeNumber,
    schema: milliseconds,
    default: 1_800_000,
  }),
  /**
   * Most members (distinct users) one presence channel may have; a newcomer
   * past it is refused with `limit_exceeded`.
   * @default 100
   */
  maxPresenceMembers: option<number>()({
    flag: 'max-presence-members',
    env: 'EVENTWIRE_MAX_PRESENCE_MEMBERS',
    arg: '<n>',
    help: 'most members of one presence channel',
    read: wholeNumber,
    schema: count,
    default: 100,
  }),
};

/** What only a config turns into something: the built-in observers, the authenticators, the log filter. */
export const configOnlySettings = {
  /** Append every event to a JSONL file (rotated by size). */
  auditLog: configOnly<AuditLogConfig>()({
    flag: 'audit-log',
    env: 'EVENTWIRE_AUDIT_LOG',
    arg: '<path>',
    help: 'append every event as JSONL, rotated at 10 MiB',
    read: asText,
    schema: z.union(
      [
        z.string().min(1),
        z.strictObject({ path: z.string().min(1), maxBytes: size.optional(), maxFiles: z.number().int().nonnegative().optional() }),
      ],
      { error: 'expected a file path, or { path, maxBytes?, maxFiles? }' },
    ),
  }),
  /** POST events (as CloudEvents) to these URLs. */
  webhooks: configOnly<readonly WebhookConfig[]>()({
    flag: 'webhook',
    env: 'EVENTWIRE_WEBHOOK',
    arg: '<url>',
    help: 'POST every event (a CloudEvent) to this URL',
    companion: { flag: 'webhook-topics', env: 'EVENTWIRE_WEBHOOK_TOPICS', arg: '<pattern>', help: 'the pattern --webhook posts (default #)', path: 'webhooks[0].topics' },
    read: (url, topics) => [{ url, ...(topics !== undefined && { topics }) }],
    schema: z.array(
      z.strictObject({
        url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
        topics: pattern.optional(),
        headers: z.record(z.string(), z.string()).optional(),
        retries: z.number().int().nonnegative().optional(),
        timeoutMs: milliseconds.optional(),
        queueSize: count.optional(),
      }),
    ),
  }),
  /**
   * Pusher webhooks from the command line: every event type of one app
   * (`--pusher`'s id) to a URL, in Pusher's format and with the webhook
   * defaults; the config file's `pusher.apps[].webhooks` has the rest.
   */
  pusherWebhooks: configOnly<readonly { readonly app: string; readonly url: string }[]>()({
    flag: 'pusher-webhook',
    env: 'EVENTWIRE_PUSHER_WEBHOOK',
    arg: '<app-id>=<url>',
    help: "POST that Pusher app's webhooks (Pusher's format, signed with its secret) to this URL",
    repeatable: true,
    read: (text) => list(text).map(parsePusherWebhookFlag),
    schema: z.array(
      z.strictObject({
        app: z.string().min(1, 'expected the Pusher app id'),
        url: z.string().regex(/^https?:\/\/\S+$/, 'expected an http:// or https:// URL'),
      }),
    ),
  }),
  /**
   * How the CLI writes its log: `pretty` (a timestamp and a line) or `json`
   * (one JSON object a line, pino's field names: `level`, `time`, `msg`, then
   * `code`, `cause`, `conn`, … — see `BrokerLogRecord`). @default 'pretty'
   */
  logFormat: configOnly<'pretty' | 'json'>()({
    flag: 'log-format',
    env: 'EVENTWIRE_LOG_FORMAT',
    arg: '<format>',
    help: 'how the log is written: pretty | json (one object a line: level, time, msg, code, cause, conn, …)',
    read: asText,
    schema: z.enum(['pretty', 'json'], { error: 'expected pretty or json' }),
    default: 'pretty',
  }),
  /** The least level the CLI writes. @default 'info' */
  logLevel: configOnly<BrokerLogLevel>()({
    flag: 'log-level',
    env: 'EVENTWIRE_LOG_LEVEL',
    arg: '<level>',
    help: 'the least level written: debug | info | warn | error',
    read: asText,
    schema: z.enum(brokerLogLevels, { error: 'expected debug, info, warn or error' }),
    default: 'info',
  }),
  /** No per-connection log lines. @default false */
  quiet: configOnly<boolean>()({
    flag: 'quiet',
    env: 'EVENTWIRE_QUIET',
    help: 'no per-connection log lines (EVENTWIRE_QUIET=1)',
    read: presence,
    schema: z.boolean(),
    default: false,
  }),
  /** Verify JWTs signed with this HS256 secret (masked by `--print-config`). */
  jwtSecret: configOnly<string | undefined>()({
    flag: 'jwt-secret',
    env: 'EVENTWIRE_JWT_SECRET',
    arg: '<secret>',
    help: 'authenticate with HS256 JWTs signed with this secret',
    read: asText,
    schema: z.string().min(16, 'expected a secret of at least 16 characters'),
  }),
  /** Verify JWTs against this JWKS endpoint (RS256/ES256). */
  jwksUrl: configOnly<string | undefined>()({
    flag: 'jwks-url',
    env: 'EVENTWIRE_JWKS_URL',
    arg: '<url>',
    help: 'authenticate with JWTs signed by keys from this JWKS',
    read: asText,
    schema: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL of a JWKS' }),
  }),
  /** Required `aud` of JWTs. */
  jwtAudience: configOnly<string | undefined>()({
    flag: 'jwt-audience',
    env: 'EVENTWIRE_JWT_AUDIENCE',
    arg: '<aud>',
    help: 'the aud a JWT must carry',
    read: asText,
    schema: z.string().min(1),
  }),
  /** Required `iss` of JWTs. */
  jwtIssuer: configOnly<string | undefined>()({
    flag: 'jwt-issuer',
    env: 'EVENTWIRE_JWT_ISSUER',
    arg: '<iss>',
    help: 'the iss a JWT must carry',
    read: asText,
    schema: z.string().min(1),
  }),
  /** Tolerated clock difference for JWTs' `exp` and `nbf`, in seconds. @default 5 */
  jwtClockToleranceSec: configOnly<number>()({
    flag: 'jwt-clock-tolerance-sec',
    env: 'EVENTWIRE_JWT_CLOCK_TOLERANCE_SEC',
    arg: '<s>',
    help: "tolerated clock difference for a JWT's exp and nbf",
    read: decimal,
    schema: z.number({ error: 'expected seconds (a number)' }).nonnegative(),
    default: 5,
  }),
  /**
   * API keys for services and HTTP callers (`Authorization: Bearer <key>`,
   * Basic's password, `?token=`), each standing for a user with optional
   * permissions. Checked before JWTs. Masked by `--print-config`.
   */
  apiKeys: configOnly<readonly ApiKey[]>()({
    flag: 'api-keys',
    env: 'EVENTWIRE_API_KEYS',
    arg: '<json>',
    help: 'API keys: [{"key":…,"user":…,"permissions":{…}}] (better in a file or the environment than on a command line)',
    read: json,
    schema: z.array(
      z.strictObject({
        key: z.string().min(16, 'expected a key of at least 16 characters'),
        user: z.string().min(1, 'expected the user id the key stands for'),
        permissions: permissionsSchema.optional(),
      }),
    ),
  }),
};

/** Every setting, options first. */
export const settings = { ...optionSettings, ...configOnlySettings };

export type OptionSettings = typeof optionSettings;
export type ConfigOnlySettings = typeof configOnlySettings;
export type Settings = typeof settings;
/** The name of a setting (a config-file key). */
export type SettingKey = keyof Settings;

/** The option type an option setting declares. */
export type OptionOf<TSetting> = TSetting extends { readonly types?: { readonly option: infer TOption } } ? TOption : never;
/** What a config file may write for a setting. */
export type InputOf<TSetting> = TSetting extends { readonly types?: { readonly input: infer TInput } } ? TInput : never;
/** What an option is once its default is applied (`resolveBrokerOptions`). */
export type ResolvedOf<TSetting> = TSetting extends { readonly types?: { readonly resolved: infer TResolved } } ? TResolved : never;

/** The `EventBrokerServer` options a config can set, each documented by its entry. */
export type ConfigurableBrokerOptions = { readonly [K in keyof OptionSettings]?: OptionOf<OptionSettings[K]> };

type DefaultOf<TSetting> = TSetting extends { readonly default?: infer TDefault } ? Exclude<TDefault, undefined> : never;
/** The defaults the table holds as values (the rest are worked out when the broker is made: see `defaultOf`). */
export type StaticDefaults = {
  readonly [K in keyof OptionSettings as [DefaultOf<OptionSettings[K]>] extends [never] ? never : K]: DefaultOf<OptionSettings[K]>;
};

/** Every option entry, as [key, entry] pairs. */
export const optionEntries = Object.entries(optionSettings) as Array<[keyof OptionSettings, OptionSetting]>;
/** Every entry, as [key, entry] pairs. */
export const settingEntries = Object.entries(settings) as Array<[SettingKey, Setting]>;
