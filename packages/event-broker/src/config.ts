// The broker's configuration, declared once: the zod schema behind the config
// file, the environment and the CLI flags, and the typed `defineBrokerConfig`.
import { clusterSchemes } from './cluster/create-engine.js';
import {
  MAX_PAYLOAD_DEPTH,
  findTopicProblem,
  isStandardSchema,
  type EventMap,
  type TopicLimits,
  type UntypedEvents,
} from '@eventwire/event-channel';
import { z } from 'zod';
import type { ApiKey } from './auth/api-keys.js';
import type { ChannelRule } from './auth/channels.js';
import type { BrokerOptions } from './options.js';
import type { EventBrokerServer } from './server.js';

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

/** The `EventBrokerServer` options a config sets as they are (documented, with defaults, in `BrokerOptions`). */
export const passThroughOptionKeys = [
  'port',
  'host',
  'maxSubscriptionsPerConnection',
  'maxPayloadDepth',
  'slowConsumerMs',
  'heartbeatMs',
  'helloTimeoutMs',
  'interceptTimeoutMs',
  'observerTimeoutMs',
  'maxDerivedDepth',
  'shutdownTimeoutMs',
  'source',
  'allowUnknownTopics',
  'maxReplayEvents',
  'dataDir',
  'historyFsync',
  'allowAnonymous',
  'maxConnections',
  'maxConnectionsPerIp',
  'trustedProxies',
  'broadcastingPath',
  'maxPresenceMembers',
  'permissions',
  'rateLimits',
] as const satisfies ReadonlyArray<keyof BrokerOptions>;

/** One `history` entry of a config: like `HistoryRule`, with the age also as text (`'24h'`). */
export interface HistoryRuleConfig {
  readonly pattern: string;
  /** Most events kept per topic. @default 1000 */
  readonly maxEvents?: number;
  /** Longest an event is kept: milliseconds, or `'90s'`, `'30m'`, `'24h'`, `'7d'`. @default '24h' */
  readonly maxAge?: number | string;
}

/**
 * Everything a broker config file (or the flags, or the environment) can say:
 * the `EventBrokerServer` options, byte sizes also as text (`'1mb'`,
 * `'512kb'`), the built-in observers, and — in TypeScript or JavaScript
 * files, not JSON — the event map and `setup`, which registers hooks typed by it.
 */
export interface BrokerConfig<TEvents extends EventMap = UntypedEvents, TChannels extends string = string>
  extends Pick<BrokerOptions<TEvents>, (typeof passThroughOptionKeys)[number]> {
  /** @default '1mb' */
  readonly maxPayloadBytes?: number | string;
  /** @default '8mb' */
  readonly maxOutboundBytes?: number | string;
  /** All connections' queues together (`'1gb'`). @default a quarter of memory, at most 1gb */
  readonly maxTotalOutboundBytes?: number | string;
  /** Most bytes the durable history log keeps (`'10gb'` works). @default '1gb' */
  readonly historyMaxBytes?: number | string;
  /** Most bytes of history held in memory (`'256mb'`). @default an eighth of memory, at most 1gb */
  readonly historyMaxMemoryBytes?: number | string;
  /** Each field defaults to `topicLimitDefaults`. */
  readonly topicLimits?: Partial<TopicLimits>;
  /** The live dashboard (see `BrokerOptions.dashboard`); off unless set. */
  readonly dashboard?: BrokerOptions['dashboard'];
  /** GET /metrics (see `BrokerOptions.metrics`); on unless `false`. */
  readonly metrics?: BrokerOptions['metrics'];
  /** The Pusher surface (see `BrokerOptions.pusher`); `true` for the development app. */
  readonly pusher?: BrokerOptions['pusher'];
  /** Append every event to a JSONL file (rotated by size). */
  readonly auditLog?: AuditLogConfig;
  readonly webhooks?: readonly WebhookConfig[];
  /** No per-connection log lines. @default false */
  readonly quiet?: boolean;
  /** Topics that keep history (offsets, replay on reconnect, `GET /history`); the first matching rule applies. */
  readonly history?: readonly HistoryRuleConfig[];
  /** Verify JWTs signed with this HS256 secret (masked by `--print-config`). */
  readonly jwtSecret?: string | undefined;
  /** Verify JWTs against this JWKS endpoint (RS256/ES256). */
  readonly jwksUrl?: string | undefined;
  /** Required `aud` of JWTs. */
  readonly jwtAudience?: string | undefined;
  /** Required `iss` of JWTs. */
  readonly jwtIssuer?: string | undefined;
  /** Tolerated clock difference for JWTs' `exp` and `nbf`, in seconds. @default 5 */
  readonly jwtClockToleranceSec?: number;
  /**
   * API keys for services and HTTP callers (`Authorization: Bearer <key>`,
   * Basic's password, `?token=`), each standing for a user with optional
   * permissions. Checked before JWTs. Masked by `--print-config`.
   */
  readonly apiKeys?: readonly ApiKey[];
  /**
   * Rules for private and presence channels, as `broker.channel(template, rule)`
   * declares them (TypeScript/JavaScript configs only).
   * @example { 'private-user.{userId}': (user, { userId }) => user?.id === userId }
   */
  readonly channels?: { readonly [TTemplate in TChannels]: ChannelRule<TTemplate> };
  /** The event map the broker enforces (TypeScript/JavaScript configs only). */
  readonly events?: TEvents;
  /**
   * Called once with the broker before it listens: register `intercept` and
   * `observe` hooks here, typed by `events` (TypeScript/JavaScript configs only).
   */
  readonly setup?: (broker: EventBrokerServer<TEvents>) => void | Promise<void>;
}

/**
 * Declares a broker config file with full types: `setup`'s broker, and so
 * every hook, is typed by `events`.
 *
 * @example
 * // broker.config.ts — run with: event-broker --config broker.config.ts
 * export default defineBrokerConfig({
 *   port: 15500,
 *   events: shop,
 *   auditLog: './audit.jsonl',
 *   setup(broker) {
 *     broker.intercept('order.created', (event, ctx) => {
 *       if (event.data.total <= 0) ctx.reject('total must be positive');
 *     });
 *   },
 * });
 */
export function defineBrokerConfig<const TEvents extends EventMap = UntypedEvents, const TChannels extends string = never>(
  config: BrokerConfig<TEvents, TChannels>,
): BrokerConfig<TEvents> {
  return config as BrokerConfig<TEvents>;
}

// ---------------------------------------------------------------------------
// Validation

/** `1mb`, `512kb`, `64KiB`, or a byte count → bytes. Throws with a readable message. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a size (try 1mb, 512kb or a byte count)`);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit === 'b' ? 1 : unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : 1024 ** 3;
  const bytes = Math.floor(Number(match[1]) * factor);
  if (bytes < 1) throw new Error(`"${text}" is too small`);
  return bytes;
}

/** `500ms`, `90s`, `30m`, `24h`, `7d`, or milliseconds → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a duration (try 90s, 30m, 24h, 7d or milliseconds)`);
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? 'ms').toLowerCase() as 'ms'];
  const ms = Math.round(Number(match[1]) * factor);
  if (ms < 1) throw new Error(`"${text}" is too short`);
  return ms;
}

/**
 * One `--pusher` flag: `id:key:secret` for an app, or `dev` for the
 * development app (a secret cannot hold ':' here; use a config file for one that does).
 */
export function parsePusherFlag(text: string): { id: string; key: string; secret: string } | 'dev' {
  if (text === 'dev') return 'dev';
  const [id = '', key = '', secret = '', ...rest] = text.split(':');
  if (rest.length > 0 || id === '' || key === '' || secret === '') throw new Error(`"${text.replace(/:[^:]*$/, ':***')}" is not id:key:secret (or "dev")`);
  return { id, key, secret };
}

/**
 * One `--history` flag: `pattern[:maxEvents[:maxAge]]`, e.g. `order.#:10000:24h`
 * (a pattern never holds ':').
 */
export function parseHistoryFlag(text: string): { pattern: string; maxEvents?: number; maxAge?: string } {
  const [pattern = '', maxEvents, maxAge, ...rest] = text.split(':');
  if (rest.length > 0) throw new Error(`"${text}" has too many parts (pattern:maxEvents:maxAge)`);
  if (maxEvents !== undefined && maxEvents !== '' && !/^\d+$/.test(maxEvents)) throw new Error(`"${maxEvents}" in "${text}" is not a count`);
  return {
    pattern,
    ...(maxEvents !== undefined && maxEvents !== '' && { maxEvents: Number(maxEvents) }),
    ...(maxAge !== undefined && maxAge !== '' && { maxAge }),
  };
}

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
const clusterUrlProblem = 'expected a nats://, redis:// or postgres:// URL';
const pattern = z.string().refine((text) => findTopicProblem(text, 'pattern') === undefined, {
  error: (issue) => `"${String(issue.input)}" is not a valid topic pattern (${findTopicProblem(String(issue.input), 'pattern')})`,
});

const permissionsSchema = z.strictObject({ publish: z.array(pattern).optional(), subscribe: z.array(pattern).optional() });
const rateSchema = z.strictObject({
  perSecond: z.number({ error: 'expected a rate per second (a positive number)' }).positive(),
  burst: count.optional(),
});
const scopedRates = z.strictObject({ perConnection: rateSchema.optional(), perIp: rateSchema.optional() });

/** The part of the config a JSON file, the environment or a flag can hold. */
export const declarativeConfigSchema = z.strictObject({
  port: z.number({ error: 'expected a port number' }).int().min(0).max(65535, 'expected a port number from 0 to 65535'),
  host: z.string().min(1, 'expected an interface address such as 127.0.0.1 or 0.0.0.0'),
  maxPayloadBytes: size,
  maxSubscriptionsPerConnection: count,
  maxPayloadDepth: count.max(MAX_PAYLOAD_DEPTH, `expected at most ${MAX_PAYLOAD_DEPTH} levels`),
  maxOutboundBytes: size,
  maxTotalOutboundBytes: size,
  historyMaxBytes: size,
  historyMaxMemoryBytes: size,
  slowConsumerMs: milliseconds,
  heartbeatMs: milliseconds,
  helloTimeoutMs: milliseconds,
  interceptTimeoutMs: milliseconds,
  observerTimeoutMs: milliseconds,
  maxDerivedDepth: z.number().int().nonnegative(),
  shutdownTimeoutMs: milliseconds,
  source: z.string().min(1),
  allowUnknownTopics: z.boolean(),
  topicLimits: z.strictObject({ maxLength: count, maxSegments: count }).partial(),
  auditLog: z.union(
    [
      z.string().min(1),
      z.strictObject({ path: z.string().min(1), maxBytes: size.optional(), maxFiles: z.number().int().nonnegative().optional() }),
    ],
    { error: 'expected a file path, or { path, maxBytes?, maxFiles? }' },
  ),
  webhooks: z.array(
    z.strictObject({
      url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
      topics: pattern.optional(),
      headers: z.record(z.string(), z.string()).optional(),
      retries: z.number().int().nonnegative().optional(),
      timeoutMs: milliseconds.optional(),
      queueSize: count.optional(),
    }),
  ),
  quiet: z.boolean(),
  maxReplayEvents: count,
  allowAnonymous: z.boolean(),
  jwtSecret: z.string().min(16, 'expected a secret of at least 16 characters'),
  jwksUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL of a JWKS' }),
  jwtAudience: z.string().min(1),
  jwtIssuer: z.string().min(1),
  jwtClockToleranceSec: z.number({ error: 'expected seconds (a number)' }).nonnegative(),
  apiKeys: z.array(
    z.strictObject({
      key: z.string().min(16, 'expected a key of at least 16 characters'),
      user: z.string().min(1, 'expected the user id the key stands for'),
      permissions: permissionsSchema.optional(),
    }),
  ),
  permissions: z.strictObject({
    users: z.record(z.string(), permissionsSchema).optional(),
    authenticated: permissionsSchema.optional(),
    anonymous: permissionsSchema.optional(),
  }),
  rateLimits: z.strictObject({
    publish: scopedRates.optional(),
    subscribe: scopedRates.optional(),
    connect: z.strictObject({ perIp: rateSchema.optional() }).optional(),
    failedAuth: z.strictObject({ perIp: rateSchema.optional() }).optional(),
  }),
  maxConnections: count,
  maxConnectionsPerIp: count,
  maxPresenceMembers: count,
  trustedProxies: z.array(z.string().min(1, 'expected an IP address')),
  broadcastingPath: z.union([z.literal(false), z.string().regex(/^\/[^?#\s]*$/, 'expected a path such as /api/v1/broadcasting/ws')]),
  metrics: z.union([
    z.boolean(),
    z.strictObject({
      path: z.string().regex(/^\/[^?#\s]*$/, 'expected a path such as /metrics').optional(),
      topicGroups: z.array(pattern).optional(),
      defaultMetrics: z.boolean().optional(),
    }),
  ]),
  dashboard: z.union([
    z.boolean(),
    z.strictObject({
      path: z.string().regex(/^\/[^?#\s]*$/, 'expected a path such as /dashboard').optional(),
      users: z.array(z.string().min(1)).optional(),
      redact: z.array(z.string().min(1)).optional(),
      intervalMs: count.optional(),
    }),
  ]),
  // `true` is the development app ({}); `false` is off. An object is checked key by key (a union would only say "invalid input").
  pusher: z.preprocess(
    (value) => (value === true ? {} : value === false ? undefined : value),
    z.strictObject({
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
          }),
        )
        .min(1, 'expected at least one app { id, key, secret }')
        .optional(),
      authPath: z.union([z.literal(false), z.string().regex(/^\/[^?#\s]*$/, 'expected a path such as /broadcasting/auth')]).optional(),
      userAuthPath: z.union([z.literal(false), z.string().regex(/^\/[^?#\s]*$/, 'expected a path such as /pusher/user-auth')]).optional(),
      allowedOrigins: z.union([z.literal('*'), z.array(z.string().min(1))]).optional(),
    }, { error: 'expected true, or { apps?, authPath?, userAuthPath?, allowedOrigins? }' }),
  ),
  dataDir: z.string().min(1),
  // One object schema (a URL alone is its `url`), so a wrong key names its path instead of a union's "invalid input".
  cluster: z.preprocess(
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
      postgres: z
        .strictObject({
          channel: z.string().min(1).max(63).optional(),
          table: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'expected a table name (letters, digits, _)').optional(),
          largeEventRetentionMs: milliseconds.optional(),
        })
        .optional(),
    }),
  ),
  historyFsync: z.union([z.literal('always'), z.literal('never'), z.number().int().positive()], {
    error: 'expected "always", "never" or a number of milliseconds',
  }),
  history: z.array(z.strictObject({ pattern, maxEvents: count.optional(), maxAge: duration.optional() })),
}).partial();

/** A TypeScript/JavaScript config: the declarative part plus the event map and `setup`. */
export const codeConfigSchema = declarativeConfigSchema.extend({
  events: z
    .custom<EventMap>(
      (value) => typeof value === 'object' && value !== null && Object.values(value).every(isStandardSchema),
      'expected an event map from defineEvents() (topic → zod schema)',
    )
    .optional(),
  setup: z.custom<(broker: never) => unknown>((value) => typeof value === 'function', 'expected a function (broker) => void').optional(),
  channels: z
    .record(
      z.string(),
      z.custom<ChannelRule>((value) => typeof value === 'function', 'expected a rule: (user, params, channel) => boolean | Promise<boolean>'),
    )
    .optional(),
});

/** A validated config: sizes are bytes. */
export type ResolvedBrokerConfig = z.output<typeof codeConfigSchema>;

/** A config that failed validation; `problems` name each key path and what was expected. */
export class BrokerConfigError extends Error {
  override readonly name = 'BrokerConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.problems = problems;
  }
}

/**
 * Validates one layer of configuration (`where` names it in messages: a file
 * name, `EVENTWIRE_PORT`, `--port`). `keyName` maps a key path to how the user
 * wrote it (a flag or variable). Throws {@link BrokerConfigError}.
 */
export function validateConfig(
  value: unknown,
  where: string,
  options: { readonly code?: boolean; readonly keyName?: (path: string) => string } = {},
): ResolvedBrokerConfig {
  const schema = options.code ? codeConfigSchema : declarativeConfigSchema;
  if (!options.code && typeof value === 'object' && value !== null) {
    const codeOnly = ['events', 'setup', 'channels'].filter((key) => key in value);
    if (codeOnly.length > 0) {
      throw new BrokerConfigError(
        codeOnly.map((key) => `${where}: ${key}: needs a TypeScript or JavaScript config file (broker.config.ts); JSON cannot hold ${key === 'events' ? 'schemas' : 'functions'}`),
      );
    }
  }
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const name = options.keyName ?? ((path: string) => path);
  throw new BrokerConfigError(result.error.issues.flatMap((issue) => describeIssue(issue, where, name)));
}

const knownKeys = Object.keys(codeConfigSchema.shape);

/** Keys whose values are secrets: masked by `--print-config`, never echoed in errors. */
const SECRET_KEY = /secret|password|token|authorization|api.?key|master.?key|^key$/i;

function describeIssue(issue: z.core.$ZodIssue, where: string, name: (path: string) => string, base: readonly PropertyKey[] = []): string[] {
  const prefix = where ? `${where}: ` : '';
  const keys = [...base, ...issue.path];
  const path = keys.map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index > 0 ? '.' : ''}${String(key)}`)).join('');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => {
      const full = path ? `${path}.${key}` : key;
      const hint = path ? '' : didYouMean(key, knownKeys);
      return `${prefix}${name(full)}: unknown key${hint}`;
    });
  }
  if (issue.code === 'invalid_union') {
    // One alternative accepted the type but not the value ("lots" is a string
    // but not a size): its message says more than "expected one of".
    const closest = issue.errors.find((branch) => branch.length > 0 && branch.every((inner) => inner.code !== 'invalid_type'));
    if (closest) return closest.flatMap((inner) => describeIssue(inner, where, name, keys));
  }
  // A secret's value is never echoed, not even a wrong one.
  const input = 'input' in issue && !SECRET_KEY.test(path) ? JSON.stringify(issue.input) : undefined;
  const message = issue.code === 'invalid_type' && issue.message.startsWith('Invalid input') ? `expected ${issue.expected}` : issue.message;
  const got = input !== undefined && !message.includes(input) ? `, got ${input}` : '';
  return [`${prefix}${name(path) || '(the whole config)'}: ${message}${got}`];
}

function didYouMean(key: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

// ---------------------------------------------------------------------------
// Layers and precedence

/** One source of settings, lowest precedence first when merged. */
export interface ConfigLayer {
  /** How `--print-config` names it: `default`, `file broker.config.json`, `env EVENTWIRE_PORT`, `flag --port`. */
  readonly label: (key: string) => string;
  readonly values: ResolvedBrokerConfig;
}

/** The merged config and, for each key set, which layer it came from. */
export interface EffectiveConfig {
  readonly config: ResolvedBrokerConfig;
  readonly sources: Readonly<Record<string, string>>;
}

/**
 * Merges layers, later ones winning key by key (flags > environment > file >
 * defaults, when given in the order defaults, file, environment, flags).
 * `topicLimits` merges field by field; every other key is replaced whole.
 */
export function mergeConfigLayers(layers: readonly ConfigLayer[]): EffectiveConfig {
  const config: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      if (value === undefined) continue;
      if (key === 'topicLimits' && typeof config[key] === 'object') {
        config[key] = { ...(config[key] as object), ...(value as object) };
      } else config[key] = value;
      sources[key] = layer.label(key);
    }
  }
  return { config: config as ResolvedBrokerConfig, sources };
}

/**
 * A printable copy of the config: secrets masked (webhook header values,
 * passwords in URLs, any key that names a secret, token or password), the
 * event map as its topics, functions as `[function]`.
 */
export function maskConfig(config: ResolvedBrokerConfig): Record<string, unknown> {
  const mask = (key: string, value: unknown): unknown => {
    if (typeof value === 'function') return '[function]';
    if (typeof value === 'string') {
      if (SECRET_KEY.test(key)) return '***';
      return value.replace(/^(\w+:\/\/[^:/@]+:)[^@/]*@/, '$1***@');
    }
    if (Array.isArray(value)) return value.map((entry) => mask(key, entry));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([inner, entry]) => [inner, key === 'headers' ? '***' : mask(inner, entry)]));
    }
    return value;
  };
  const printable: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    printable[key] = key === 'events' ? Object.keys(value as object) : mask(key, value);
  }
  return printable;
}
