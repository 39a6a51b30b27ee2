// The `event-broker` command. The only place that reads the environment.
import { parseArgs } from 'node:util';
import { createAuditLog, type AuditLog } from './observers/audit-log.js';
import { createWebhookNotifier } from './observers/webhook.js';
import { brokerDefaults } from './options.js';
import { EventBrokerServer } from './server.js';

const usage = `event-broker — the eventwire event broker

Usage: event-broker [options]

Options (each also read from the environment variable shown):
  --port <n>             TCP port; 0 picks a free one   EVENTWIRE_PORT        (default ${brokerDefaults.port})
  --host <address>       interface to bind              EVENTWIRE_HOST        (default ${brokerDefaults.host};
                                                                               0.0.0.0 for every interface)
  --max-payload <size>   largest message: 1mb, 512kb,   EVENTWIRE_MAX_PAYLOAD (default 1mb)
                         or bytes
  --audit-log <path>     append every event as JSONL,   EVENTWIRE_AUDIT_LOG
                         rotated at 10 MiB
  --webhook <url>        POST every event (CloudEvent)  EVENTWIRE_WEBHOOK
  --webhook-topics <p>   pattern for --webhook          EVENTWIRE_WEBHOOK_TOPICS (default #)
  --heartbeat <ms>       ping interval                  EVENTWIRE_HEARTBEAT_MS (default ${brokerDefaults.heartbeatMs})
  --quiet                no per-connection log lines
  -h, --help             show this help

Endpoints: ws://host:port/ (eventwire protocol), /pubsub/ws?topics=… (Synap),
POST /pubsub/{topic}/publish, GET /pubsub/stats, /pubsub/topics,
/pubsub/{topic}/info, /health, /stats.`;

function fail(message: string): never {
  console.error(`event-broker: ${message}\nRun event-broker --help for usage.`);
  process.exit(2);
}

export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib)?$/i.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a size (try 1mb, 512kb or a byte count)`);
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit === 'b' ? 1 : unit.startsWith('k') ? 1024 : 1024 * 1024;
  const bytes = Math.floor(Number(match[1]) * factor);
  if (bytes < 1) throw new Error(`"${text}" is too small`);
  return bytes;
}

function integer(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) fail(`${name} must be a non-negative integer, got "${text}"`);
  return value;
}

let parsed: ReturnType<typeof parseArgs>;
try {
  parsed = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'max-payload': { type: 'string' },
      'audit-log': { type: 'string' },
      webhook: { type: 'string' },
      'webhook-topics': { type: 'string' },
      heartbeat: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
} catch (error) {
  fail((error as Error).message);
}
const flags = parsed.values as Record<string, string | boolean | undefined>;
if (flags['help']) {
  console.log(usage);
  process.exit(0);
}
const env = process.env;
const option = (flag: string, variable: string): string | undefined =>
  (flags[flag] as string | undefined) ?? env[variable];

const port = integer('--port', option('port', 'EVENTWIRE_PORT') ?? String(brokerDefaults.port));
const host = option('host', 'EVENTWIRE_HOST') ?? brokerDefaults.host;
let maxPayloadBytes: number = brokerDefaults.maxPayloadBytes;
const maxPayload = option('max-payload', 'EVENTWIRE_MAX_PAYLOAD');
if (maxPayload !== undefined) {
  try {
    maxPayloadBytes = parseSize(maxPayload);
  } catch (error) {
    fail(`--max-payload: ${(error as Error).message}`);
  }
}
const heartbeat = option('heartbeat', 'EVENTWIRE_HEARTBEAT_MS');
const quiet = flags['quiet'] === true;
const log = (line: string): void => console.log(`${new Date().toISOString()} ${line}`);

const broker = new EventBrokerServer({
  port,
  host,
  maxPayloadBytes,
  ...(heartbeat !== undefined && { heartbeatMs: integer('--heartbeat', heartbeat) }),
  log: quiet ? (line) => !line.startsWith('conn ') && log(line) : log,
  onError: (error) => log(`error ${error.code}: ${error.message}`),
});

let audit: AuditLog | undefined;
const auditPath = option('audit-log', 'EVENTWIRE_AUDIT_LOG');
if (auditPath) {
  audit = createAuditLog({ path: auditPath });
  broker.observe('#', audit.observer);
  log(`audit log: ${auditPath}`);
}
const webhook = option('webhook', 'EVENTWIRE_WEBHOOK');
if (webhook) {
  const topics = option('webhook-topics', 'EVENTWIRE_WEBHOOK_TOPICS') ?? '#';
  try {
    broker.observe(topics, createWebhookNotifier({ url: webhook }));
  } catch (error) {
    fail(`--webhook-topics: ${(error as Error).message}`);
  }
  log(`webhook: ${topics} → ${webhook}`);
}

// Ctrl-C may come at any moment (even before listening); later ones are ignored.
let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log(`${signal} received`);
  await broker.close();
  await audit?.close();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

try {
  await broker.listen();
} catch (error) {
  if (!stopping) fail(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
}
