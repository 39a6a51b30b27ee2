// The `event-broker` command. The only place that reads the environment.
// Settings come from four layers, each overriding the one before: defaults,
// the config file (--config), the environment, the flags.
import { parseArgs } from 'node:util';
import { createBrokerFromConfig } from './broker-from-config.js';
import { clusterNodeName } from './cluster/cluster-options.js';
import { loadBrokerConfigFile } from './config-file.js';
import {
  BrokerConfigError,
  maskConfig,
  mergeConfigLayers,
  parseHistoryFlag,
  parsePusherFlag,
  validateConfig,
  type ConfigLayer,
  type ResolvedBrokerConfig,
} from './config.js';
import { brokerDefaults } from './options.js';
import { defaultMaxConnections } from './capacity.js';

const usage = `event-broker — the eventwire event broker

Usage: event-broker [--config broker.config.ts] [options]

Options (each also read from the environment variable shown; flags win over
the environment, the environment over the config file):
  --config <file>        a config file: .ts .mts .js .mjs EVENTWIRE_CONFIG
                         .json (see the broker README)
  --print-config         print the effective config, where each value came
                         from, secrets masked; then exit
  --port <n>             TCP port; 0 picks a free one   EVENTWIRE_PORT        (default ${brokerDefaults.port})
  --host <address>       interface to bind              EVENTWIRE_HOST        (default ${brokerDefaults.host};
                                                                               0.0.0.0 for every interface)
  --max-payload <size>   largest message: 1mb, 512kb,   EVENTWIRE_MAX_PAYLOAD (default 1mb)
                         or bytes
  --max-payload-depth <n>                               EVENTWIRE_MAX_PAYLOAD_DEPTH
                         deepest nesting of event data; (default 128, at most 1000)
                         deeper is invalid_payload
  --audit-log <path>     append every event as JSONL,   EVENTWIRE_AUDIT_LOG
                         rotated at 10 MiB
  --webhook <url>        POST every event (CloudEvent)  EVENTWIRE_WEBHOOK
  --webhook-topics <p>   pattern for --webhook          EVENTWIRE_WEBHOOK_TOPICS (default #)
  --heartbeat <ms>       ping interval                  EVENTWIRE_HEARTBEAT_MS (default ${brokerDefaults.heartbeatMs})
  --history <rule>       keep history for a pattern:    EVENTWIRE_HISTORY (rules joined by ",")
                         pattern[:maxEvents[:maxAge]],
                         e.g. 'order.#:10000:24h'; repeatable
  --data-dir <dir>       durable state: history goes to EVENTWIRE_DATA_DIR
                         a log there, kept across restarts
  --fsync <policy>       always | never | <ms>          EVENTWIRE_FSYNC (default 100)
  --history-max-memory <size>                           EVENTWIRE_HISTORY_MAX_MEMORY
                         most history held in memory;   (default: an eighth of the
                         past it the oldest go (gap)    memory limit, at most 1gb)
  --cluster <url>        share one event space with the EVENTWIRE_CLUSTER
                         brokers on this server:
                         nats://a:4222,b:4222, redis://host:6379
                         or postgres://user@host/db
  --pusher <app>         speak the Pusher protocol      EVENTWIRE_PUSHER (apps joined by ",")
                         (pusher-js, Laravel Echo) for
                         an app id:key:secret, or "dev"
                         for app-id:app-key:app-secret;
                         repeatable
  --metrics <on|off>     GET /metrics (Prometheus)      EVENTWIRE_METRICS (default on)
  --dashboard <on|off>   the live page at /dashboard    EVENTWIRE_DASHBOARD (default off;
                         (users: in a config file)      with authentication, only
                                                        dashboard.users may watch)
  --jwt-secret <secret>  authenticate with HS256 JWTs  EVENTWIRE_JWT_SECRET
  --jwks-url <url>       authenticate with JWTs signed  EVENTWIRE_JWKS_URL
                         by keys from this JWKS
  --max-connections <n>  most WebSocket connections;    EVENTWIRE_MAX_CONNECTIONS
                         past it 503 + Retry-After      (default: open-file limit
                                                        minus a reserve)
  --max-connections-per-ip <n>                          EVENTWIRE_MAX_CONNECTIONS_PER_IP
                         most from one address; 429     (default unlimited)
  --quiet                no per-connection log lines    EVENTWIRE_QUIET=1
  -h, --help             show this help

Endpoints: ws://host:port/ (eventwire protocol), /pubsub/ws?topics=… (Synap),
POST /pubsub/{topic}/publish, GET /pubsub/stats, /pubsub/topics,
/pubsub/{topic}/info, /health, /stats, /metrics, /cluster, /dashboard (with
--dashboard on); with --pusher also
ws://host:port/app/{key} (Pusher protocol 7), /apps/{id}/… (Pusher HTTP API),
POST /broadcasting/auth and /pusher/user-auth.`;

function fail(message: string): never {
  console.error(`event-broker: ${message.replace(/\n/g, '\nevent-broker: ')}\nRun event-broker --help for usage.`);
  process.exit(2);
}

/** Each flag: its environment variable and the config key it sets. */
const settings = [
  { flag: 'port', variable: 'EVENTWIRE_PORT', key: 'port', kind: 'number' },
  { flag: 'host', variable: 'EVENTWIRE_HOST', key: 'host', kind: 'string' },
  { flag: 'max-payload', variable: 'EVENTWIRE_MAX_PAYLOAD', key: 'maxPayloadBytes', kind: 'size' },
  { flag: 'max-payload-depth', variable: 'EVENTWIRE_MAX_PAYLOAD_DEPTH', key: 'maxPayloadDepth', kind: 'number' },
  { flag: 'audit-log', variable: 'EVENTWIRE_AUDIT_LOG', key: 'auditLog', kind: 'string' },
  { flag: 'webhook', variable: 'EVENTWIRE_WEBHOOK', key: 'webhooks', kind: 'string' },
  { flag: 'webhook-topics', variable: 'EVENTWIRE_WEBHOOK_TOPICS', key: 'webhooks', kind: 'string' },
  { flag: 'heartbeat', variable: 'EVENTWIRE_HEARTBEAT_MS', key: 'heartbeatMs', kind: 'number' },
  { flag: 'quiet', variable: 'EVENTWIRE_QUIET', key: 'quiet', kind: 'boolean' },
  { flag: 'history', variable: 'EVENTWIRE_HISTORY', key: 'history', kind: 'history' },
  { flag: 'data-dir', variable: 'EVENTWIRE_DATA_DIR', key: 'dataDir', kind: 'string' },
  { flag: 'fsync', variable: 'EVENTWIRE_FSYNC', key: 'historyFsync', kind: 'number' },
  { flag: 'history-max-memory', variable: 'EVENTWIRE_HISTORY_MAX_MEMORY', key: 'historyMaxMemoryBytes', kind: 'size' },
  { flag: 'cluster', variable: 'EVENTWIRE_CLUSTER', key: 'cluster', kind: 'string' },
  { flag: 'pusher', variable: 'EVENTWIRE_PUSHER', key: 'pusher', kind: 'pusher' },
  { flag: 'metrics', variable: 'EVENTWIRE_METRICS', key: 'metrics', kind: 'switch' },
  { flag: 'dashboard', variable: 'EVENTWIRE_DASHBOARD', key: 'dashboard', kind: 'switch' },
  { flag: 'jwt-secret', variable: 'EVENTWIRE_JWT_SECRET', key: 'jwtSecret', kind: 'string' },
  { flag: 'jwks-url', variable: 'EVENTWIRE_JWKS_URL', key: 'jwksUrl', kind: 'string' },
  { flag: 'max-connections', variable: 'EVENTWIRE_MAX_CONNECTIONS', key: 'maxConnections', kind: 'number' },
  { flag: 'max-connections-per-ip', variable: 'EVENTWIRE_MAX_CONNECTIONS_PER_IP', key: 'maxConnectionsPerIp', kind: 'number' },
] as const;

let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs({
    options: {
      config: { type: 'string' },
      'print-config': { type: 'boolean' },
      port: { type: 'string' },
      host: { type: 'string' },
      'max-payload': { type: 'string' },
      'max-payload-depth': { type: 'string' },
      'audit-log': { type: 'string' },
      webhook: { type: 'string' },
      'webhook-topics': { type: 'string' },
      heartbeat: { type: 'string' },
      quiet: { type: 'boolean' },
      history: { type: 'string', multiple: true },
      'data-dir': { type: 'string' },
      'jwt-secret': { type: 'string' },
      'jwks-url': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-connections-per-ip': { type: 'string' },
      fsync: { type: 'string' },
      'history-max-memory': { type: 'string' },
      cluster: { type: 'string' },
      pusher: { type: 'string', multiple: true },
      metrics: { type: 'string' },
      dashboard: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
} catch (error) {
  fail((error as Error).message);
}
const flags = parsed.values as Record<string, string | boolean | string[] | undefined>;
if (flags['help']) {
  console.log(usage);
  process.exit(0);
}

/**
 * One layer from flags or variables. Numbers stay text when they are not
 * numbers, so validation can say "expected a port number, got "abc"".
 */
function layerFrom(read: (setting: (typeof settings)[number]) => string | boolean | string[] | undefined, name: (setting: (typeof settings)[number]) => string, label: string): ConfigLayer {
  const raw: Record<string, unknown> = {};
  const names = new Map<string, string>();
  for (const setting of settings) {
    const value = read(setting);
    if (value === undefined || setting.key === 'webhooks') continue;
    names.set(setting.key, name(setting));
    if (setting.kind === 'history') {
      const specs = Array.isArray(value) ? value : String(value).split(',').filter((spec) => spec.trim() !== '');
      try {
        raw[setting.key] = specs.map((spec) => parseHistoryFlag(spec.trim()));
      } catch (error) {
        throw new BrokerConfigError([`${name(setting)}: ${(error as Error).message}`]);
      }
    } else if (setting.kind === 'pusher') {
      const specs = Array.isArray(value) ? value : String(value).split(',').filter((spec) => spec.trim() !== '');
      try {
        const apps = specs.map((spec) => parsePusherFlag(spec.trim()));
        raw[setting.key] = apps.includes('dev') ? true : { apps };
      } catch (error) {
        throw new BrokerConfigError([`${name(setting)}: ${(error as Error).message}`]);
      }
    } else if (setting.kind === 'switch') {
      const text = String(value).toLowerCase();
      if (!['on', 'off', 'true', 'false', '1', '0'].includes(text)) throw new BrokerConfigError([`${name(setting)}: expected on or off, got "${String(value).slice(0, 20)}"`]);
      raw[setting.key] = text === 'on' || text === 'true' || text === '1';
    } else if (setting.kind === 'number') raw[setting.key] = /^\d+$/.test(String(value)) ? Number(value) : value;
    else if (setting.kind === 'boolean') raw[setting.key] = value === true || value === '1' || value === 'true';
    else raw[setting.key] = value;
  }
  const [webhook, topics] = settings.filter((setting) => setting.key === 'webhooks').map(read);
  if (webhook !== undefined) {
    raw['webhooks'] = [{ url: webhook, ...(topics !== undefined && { topics }) }];
    names.set('webhooks', name(settings.find((setting) => setting.flag === 'webhook')!));
  }
  const values = validateConfig(raw, '', {
    keyName: (path) => {
      if (path.startsWith('webhooks[0].topics')) return name(settings.find((setting) => setting.flag === 'webhook-topics')!);
      return names.get(path.split(/[.[]/)[0]!) ?? path;
    },
  });
  return { label: (key) => `${label} ${names.get(key) ?? key}`, values };
}

let layers: ConfigLayer[];
let fileConfig: ResolvedBrokerConfig = {};
const configPath = (flags['config'] as string | undefined) ?? process.env['EVENTWIRE_CONFIG'];
try {
  // The connection cap is derived from this process's open-file limit; --print-config says how.
  const cap = defaultMaxConnections();
  const defaults: ConfigLayer = {
    label: (key) => (key === 'maxConnections' ? `default: ${cap.reason}` : 'default'),
    values: { ...brokerDefaults, maxConnections: cap.value },
  };
  if (configPath) fileConfig = await loadBrokerConfigFile(configPath);
  const file: ConfigLayer = { label: () => `file ${configPath}`, values: fileConfig };
  const environment = layerFrom((setting) => process.env[setting.variable], (setting) => setting.variable, 'env');
  const flagLayer = layerFrom((setting) => flags[setting.flag], (setting) => `--${setting.flag}`, 'flag');
  layers = [defaults, file, environment, flagLayer];
} catch (error) {
  if (error instanceof BrokerConfigError) fail(error.message);
  throw error;
}
const { config, sources } = mergeConfigLayers(layers);

if (flags['print-config']) {
  console.log(JSON.stringify({ config: maskConfig(config), sources }, null, 2));
  process.exit(0);
}

const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);
// A cluster node is named after $HOSTNAME (a container's name) unless the config names it: only the CLI reads the environment.
const hostName = process.env['HOSTNAME'];
const cluster = config.cluster && hostName ? { cluster: { ...config.cluster, node: clusterNodeName(config.cluster, hostName) } } : {};
const configured = await createBrokerFromConfig({ ...config, ...cluster }, {
  log,
  onError: (error) => log(`error ${error.code}: ${error.message}`),
}).catch((error: unknown) => fail(error instanceof BrokerConfigError ? error.message : `setup failed: ${(error as Error).message}`));
if (configPath) log(`config: ${configPath}`);

// Ctrl-C may come at any moment (even before listening); later ones are ignored.
let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`${signal} received`);
  await configured.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

try {
  await configured.broker.listen();
} catch (error) {
  if (!stopping) fail(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
}
