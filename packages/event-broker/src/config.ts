// A broker config: its type and schema (both derived from the settings table in
// settings.ts), validation with messages that name the key as the user wrote
// it, layers and their precedence, and the typed `defineBrokerConfig`.
import { EventwireError, isStandardSchema, type EventMap, type UntypedEvents } from '@eventwire/event-channel';
import { z } from 'zod';
import type { ChannelRule } from './auth/channels.js';
import type { EventBrokerServer } from './server.js';
import { settingEntries, type InputOf, type SettingKey, type Settings } from './settings.js';

export { parseDuration, parseHistoryFlag, parsePusherFlag, parseSize } from './setting.js';
export type { AuditLogConfig, HistoryRuleConfig, WebhookConfig } from './settings.js';

/**
 * What a config file may write for each setting (see `settings.ts`): the
 * `EventBrokerServer` options, byte sizes also as text (`'1mb'`), history
 * ages as text (`'24h'`), the built-in observers and the authenticators.
 */
export type DeclaredBrokerConfig = { readonly [K in SettingKey]?: InputOf<Settings[K]> };

/**
 * Everything a broker config file (or the flags, or the environment) can say:
 * the declared settings and — in TypeScript or JavaScript files, not JSON —
 * the event map, channel rules and `setup`, which registers hooks typed by them.
 */
export interface BrokerConfig<TEvents extends EventMap = UntypedEvents, TChannels extends string = string> extends DeclaredBrokerConfig {
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

/** The part of the config a JSON file, the environment or a flag can hold: one schema per setting. */
export const declarativeConfigSchema = z
  .strictObject(Object.fromEntries(settingEntries.map(([key, setting]) => [key, setting.schema])) as { [K in SettingKey]: Settings[K]['schema'] })
  .partial();

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

/**
 * A config that failed validation (code `invalid_config`); `problems` name
 * each key path (as the user wrote it: a file's key, a flag, a variable) and
 * what was expected.
 */
export class BrokerConfigError extends EventwireError {
  override readonly name = 'BrokerConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options?: ErrorOptions) {
    super('invalid_config', problems.join('\n'), options);
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
 * `topicLimits` merges field by field, and so does `socketio` when both
 * layers give an object (`--socketio-redis URL` adds the bridge to a config
 * file's Socket.IO options instead of dropping them); every other key is
 * replaced whole.
 */
export function mergeConfigLayers(layers: readonly ConfigLayer[]): EffectiveConfig {
  const config: Record<string, unknown> = {};
  const sources: Record<string, string> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer.values)) {
      if (value === undefined) continue;
      if ((key === 'topicLimits' || key === 'socketio') && isPlainObject(config[key]) && isPlainObject(value)) {
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

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
