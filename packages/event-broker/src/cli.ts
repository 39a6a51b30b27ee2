// The `event-broker` command. The only place that reads the environment: the
// flags, the variables and the config file are read by command-line.ts, from
// the settings table (settings.ts); this runs the broker they describe.
import { readFileSync } from 'node:fs';
import { createBrokerFromConfig } from './broker-from-config.js';
import { clusterNodeName } from './cluster/cluster-options.js';
import { readCommandLine, usage, type CommandLine } from './command-line.js';
import { BrokerConfigError, maskConfig } from './config.js';
import { brokerLogLevels, lineRecord, recordText, type BrokerLogRecord } from './log-record.js';

/**
 * Exits 2 with `message`, one `event-broker:` prefix per line. Only a usage
 * error (a bad flag, variable or config value) points at --help: for a
 * runtime failure (the port is taken, setup threw) --help has no answer.
 */
function fail(message: string, { usageError = false } = {}): never {
  console.error(`event-broker: ${message.replace(/\n/g, '\nevent-broker: ')}${usageError ? '\nRun event-broker --help for usage.' : ''}`);
  process.exit(2);
}

let commandLine: CommandLine;
try {
  commandLine = await readCommandLine(process.argv.slice(2), process.env);
} catch (error) {
  if (error instanceof BrokerConfigError) fail(error.message, { usageError: true });
  throw error;
}
if (commandLine.kind === 'help') {
  console.log(usage);
  process.exit(0);
}
if (commandLine.kind === 'version') {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  console.log(`event-broker ${version} (node ${process.version})`);
  process.exit(0);
}
const { config, sources, configPath } = commandLine;

if (commandLine.printConfig) {
  console.log(JSON.stringify({ config: maskConfig(config), sources }, null, 2));
  process.exit(0);
}

// The one place that chooses how the log is written: JSON lines with pino's
// field names (level, time, msg, then the record's own fields), or a
// timestamp and the text; records under --log-level are left out.
const least = brokerLogLevels.indexOf(config.logLevel ?? 'info');
const logger = (record: BrokerLogRecord): void => {
  if (brokerLogLevels.indexOf(record.level) < least) return;
  if (config.logFormat === 'json') {
    const { level, msg, ...fields } = record;
    process.stdout.write(`${JSON.stringify({ level, time: Date.now(), msg, ...fields })}\n`);
  } else console.log(`${new Date().toISOString()} ${recordText(record)}`);
};
const log = (line: string): void => logger(lineRecord(line));
// A cluster node is named after $HOSTNAME (a container's name) unless the config names it: only the CLI reads the environment.
const hostName = process.env['HOSTNAME'];
const cluster = config.cluster && hostName ? { cluster: { ...config.cluster, node: clusterNodeName(config.cluster, hostName) } } : {};
const configured = await createBrokerFromConfig({ ...config, ...cluster }, {
  logger,
}).catch((error: unknown) =>
  error instanceof BrokerConfigError ? fail(error.message, { usageError: true }) : fail(`setup failed: ${(error as Error).message}`),
);
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
// SIGHUP: read the TLS certificate and key again (a renewal); a bad pair keeps the one in use.
process.on('SIGHUP', () => {
  try {
    configured.broker.reloadTls();
  } catch (error) {
    log(`warning: SIGHUP: ${(error as Error).message}`);
  }
});

try {
  await configured.broker.listen();
} catch (error) {
  if (!stopping) fail(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
}
