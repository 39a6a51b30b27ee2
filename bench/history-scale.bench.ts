// History at scale (issue #29, item 3): one LogHistoryStore filled with 1M
// events. Run: `cd bench && node --conditions=@eventwire/source --import tsx history-scale.bench.ts`
// (`--events N` for fewer; runs from source, no build needed).
//
// 1. Appends per second in each 100k slice of 1M events (flat, or falling as
//    the dedup window fills: the defect filed).
// 2. The writer is killed with SIGKILL (kill -9) right after its last append,
//    then a fresh process opens the directory: time to open, per stored event,
//    and RSS / heap after opening. Twice: with every event inside the dedup
//    window (written just now) and with every event older than it (written
//    under a clock 10 minutes behind; retention 24 h keeps them all).
// Each phase is its own process, so the RSS is the open's alone. Times are
// the process's CPU time (user + system), not wall time: on a shared machine
// the wall clock measures the neighbours (wall time of the open is printed too).
// Events: ~150-byte JSON data on 1,000 topics, 1,000 kept per topic (1M held).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EventEnvelope } from '@eventwire/event-channel';
import { LogHistoryStore } from '@eventwire/event-broker';

const argument = (name: string): string | undefined => {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
};
const EVENTS = Number(argument('--events') ?? 1_000_000);
const SLICE = Math.max(1, Math.floor(EVENTS / 10));
const TOPICS = 1000;
const keep = { maxEvents: Math.ceil(EVENTS / TOPICS), maxAgeMs: 86_400_000 };
const data = { orderId: 'o-000000', email: 'customer@example.com', items: [{ sku: 'sku-1', quantity: 2 }], total: 59.97, note: 'x'.repeat(40) };

const role = argument('--role');
if (role === 'write') write(argument('--dir')!, Number(argument('--skew') ?? 0));
else if (role === 'open') await open(argument('--dir')!);
else await main();

/** Appends EVENTS, prints the rate of each slice, then dies by SIGKILL (no close, no final fsync). */
function write(dir: string, skewMs: number): void {
  const store = new LogHistoryStore({ dir, fsync: 100, now: () => Date.now() - skewMs });
  const rates: number[] = [];
  let started = cpuSeconds();
  for (let i = 1; i <= EVENTS; i++) {
    const envelope: EventEnvelope = {
      id: `01JBENCH${String(i).padStart(18, '0')}`,
      topic: `bench.orders.${i % TOPICS}`,
      source: 'bench',
      time: new Date().toISOString(),
      data,
    };
    store.append(envelope, keep);
    if (i % SLICE === 0) {
      const now = cpuSeconds();
      rates.push(SLICE / (now - started));
      started = now;
    }
  }
  process.stdout.write(`${JSON.stringify({ rates })}\n`, () => process.kill(process.pid, 'SIGKILL'));
}

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function open(dir: string): Promise<void> {
  const started = process.hrtime.bigint();
  const cpuStarted = cpuSeconds();
  const store = new LogHistoryStore({ dir, fsync: 'never' });
  const ms = (cpuSeconds() - cpuStarted) * 1000;
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const head = store.head;
  globalThis.gc?.();
  const memory = process.memoryUsage();
  const held = store.read('#', 0, 2_000_000).length;
  console.log(JSON.stringify({ ms, wallMs, head, held, rss: memory.rss, heapUsed: memory.heapUsed }));
  await store.close();
}

function child(args: string[]): Promise<string> {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, ['--expose-gc', '--conditions=@eventwire/source', '--import', 'tsx', file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    process_.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    process_.on('error', reject);
    process_.on('exit', () => resolve(out.trim().split('\n').at(-1) ?? ''));
  });
}

async function main(): Promise<void> {
  const mib = (bytes: number): string => `${(bytes / 1048576).toFixed(0)} MiB`;
  for (const [name, skew] of [
    ['inside the dedup window', 0],
    ['older than the dedup window', 600_000],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-history-scale-'));
    const { rates } = JSON.parse(await child(['--role', 'write', '--dir', dir, '--skew', String(skew), '--events', String(EVENTS)])) as { rates: number[] };
    const disk = readdirSync(dir).reduce((total, file) => total + statSync(join(dir, file)).size, 0);
    const opened = JSON.parse(await child(['--role', 'open', '--dir', dir, '--events', String(EVENTS)])) as { ms: number; wallMs: number; head: number; held: number; rss: number; heapUsed: number };
    if (opened.head !== EVENTS) throw new Error(`reopened with head ${opened.head} of ${EVENTS}`);
    console.log(`${EVENTS.toLocaleString('en-US')} events ${name} (${(disk / EVENTS).toFixed(0)} disk bytes/event):`);
    console.log(`  appends per CPU second, per ${SLICE.toLocaleString('en-US')}: ${rates.map((rate) => `${(rate / 1000).toFixed(0)}k`).join(' ')}`);
    console.log(
      `  open after kill -9: ${(opened.ms / 1000).toFixed(2)} s CPU (${((opened.ms * 1000) / EVENTS).toFixed(2)} µs/event; wall ${(opened.wallMs / 1000).toFixed(2)} s), ${opened.held.toLocaleString('en-US')} held; ` +
        `RSS ${mib(opened.rss)}, heap used ${mib(opened.heapUsed)} (${((opened.heapUsed) / opened.held).toFixed(0)} heap bytes/event)`,
    );
    rmSync(dir, { recursive: true, force: true });
  }
}
