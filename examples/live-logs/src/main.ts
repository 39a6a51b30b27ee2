// Live logs: a broker, a payments service whose logs are events, and
// eventwire-tail (a separate process) as the viewer on log.#.
// Usage: main.ts [--port 15500] [--rounds N] [--interval-ms 1000] [--level debug]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { EventBrokerServer } from '@eventwire/event-broker';
import { exampleArgs, exitIfPortBusy, wholeNumber } from '../../shared/command-line.js';
import { startPaymentsService } from './payments-service.js';

const usage = `Usage: npm run example:logs -- [--port 15500] [--rounds N] [--interval-ms 1000] [--level debug]
  --port         the broker's port (0 picks a free one)
  --rounds       N payments, then stop (default: until Ctrl-C)
  --interval-ms  time between two payments
  --level        the lowest level the viewer shows (trace debug info warn error fatal)`;
const values = exampleArgs('live-logs', usage, {
  port: { type: 'string' },
  rounds: { type: 'string' },
  'interval-ms': { type: 'string' },
  level: { type: 'string', default: 'debug' },
});
const port = wholeNumber('live-logs', usage, '--port', values.port, 15500);
const rounds = wholeNumber('live-logs', usage, '--rounds', values.rounds, Infinity);
const intervalMs = wholeNumber('live-logs', usage, '--interval-ms', values['interval-ms'], 1000);

// Ctrl-C may come at any moment, even during start-up; a terminal sends it
// to the viewer too, which then stops by itself. Either way the demo finishes
// what it is doing, waits for the viewer, and prints its summary.
let stopRequested = false;
let stop: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));
const onSignal = (): void => {
  stopRequested = true;
  stop();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const broker = new EventBrokerServer({ port });
const { url } = await broker.listen().catch(exitIfPortBusy('live-logs', '--port', port));

// The viewer is the real CLI, in its own process, like a person's terminal.
const tailCli = fileURLToPath(new URL('../../../packages/logger-adapter/src/tail.ts', import.meta.url));
const viewer = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', tailCli, '--url', url, '--level', values.level!], {
  stdio: ['ignore', 'inherit', 'pipe'],
});
const viewerExited = new Promise<number | null>((resolve) => viewer.on('exit', (code) => resolve(code)));
let viewerText = '';
viewer.stderr!.on('data', (chunk) => {
  viewerText += chunk;
  process.stderr.write(chunk);
});
const watching = new Promise<boolean>((resolve) => {
  viewer.stderr!.on('data', () => viewerText.includes('watching') && resolve(true));
  void viewerExited.then(() => resolve(false));
});
const viewerReady = await Promise.race([watching, stopped.then(() => false)]);
if (!viewerReady && !stopRequested) {
  console.error(`live-logs: eventwire-tail exited (${await viewerExited}) before it was watching`);
  process.exitCode = 1;
  stop();
}

const service = startPaymentsService(url);
let done = 0;
let timer: NodeJS.Timeout | undefined;
let working: Promise<void> = Promise.resolve();
const workNext = async (): Promise<void> => {
  await service.work();
  if (++done >= rounds) stop();
  else if (!stopRequested) timer = setTimeout(() => (working = workNext()), intervalMs);
};
if (viewerReady && !stopRequested) working = workNext();
await stopped;
clearTimeout(timer);
await working;
await service.close();
// service.close() was a barrier (the broker has routed every record to the
// viewer); the viewer's own close is another, so it prints them all first.
const stats = broker.stats();
viewer.kill('SIGTERM');
await viewerExited;
await broker.close();
console.error(`live-logs: ${stats.published} log events published, ${stats.deliveries} delivered`);
