// Live logs: a broker, a payments service whose logs are events, and
// eventwire-tail (a separate process) as the viewer on log.#.
// Usage: main.ts [--port 15500] [--rounds N] [--interval-ms 1000] [--level debug]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EventBrokerServer } from '@eventwire/event-broker';
import { startPaymentsService } from './payments-service.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '15500' },
    rounds: { type: 'string' },
    'interval-ms': { type: 'string', default: '1000' },
    level: { type: 'string', default: 'debug' },
  },
});
const rounds = values.rounds === undefined ? Infinity : Number(values.rounds);

const broker = new EventBrokerServer({ port: Number(values.port) });
const { url } = await broker.listen();

// The viewer is the real CLI, in its own process, like a person's terminal.
const tailCli = fileURLToPath(new URL('../../../packages/logger-adapter/src/tail.ts', import.meta.url));
const viewer = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', tailCli, '--url', url, '--level', values.level!], {
  stdio: ['ignore', 'inherit', 'pipe'],
});
await new Promise<void>((resolve, reject) => {
  let text = '';
  viewer.stderr!.on('data', (chunk) => {
    text += chunk;
    process.stderr.write(chunk);
    if (text.includes('watching')) resolve();
  });
  viewer.on('exit', (code) => reject(new Error(`eventwire-tail exited ${code}`)));
});

const service = startPaymentsService(url);
let stop: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));
process.once('SIGINT', () => stop());
process.once('SIGTERM', () => stop());
let done = 0;
let timer: NodeJS.Timeout | undefined;
const tick = async (): Promise<void> => {
  await service.work();
  if (++done >= rounds) stop();
  else timer = setTimeout(() => void tick(), Number(values['interval-ms']));
};
void tick();
await stopped;
clearTimeout(timer);
await service.close();
// service.close() was a barrier (the broker has routed every record to the
// viewer); the viewer's own close is another, so it prints them all first.
const stats = broker.stats();
viewer.kill('SIGTERM');
await new Promise((resolve) => viewer.on('exit', resolve));
await broker.close();
console.error(`live-logs: ${stats.published} log events published, ${stats.deliveries} delivered`);
