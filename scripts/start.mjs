#!/usr/bin/env node
// `npm start`: the broker as its own process, then the demo services talking
// to it over ws://, the way a real deployment runs. Ctrl-C stops both.
// Options: --port N (default 15500; 0 picks a free one), --orders N, --interval-ms MS.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: { port: { type: 'string', default: '15500' }, orders: { type: 'string' }, 'interval-ms': { type: 'string' } },
});
const node = (script, args) =>
  spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', script, ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });

const broker = node('packages/event-broker/src/cli.ts', ['--port', values.port]);
let demo;
let buffered = '';
broker.stdout.on('data', (chunk) => {
  process.stdout.write(`[broker] ${chunk.toString().replace(/\n(?=.)/g, '\n[broker] ')}`);
  if (demo) return;
  buffered += chunk;
  const match = /listening on (ws:\/\/\S+)/.exec(buffered);
  if (!match) return;
  console.log(`\nBroker up. Try, in another terminal:`);
  console.log(`  curl -s -X POST ${match[1].replace('ws://', 'http://')}/pubsub/order.created/publish -d '{"payload":{"hello":"world"}}'`);
  console.log(`  curl -s ${match[1].replace('ws://', 'http://')}/stats\n`);
  const args = ['--url', match[1]];
  if (values.orders) args.push('--orders', values.orders);
  if (values['interval-ms']) args.push('--interval-ms', values['interval-ms']);
  demo = node('examples/quickstart/src/main.ts', args);
  demo.stdout.pipe(process.stdout);
  demo.on('exit', (code) => {
    broker.kill('SIGTERM');
    process.exitCode = code ?? 0;
  });
});
broker.on('exit', (code) => {
  if (!demo) process.exitCode = code ?? 1;
  demo?.kill('SIGTERM');
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    demo?.kill('SIGTERM');
    if (!demo) broker.kill('SIGTERM');
  });
}
