// Memory of the broker under overload (#29): the broker CLI as its own
// process, 180 healthy EventChannel (ws://) subscribers and 20 stalled raw
// readers in a client process, and publishers flooding uncapped (as fast as
// their sockets take it) from a third process. What matters is the broker's
// peak RSS (VmHWM) against `maxTotalOutboundBytes`, and its RSS once the flood
// has stopped.
//
// Run: cd bench && node --conditions=@eventwire/source --import tsx overload.bench.ts
//   OVERLOAD_BUDGET=256mb   the broker's maxTotalOutboundBytes (default: the broker's default)
//   OVERLOAD_HISTORY=1      topics keep history, 10,000 events each (reconnecting subscribers get replays); =200: 200 each
//   OVERLOAD_HISTORY_MEMORY=64mb  the broker's historyMaxMemoryBytes (default: the broker's default)
//   OVERLOAD_SECONDS=25     how long the flood runs
//   OVERLOAD_PAYLOAD=65536  bytes of payload per event
//   OVERLOAD_MAX_OUTBOUND=4mb, OVERLOAD_SLOW_MS=30000  the broker's maxOutboundBytes and slowConsumerMs (default: the broker's)
//   OVERLOAD_HEALTHY=180, OVERLOAD_STALLED=20  the clients
//   OVERLOAD_GC=1           the probe forces a GC before each sample (live bytes only)
//   OVERLOAD_FLOODS=2       a second flood after the first has settled (is what RSS kept reused?)
//   OVERLOAD_NODE_FLAGS='…'  flags for the broker's node (V8's GC settings, say)
//   OVERLOAD_TRACE=1, OVERLOAD_LOG=1  the probe's samples, the broker's log
//
// The broker reports its own heap numbers through a bench-only preload
// (`--import data:…`): every 250 ms one `overload-probe {…}` line on stderr.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { EventChannel } from '@eventwire/event-channel';

const TOPICS = 20;
const HEALTHY = Number(process.env['OVERLOAD_HEALTHY'] ?? 180);
const STALLED = Number(process.env['OVERLOAD_STALLED'] ?? 20);
const PUBLISHERS = 4;
const PAYLOAD = Number(process.env['OVERLOAD_PAYLOAD'] ?? 65536);
const SECONDS = Number(process.env['OVERLOAD_SECONDS'] ?? 25);
const AFTER_SECONDS = 10;
const self = fileURLToPath(import.meta.url);
const MiB = 1024 * 1024;

interface ProbeSample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  heapLimit: number;
}

/** One `overload-probe` line every 250 ms from inside the broker (bench only). */
const probe = `
import v8 from 'node:v8';
const limit = v8.getHeapStatistics().heap_size_limit;
const gc = globalThis.gc;
setInterval(() => {
  if (gc) gc();
  const m = process.memoryUsage();
  process.stderr.write('overload-probe ' + JSON.stringify({ rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, heapLimit: limit }) + '\\n');
}, 250).unref();
`;

function status(pid: number): { rss: number; hwm: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)![1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

// ---- the client process: healthy subscribers and stalled readers ----
async function clients(url: string): Promise<void> {
  const channels: EventChannel[] = [];
  const counts = { received: 0, outOfOrder: 0, gaps: 0, reconnects: 0, stalledOpened: 0 };
  for (let i = 0; i < HEALTHY; i++) {
    const channel = new EventChannel({ url, ws: { backoff: () => 100 } });
    const last = new Map<number, number>();
    channel.onGap(() => counts.gaps++);
    channel.onStatus((s) => s.state === 'reconnecting' && counts.reconnects++);
    await channel.on(`flood.t${i % TOPICS}`, (data) => {
      const { p, n } = data as { p: number; n: number };
      counts.received++;
      if ((last.get(p) ?? -1) >= n) counts.outOfOrder++;
      last.set(p, n);
    }).ready;
    channels.push(channel);
  }
  // Stalled readers: each subscribes, then stops reading; once cut it comes back and stalls again.
  const stall = (i: number): void => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.on('error', () => {});
    socket.once('open', () => {
      socket.send(JSON.stringify({ type: 'hello', protocol: 1 }));
      socket.send(JSON.stringify({ type: 'subscribe', id: 1, pattern: `flood.t${i % TOPICS}` }));
      socket.once('message', () => {
        counts.stalledOpened++;
        (socket as unknown as { _socket: { pause(): void } })._socket.pause();
        // A paused socket never reads the broker's close: it gives up on its own after a while and comes back.
        setTimeout(() => {
          socket.terminate();
          if (!stopping) stall(i);
        }, 3000);
      });
    });
  };
  let stopping = false;
  for (let i = 0; i < STALLED; i++) stall(i);
  process.send!({ ready: true });
  process.on('message', async (message: { report?: boolean }) => {
    if (!message.report) return;
    stopping = true;
    process.send!({ counts });
  });
}

// ---- the publisher process: uncapped flood ----
async function publishers(url: string, first: number): Promise<void> {
  const payload = Buffer.from('x'.repeat(PAYLOAD));
  const tail = Buffer.from('"}}}');
  let running = true;
  let sent = 0;
  process.on('message', (message: { stop?: boolean }) => {
    if (message.stop) running = false;
  });
  await Promise.all(
    // Numbered on from the previous flood's publishers: each numbers its events from 0.
    Array.from({ length: PUBLISHERS }, (_, k) => first + k).map(async (p) => {
      // A zero mask: ws then skips masking, which would otherwise cost the flood more than the broker's work.
      const socket = new WebSocket(url, { perMessageDeflate: false, generateMask: (mask) => void mask.fill(0) });
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      socket.send(JSON.stringify({ type: 'hello', protocol: 1 }));
      socket.on('message', () => {}); // reads whatever the broker says (errors), so it is no stalled reader
      const tcp = (socket as unknown as { _socket: NodeJS.EventEmitter })._socket;
      const seq = new Array<number>(TOPICS).fill(0);
      let k = 0;
      while (running && socket.readyState === WebSocket.OPEN) {
        for (let b = 0; b < 64; b++) {
          const t = k++ % TOPICS;
          // Built by hand around the payload's bytes: JSON.stringify of a large payload per frame would be the bottleneck.
          const head = `{"type":"publish","event":{"id":"p${p}-${k}","topic":"flood.t${t}","source":"bench","time":"${new Date().toISOString()}","data":{"p":${p},"n":${seq[t]!++},"payload":"`;
          socket.send(Buffer.concat([Buffer.from(head), payload, tail]), { binary: false });
          sent++;
        }
        // As fast as the socket takes it: wait only when the kernel would not take more.
        if (socket.bufferedAmount > 1024 * 1024) await new Promise((resolve) => tcp.once('drain', resolve));
        else await new Promise((resolve) => setImmediate(resolve));
      }
      socket.terminate();
    }),
  );
  process.send!({ sent });
}

// ---- the parent ----
async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'overload-'));
  const config = join(dir, 'broker.config.json');
  const budget = process.env['OVERLOAD_BUDGET'];
  // 1: 10,000 events kept per topic; a larger number: that many.
  const historyEvents = Number(process.env['OVERLOAD_HISTORY'] ?? 0);
  const history = historyEvents > 0;
  writeFileSync(
    config,
    JSON.stringify({
      quiet: true,
      ...(budget && { maxTotalOutboundBytes: budget }),
      ...(process.env['OVERLOAD_MAX_OUTBOUND'] && { maxOutboundBytes: process.env['OVERLOAD_MAX_OUTBOUND'] }),
      ...(process.env['OVERLOAD_SLOW_MS'] && { slowConsumerMs: Number(process.env['OVERLOAD_SLOW_MS']) }),
      ...(history && { history: [{ pattern: 'flood.#', maxEvents: historyEvents > 1 ? historyEvents : 10_000 }] }),
      ...(process.env['OVERLOAD_HISTORY_MEMORY'] && { historyMaxMemoryBytes: process.env['OVERLOAD_HISTORY_MEMORY'] }),
    }),
  );
  const cli = fileURLToPath(new URL('../packages/event-broker/src/cli.ts', import.meta.url));
  const broker = spawn(
    process.execPath,
    ['--conditions=@eventwire/source', ...(process.env['OVERLOAD_GC'] ? ['--expose-gc'] : []), ...(process.env['OVERLOAD_NODE_FLAGS']?.split(' ') ?? []), '--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(probe)}`, cli, '--port', '0', '--host', '127.0.0.1', '--config', config],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const samples: ProbeSample[] = [];
  let log = '';
  let partial = '';
  const onData = (chunk: Buffer): void => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('overload-probe ')) samples.push(JSON.parse(line.slice(15)) as ProbeSample);
      else log += line + '\n';
    }
  };
  broker.stdout.on('data', onData);
  broker.stderr.on('data', onData);
  const exited = new Promise<void>((resolve) => broker.once('exit', () => resolve()));
  const children: Array<ReturnType<typeof fork>> = [];
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`broker did not start: ${log}`)), 30_000);
      const check = setInterval(() => {
        const listening = /listening on (ws:\/\/\S+)/.exec(log);
        if (listening) {
          clearInterval(check);
          clearTimeout(timer);
          resolve(listening[1]!);
        }
      }, 50);
    });
    const httpUrl = url.replace('ws://', 'http://');
    const pid = broker.pid!;
    const subscribers = fork(self, ['clients', url], { execArgv: ['--conditions=@eventwire/source', '--import', 'tsx'] });
    children.push(subscribers);
    await new Promise((resolve) => subscribers.once('message', resolve));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = status(pid);
    // One flood: publishers for SECONDS, then AFTER_SECONDS of quiet.
    let floods = 0;
    const floodOnce = async () => {
      const flood = fork(self, ['publishers', url, String(PUBLISHERS * floods++)], { execArgv: ['--conditions=@eventwire/source', '--import', 'tsx'] });
      children.push(flood);
      const floodStart = samples.length;
      const started = Date.now();
      let peakRss = 0;
      while (Date.now() - started < SECONDS * 1000) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        peakRss = Math.max(peakRss, status(pid).rss);
      }
      const sent = new Promise<{ sent: number }>((resolve) => flood.once('message', (m) => resolve(m as { sent: number })));
      flood.send({ stop: true });
      const { sent: published } = await sent;
      const atStop = status(pid);
      const duringFlood = samples.slice(floodStart);
      await new Promise((resolve) => setTimeout(resolve, AFTER_SECONDS * 1000));
      return { published, peakRss: Math.max(peakRss, atStop.rss), atStop, after: status(pid), duringFlood };
    };
    const { published, atStop, after, duringFlood } = await floodOnce();
    // A second flood after the first has settled: is the memory kept after the first reused, or added to?
    const second = process.env['OVERLOAD_FLOODS'] === '2' ? await floodOnce() : undefined;
    const stats = (await (await fetch(`${httpUrl}/stats`)).json()) as Record<string, unknown>;
    const report = new Promise<{ counts: Record<string, number> }>((resolve) => subscribers.once('message', (m) => resolve(m as { counts: Record<string, number> })));
    subscribers.send({ report: true });
    const { counts } = await report;
    const max = (key: keyof ProbeSample) => Math.max(...duringFlood.map((s) => s[key]));
    const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;
    const result = {
      budget: budget ?? 'default',
      history: history ? (historyEvents > 1 ? historyEvents : 10_000) : false,
      payload: PAYLOAD,
      seconds: SECONDS,
      idleRss: mib(idle.rss),
      peakRss: mib(atStop.hwm),
      rssAtStop: mib(atStop.rss),
      rssAfter10s: mib(after.rss),
      ...(second && { secondFlood: { published: second.published, peakRss: mib(second.peakRss), vmHwm: mib(second.after.hwm), rssAfter10s: mib(second.after.rss) } }),
      peakHeapUsed: mib(max('heapUsed')),
      peakHeapTotal: mib(max('heapTotal')),
      peakExternal: mib(max('external')),
      peakArrayBuffers: mib(max('arrayBuffers')),
      heapLimit: mib(samples[0]?.heapLimit ?? 0),
      published,
      ...Object.fromEntries(['published', 'deliveries', 'slowConsumersCut', 'slowConsumersCutForMemory', 'recoveries', 'replayed', 'gaps'].map((k) => [`broker.${k}`, stats[k]])),
      ...Object.fromEntries(Object.entries(counts).map(([k, v]) => [`clients.${k}`, v])),
    };
    console.log(JSON.stringify(result, null, 1));
    if (process.env['OVERLOAD_LOG']) console.log(log);
    if (process.env['OVERLOAD_TRACE']) {
      for (const s of duringFlood.filter((_, i) => i % 4 === 0)) {
        console.log(`rss ${mib(s.rss)} heapUsed ${mib(s.heapUsed)} heapTotal ${mib(s.heapTotal)} external ${mib(s.external)} arrayBuffers ${mib(s.arrayBuffers)}`);
      }
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
    broker.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const [role, url] = [process.argv[2], process.argv[3]];
if (role === 'clients') await clients(url!);
else if (role === 'publishers') await publishers(url!, Number(process.argv[4]));
else await main();
