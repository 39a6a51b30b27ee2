// Memory per idle connection, server side only, against a bare `ws` server.
// Run: npm run bench (alone: pnpm --filter @eventwire/bench bench:memory).
//
// Each measurement runs in a fresh process (RSS only shrinks reluctantly, so
// a second measurement in the same process reuses the first one's pages) with
// --expose-gc, so both readings follow a full GC; 2,000 clients run in yet
// another process, so their memory is not counted. Each eventwire
// client greets and holds one distinct subscription; the bare ws server does
// nothing per connection: the difference is what eventwire itself costs.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { EventBrokerServer } from '@eventwire/event-broker';
import { quick } from './quick.js';

const CONNECTIONS = 2000;
const clientScript = fileURLToPath(new URL('./connection-memory.clients.ts', import.meta.url));

const systems = {
  ws: { name: 'bare ws server (baseline)', start: () => bareWs(), protocol: 'raw' },
  eventwire: { name: 'eventwire broker (greeted, 1 subscription)', start: () => eventwire(), protocol: 'native' },
} as const;
type SystemKey = keyof typeof systems;

interface Server {
  url: string;
  stop(): Promise<void>;
}

async function bareWs(): Promise<Server> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (socket) => socket.on('message', () => {}));
  return {
    url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`,
    stop: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close(() => resolve());
      }),
  };
}

async function eventwire(): Promise<Server> {
  const broker = new EventBrokerServer({ port: 0 });
  const { url } = await broker.listen();
  return { url, stop: () => broker.close() };
}

async function measure(name: string, start: () => Promise<Server>, protocol: 'raw' | 'native') {
  const gc = (globalThis as unknown as { gc: () => void }).gc;
  const server = await start();
  await new Promise((resolve) => setTimeout(resolve, 200));
  gc();
  gc();
  const before = process.memoryUsage();
  const clients = fork(clientScript, [server.url, String(CONNECTIONS), protocol], { execArgv: ['--import', 'tsx'] });
  await new Promise((resolve) => clients.once('message', resolve));
  await new Promise((resolve) => setTimeout(resolve, 500));
  gc();
  gc();
  const after = process.memoryUsage();
  clients.kill();
  await new Promise((resolve) => clients.once('exit', resolve));
  await server.stop();
  const kib = (key: 'rss' | 'heapUsed') => (after[key] - before[key]) / CONNECTIONS / 1024;
  return { name, rss: kib('rss'), heap: kib('heapUsed') };
}

// A measuring child is started with the system's key as its only argument.
const only = Object.keys(systems).find((key) => process.argv[2] === key) as SystemKey | undefined;
if (only) {
  // A measuring child: one system, then report through IPC.
  const system = systems[only];
  process.send!(await measure(system.name, system.start, system.protocol));
  process.exit(0);
}

// The parent: one fresh --expose-gc process per system and run.
const rows: Array<{ name: string; rss: number; heap: number }> = [];
const RUNS = quick ? 1 : 3;
for (let run = 0; run < RUNS; run++) {
  for (const key of Object.keys(systems) as SystemKey[]) {
    const child = fork(fileURLToPath(import.meta.url), [key], { execArgv: ['--expose-gc', '--import', 'tsx'] });
    rows.push(await new Promise((resolve) => child.once('message', (row) => resolve(row as (typeof rows)[number]))));
    await new Promise((resolve) => child.once('exit', resolve));
  }
}
console.log(`node ${process.version}, ${CONNECTIONS} idle connections, server-side, after forced GC, ${RUNS} run(s) (fresh process each)`);
console.log('');
console.log(`| server | RSS KiB / connection (${RUNS} runs) | V8 heap KiB / connection (${RUNS} runs) |`);
console.log('| --- | ---: | ---: |');
for (const name of [...new Set(rows.map((row) => row.name))]) {
  const mine = rows.filter((row) => row.name === name);
  console.log(`| ${name} | ${mine.map((row) => row.rss.toFixed(1)).join(' / ')} | ${mine.map((row) => row.heap.toFixed(2)).join(' / ')} |`);
}
