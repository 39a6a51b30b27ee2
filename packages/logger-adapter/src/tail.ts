// `eventwire-tail`: watch a broker's log events live in the terminal.
import { parseArgs } from 'node:util';
import { EventChannel } from '@eventwire/event-channel';
import { levelSeverity, logEvents, logLevels, serviceSegment, type LogLevel, type LogRecord } from './events.js';

const usage = `eventwire-tail — watch log events live

Usage: eventwire-tail [--url ws://localhost:15500] [--level info] [--service name] [--json]

  --url <url>        broker to connect to       (EVENTWIRE_URL, default ws://127.0.0.1:15500)
  --level <level>    lowest level shown: ${logLevels.join(', ')} (default debug)
  --service <name>   one service only (default: every service)
  --json             print each record as one JSON line
  -h, --help         show this help`;

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    level: { type: 'string', default: 'debug' },
    service: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (!(logLevels as readonly string[]).includes(values.level!)) {
  console.error(`eventwire-tail: --level must be one of ${logLevels.join(', ')}`);
  process.exit(2);
}
const minimum = values.level as LogLevel;
const url = values.url ?? process.env['EVENTWIRE_URL'] ?? 'ws://127.0.0.1:15500';
const service = values.service === undefined ? '*' : serviceSegment(values.service);
const colours: Record<LogLevel, string> = { debug: '90', info: '36', warn: '33', error: '31', fatal: '35' };
const colour = process.stdout.isTTY ? (code: string, text: string) => `\u001b[${code}m${text}\u001b[0m` : (_: string, text: string) => text;

function line(record: LogRecord): string {
  if (values.json) return JSON.stringify(record);
  const fields = Object.keys(record.fields).length ? ` ${JSON.stringify(record.fields)}` : '';
  let error = '';
  for (let cause = record.error, depth = 0; cause && depth < 5; cause = cause.cause, depth++) {
    const text = cause.stack ?? `${cause.name}: ${cause.message}`;
    error += `\n  ${depth > 0 ? 'caused by: ' : ''}${text.replace(/\n/g, '\n  ')}`;
  }
  const dropped = record.dropped ? colour('33', ` (${record.dropped} dropped before this)`) : '';
  return `${record.time} ${colour(colours[record.level], record.level.toUpperCase().padEnd(5))} ${record.service}: ${record.message}${fields}${dropped}${error}`;
}

const channel = new EventChannel({ url, events: logEvents, onError: (error) => console.error(`eventwire-tail: ${error.code}: ${error.message}`) });
channel.onStatus((status) => {
  if (status.state === 'reconnecting') console.error(`eventwire-tail: reconnecting to ${url} (attempt ${status.attempt})`);
});
// Subscribe per level, so the broker only sends what will be shown.
for (const level of logLevels) {
  if (levelSeverity[level] < levelSeverity[minimum]) continue;
  channel.on(`log.${level}.${service}`, (record) => console.log(line(record)));
}
// Ctrl-C may come before the broker answers (it may be down): stop then too.
let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await channel.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
try {
  await channel.ready();
} catch (error) {
  // Closed by stop() while waiting: nothing to report.
  if (!stopping) throw error;
}
if (!stopping) console.error(`eventwire-tail: watching log.{${logLevels.filter((l) => levelSeverity[l] >= levelSeverity[minimum]).join(',')}}.${service} on ${url}`);
