// A broker built from a config (file, environment, flags): the server, its
// built-in observers (audit log, webhooks) and the config's own setup.
import type { EventMap, EventwireError, UntypedEvents } from '@eventwire/event-channel';
import { BrokerConfigError, validateConfig, type BrokerConfig, type ResolvedBrokerConfig } from './config.js';
import type { PusherOptions } from './options.js';
import { developmentPusherApp } from './surfaces/pusher/pusher-apps.js';
import { exact, optionEntries, type ConfigurableBrokerOptions } from './settings.js';
import { createApiKeyAuthenticator } from './auth/api-keys.js';
import type { Authenticator } from './auth/authenticate.js';
import { createJwtAuthenticator } from './auth/jwt.js';
import { createAuditLog, type AuditLog } from './observers/audit-log.js';
import { createWebhookNotifier, describeWebhookRetry, shownWebhookUrl, type WebhookRetry } from './observers/webhook.js';
import { builtinHook, type HookOptions } from './hooks.js';
import { errorRecord, lineRecord, type BrokerLogger, type BrokerLogRecord } from './log-record.js';
import { EventBrokerServer } from './server.js';

/** A broker made by {@link createBrokerFromConfig}, with what it owns. */
export interface ConfiguredBroker<TEvents extends EventMap> {
  readonly broker: EventBrokerServer<TEvents>;
  /** The audit log, when the config has one. */
  readonly auditLog: AuditLog | undefined;
  /** Closes the broker gracefully, then the audit log. Idempotent. */
  close(): Promise<void>;
}

/** What only the program running the broker decides: where its lines go. */
export interface ConfiguredBrokerOptions {
  /** Receives one readable line per connection and state change (filtered by `quiet`). */
  readonly log?: (line: string) => void;
  /** Receives the same as records (filtered by `quiet`); when set, `log` is not called. See `BrokerOptions.logger`. */
  readonly logger?: BrokerLogger;
  readonly onError?: (error: EventwireError) => void;
  /**
   * Your own authentication (sessions of your app, a custom token): what
   * `BrokerOptions.authenticate` is, for a config that cannot hold a
   * function that outlives it. Replaces the config's JWT and API key checks.
   * @default from the config's jwtSecret/jwksUrl and apiKeys, else none
   */
  readonly authenticate?: Authenticator;
}

/**
 * Builds (does not start) a broker from a config: validates it (throws
 * `BrokerConfigError`), creates the server, registers the audit log and
 * webhooks on their patterns, then runs the config's `setup`.
 *
 * @example
 * const { broker, close } = await createBrokerFromConfig(await loadBrokerConfigFile('broker.config.ts'));
 * await broker.listen();
 */
export async function createBrokerFromConfig<TEvents extends EventMap = UntypedEvents>(
  input: BrokerConfig<TEvents> | ResolvedBrokerConfig,
  options: ConfiguredBrokerOptions = {},
): Promise<ConfiguredBroker<TEvents>> {
  const config = validateConfig(input, 'config', { code: true });
  // One way out for this function's own lines too (the audit log's, the webhooks'): a record to `logger`, else text to `log`.
  const logger = options.logger && (config.quiet ? (record: BrokerLogRecord) => void (record.conn === undefined && options.logger!(record)) : options.logger);
  const log = logger ? (line: string) => logger(lineRecord(line)) : options.log;
  const broker = new EventBrokerServer<TEvents>({
    ...withPusherWebhooks(brokerOptionsOf(config), config.pusherWebhooks),
    ...(config.events && { events: config.events as TEvents }),
    ...(logger ? { logger } : log && { log: config.quiet ? (line: string) => void (!line.startsWith('conn ') && log(line)) : log }),
    ...(options.authenticate ? { authenticate: options.authenticate } : authenticatorOf(config)),
    ...(options.onError && { onError: options.onError }),
  });
  // The built-in observers take any event: register them on the untyped view.
  const untyped = broker as unknown as EventBrokerServer;
  let auditLog: AuditLog | undefined;
  if (config.auditLog !== undefined) {
    const audit = typeof config.auditLog === 'string' ? { path: config.auditLog } : config.auditLog;
    auditLog = createAuditLog({
      path: audit.path,
      ...(audit.maxBytes !== undefined && { maxBytes: audit.maxBytes }),
      ...(audit.maxFiles !== undefined && { maxFiles: audit.maxFiles }),
      ...(log && { onProblem: log }),
    });
    // The gate first: while the file cannot be written, nothing is accepted that would go unlogged.
    untyped.intercept('#', auditLog.gate, builtin('audit log'));
    untyped.observe('#', auditLog.observer, builtin('audit log'));
    log?.(`audit log: ${audit.path}`);
  }
  for (const webhook of config.webhooks ?? []) {
    const topics = webhook.topics ?? '#';
    const notifier = createWebhookNotifier({
      url: webhook.url,
      ...(webhook.headers && { headers: webhook.headers }),
      ...(webhook.retries !== undefined && { retries: webhook.retries }),
      ...(webhook.timeoutMs !== undefined && { timeoutMs: webhook.timeoutMs }),
      ...(logger
        ? { onRetry: (retry: WebhookRetry) => logger(webhookRetryRecord(retry)) }
        : log && { onRetry: (retry: WebhookRetry) => log(describeWebhookRetry(retry)) }),
    });
    untyped.observe(topics, notifier, {
      ...builtin(`webhook ${shownWebhookUrl(webhook.url)}`),
      ...(webhook.queueSize !== undefined && { queueSize: webhook.queueSize }),
    });
    log?.(`webhook: ${topics} → ${new URL(webhook.url).origin}`);
  }
  for (const [template, rule] of Object.entries(config.channels ?? {})) broker.channel(template, rule);
  await (input.setup as ((broker: EventBrokerServer<TEvents>) => unknown) | undefined)?.(broker);
  let closing: Promise<void> | undefined;
  return {
    broker,
    auditLog,
    close: () =>
      (closing ??= (async () => {
        await broker.close();
        await auditLog?.close();
      })()),
  };
}

/** `--pusher-webhook app=url` flags added to their apps' webhooks; an app that is not served is a config error. */
function withPusherWebhooks(options: ConfigurableBrokerOptions, flags: ResolvedBrokerConfig['pusherWebhooks']): ConfigurableBrokerOptions {
  if (!flags || flags.length === 0) return options;
  const pusher: PusherOptions | undefined = options.pusher === true ? {} : options.pusher || undefined;
  if (!pusher) throw new BrokerConfigError([`pusherWebhooks: the Pusher surface is off; set pusher (--pusher id:key:secret)`]);
  const apps = pusher.apps ?? [developmentPusherApp];
  for (const { app } of flags) {
    if (!apps.some((each) => each.id === app)) throw new BrokerConfigError([`pusherWebhooks: no Pusher app "${app}" (served: ${apps.map((each) => each.id).join(', ')})`]);
  }
  return {
    ...options,
    pusher: {
      ...pusher,
      apps: apps.map((app) => {
        const added = flags.filter((flag) => flag.app === app.id).map((flag) => ({ url: flag.url }));
        return added.length === 0 ? app : { ...app, webhooks: [...(app.webhooks ?? []), ...added] };
      }),
    },
  };
}

/** A webhook's retry as a warning record: its URL, status, code, cause and which retry comes. */
function webhookRetryRecord(retry: WebhookRetry): BrokerLogRecord {
  return errorRecord(retry.error, {
    level: 'warn',
    msg: describeWebhookRetry(retry),
    hook: `webhook ${retry.url}`,
    url: retry.url,
    retry: retry.retry,
    ...(retry.status !== undefined && { status: retry.status }),
  });
}

/** Hook options naming one of the broker's own hooks (listed apart from the application's). */
function builtin(name: string): HookOptions {
  return { name, [builtinHook]: true } as HookOptions;
}

/** API keys first, then JWTs: whichever the config names; neither, no authentication. */
function authenticatorOf(config: ResolvedBrokerConfig): { authenticate?: Authenticator } {
  const jwt =
    config.jwtSecret !== undefined || config.jwksUrl !== undefined
      ? createJwtAuthenticator({
          ...(config.jwtSecret !== undefined ? { secret: config.jwtSecret } : { jwksUrl: config.jwksUrl! }),
          ...(config.jwtAudience !== undefined && { audience: config.jwtAudience }),
          ...(config.jwtIssuer !== undefined && { issuer: config.jwtIssuer }),
          ...(config.jwtClockToleranceSec !== undefined && { clockToleranceSec: config.jwtClockToleranceSec }),
        })
      : undefined;
  if (config.apiKeys && config.apiKeys.length > 0) return { authenticate: createApiKeyAuthenticator(config.apiKeys, jwt) };
  return jwt ? { authenticate: jwt } : {};
}

/** The `EventBrokerServer` options a validated config sets: each option setting's value, as its entry turns it into the option. */
export function brokerOptionsOf(config: ResolvedBrokerConfig): ConfigurableBrokerOptions {
  const options: Record<string, unknown> = {};
  for (const [key, setting] of optionEntries) {
    const value = config[key];
    if (value !== undefined) options[key] = setting.toOption ? setting.toOption(value) : exact(value);
  }
  return options as ConfigurableBrokerOptions;
}
