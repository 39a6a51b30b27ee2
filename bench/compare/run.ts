// Side-by-side benchmark of eventwire against the peers a user would pick
// instead, in one run, on one machine. Every server is its own process; the
// clients run in other processes; everything is on 127.0.0.1.
//
//   pnpm --filter @eventwire/bench compare [--quick] [--runs N] [--systems ws,eventwire,…] [--scenarios fan-in,…]
//
// Scenarios: fan-out (1 publisher → 100 and 1,000 subscribers on one topic)
// and fan-in (100 publishers → 1 subscriber), ~100-byte JSON; eventwire also
// with 1 and 5 observers on '#' (the cost of hooks). For each system and run: saturation throughput
// and server CPU per delivery, then publish→deliver latency (HDR) at a fixed
// offered load of half what the bare ws server sustained. Medians of the
// runs go to bench/results/compare.json, a table into bench/RESULTS.md and a
// chart into bench/results/compare.svg.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { cpuMicros } from '../proc-stats.js';
import type { ClientCommand, ClientReply } from './client.js';
import { systems, type RunningServer, type SystemSpec } from './systems.js';

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, runs: { type: 'string' }, systems: { type: 'string' }, scenarios: { type: 'string' } },
});
const quick = values.quick === true;
const runs = Number(values.runs ?? (quick ? 1 : 3));
const chosen = values.systems?.split(',') ?? systems.map((system) => system.key);
interface Scenario {
  readonly kind: 'fan-out' | 'fan-in';
  readonly subscribers: number;
  readonly publishers: number;
  /** Messages published in the saturation phase, in total. */
  readonly messages: number;
  /** Length of the fixed-load phase. */
  readonly seconds: number;
}
const scenarios: Scenario[] = quick
  ? [{ kind: 'fan-out', subscribers: 100, publishers: 1, messages: 5000, seconds: 2 }]
  : [
      { kind: 'fan-out', subscribers: 100, publishers: 1, messages: 20_000, seconds: 3 },
      { kind: 'fan-out', subscribers: 1000, publishers: 1, messages: 4000, seconds: 3 },
      { kind: 'fan-in', subscribers: 1, publishers: 100, messages: 100_000, seconds: 3 },
    ];
const onlyScenarios = values.scenarios?.split(',');
const TOPIC = 'bench.fanout';
const WINDOW = 200;
const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
const clientScript = fileURLToPath(new URL('./client.ts', import.meta.url));

// ---------------------------------------------------------------------------
// Processes and counters

class Client {
  readonly process: ChildProcess;
  #replies: Array<(reply: ClientReply) => void> = [];

  constructor() {
    this.process = fork(clientScript, [], { execArgv: ['--import', 'tsx'] });
    this.process.on('message', (reply: ClientReply) => {
      if (reply.type === 'error') throw new Error(`client: ${reply.message}`);
      this.#replies.shift()?.(reply);
    });
  }

  static async start(): Promise<Client> {
    const client = new Client();
    await client.#next(); // its own 'ready' on start
    return client;
  }

  #next(): Promise<ClientReply> {
    return new Promise((resolve) => this.#replies.push(resolve));
  }

  ask(command: ClientCommand): Promise<ClientReply> {
    const reply = this.#next();
    this.process.send(command);
    return reply;
  }

  tell(command: ClientCommand): void {
    this.process.send(command);
  }

  async exit(): Promise<void> {
    if (this.process.exitCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.tell({ cmd: 'exit' });
    await exited;
  }
}

async function totalReceived(subscribers: Client[]): Promise<number> {
  const counts = await Promise.all(subscribers.map((client) => client.ask({ cmd: 'count' })));
  return counts.reduce((sum, reply) => sum + (reply.type === 'count' ? reply.received : 0), 0);
}

async function waitForDeliveries(subscribers: Client[], target: number, limitMs: number): Promise<number> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const received = await totalReceived(subscribers);
    if (received >= target || Date.now() > deadline) return received;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

// ---------------------------------------------------------------------------
// One run of the fan-out scenario

interface RunResult {
  deliveriesPerSecond: number;
  cpuMicrosPerDelivery: number;
  /** At the fixed offered load. */
  p50ms: number;
  p99ms: number;
  p999ms: number;
  /** Share of the fixed-load deliveries that arrived within the limit. */
  deliveredShare: number;
}

async function runScenario(
  system: SystemSpec,
  scenario: Scenario,
  offeredPerSecond: number | undefined,
): Promise<RunResult & { sustainedPerSecond: number }> {
  const server: RunningServer = await system.start();
  const processes = scenario.subscribers >= 1000 ? 4 : scenario.subscribers >= 100 ? 2 : 1;
  const subscribers = await Promise.all(Array.from({ length: processes }, () => Client.start()));
  // Fan-in spreads its publishers over two processes; fan-out has one publisher.
  const publishers = await Promise.all(Array.from({ length: scenario.publishers > 1 ? 2 : 1 }, () => Client.start()));
  try {
    await Promise.all(
      subscribers.map((client, index) =>
        client.ask({
          cmd: 'connect',
          system: system.client,
          url: server.url,
          count: Math.floor(scenario.subscribers / processes) + (index < scenario.subscribers % processes ? 1 : 0),
          subscribe: TOPIC,
        }),
      ),
    );
    // A Synap-surface run still publishes with the native protocol (Synap's own publish is HTTP).
    const publisherSystem = system.client === 'eventwire-synap' ? 'eventwire' : system.client;
    await Promise.all(
      publishers.map((client) =>
        client.ask({ cmd: 'connect', system: publisherSystem, url: server.url, count: scenario.publishers / publishers.length }),
      ),
    );
    // Let connection setup finish, so its CPU is not charged to the saturation phase.
    await new Promise((resolve) => setTimeout(resolve, 300));

    // Saturation.
    const before = await totalReceived(subscribers);
    const target = before + scenario.messages * scenario.subscribers;
    const cpuBefore = cpuMicros(server.pid);
    const started = performance.now();
    if (scenario.publishers === 1) {
      await publishers[0]!.ask({ cmd: 'saturate', topic: TOPIC, messages: scenario.messages, window: WINDOW });
    } else {
      const messagesPerConnection = scenario.messages / scenario.publishers;
      await Promise.all(publishers.map((client) => client.ask({ cmd: 'saturate-each', topic: TOPIC, messagesPerConnection, window: WINDOW })));
    }
    const reached = await waitForDeliveries(subscribers, target, 60_000);
    const seconds = (performance.now() - started) / 1000;
    const delivered = reached - before;
    const cpuMicrosPerDelivery = (cpuMicros(server.pid) - cpuBefore) / delivered;
    const deliveriesPerSecond = delivered / seconds;
    // Messages per second the publishers got through (deliveries per message = subscribers).
    const sustainedPerSecond = deliveriesPerSecond / scenario.subscribers;

    // Latency at a fixed offered load.
    const rate = offeredPerSecond ?? sustainedPerSecond / 2;
    const latencyBefore = await totalReceived(subscribers);
    for (const client of subscribers) client.tell({ cmd: 'record', on: true });
    if (scenario.publishers === 1) {
      await publishers[0]!.ask({ cmd: 'rate', topic: TOPIC, perSecond: rate, seconds: scenario.seconds });
    } else {
      const perProcess = rate / publishers.length;
      await Promise.all(publishers.map((client) => client.ask({ cmd: 'rate-each', topic: TOPIC, perSecond: perProcess, seconds: scenario.seconds })));
    }
    const expected = Math.round(rate * scenario.seconds) * scenario.subscribers;
    const latencyReached = await waitForDeliveries(subscribers, latencyBefore + expected, 20_000);
    for (const client of subscribers) client.tell({ cmd: 'record', on: false });
    const merged = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
    for (const client of subscribers) {
      const reply = await client.ask({ cmd: 'histogram' });
      if (reply.type === 'histogram') merged.add(hdr.decodeFromCompressedBase64(reply.encoded));
    }
    return {
      deliveriesPerSecond,
      cpuMicrosPerDelivery,
      sustainedPerSecond,
      p50ms: merged.getValueAtPercentile(50) / 1000,
      p99ms: merged.getValueAtPercentile(99) / 1000,
      p999ms: merged.getValueAtPercentile(99.9) / 1000,
      deliveredShare: (latencyReached - latencyBefore) / expected,
    };
  } finally {
    await Promise.all([...subscribers, ...publishers].map((client) => client.exit()));
    await server.stop();
  }
}

// ---------------------------------------------------------------------------
// Orchestration, medians, report

const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

type Summary = RunResult & { system: string; name: string; version: string; runs: RunResult[] };
const report: Array<{ scenario: string; offeredPerSecond: number; systems: Summary[] }> = [];
const skipped: string[] = [];

for (const scenario of scenarios) {
  if (onlyScenarios && !onlyScenarios.includes(scenario.kind)) continue;
  const label = scenario.kind === 'fan-out' ? `fan-out 1→${scenario.subscribers}` : `fan-in ${scenario.publishers}→1`;
  let offered: number | undefined;
  const summaries: Summary[] = [];
  // The bare ws server goes first: the fixed load is half of what it sustains.
  for (const system of systems.filter((s) => chosen.includes(s.key))) {
    const why = system.unavailable?.();
    if (why) {
      skipped.push(`${system.name}: ${why}`);
      continue;
    }
    const results: Array<RunResult & { sustainedPerSecond: number }> = [];
    for (let run = 1; run <= runs; run++) {
      process.stdout.write(`${label} · ${system.name} · run ${run}/${runs} … `);
      const result = await runScenario(system, scenario, offered);
      results.push(result);
      console.log(`${Math.round(result.deliveriesPerSecond).toLocaleString('en')} deliveries/s, ${result.cpuMicrosPerDelivery.toFixed(2)} µs CPU/delivery`);
    }
    if (system.key === 'ws' && offered === undefined) offered = median(results.map((r) => r.sustainedPerSecond)) / 2;
    const pick = (key: keyof RunResult) => median(results.map((r) => r[key]));
    summaries.push({
      system: system.key,
      name: system.name,
      version: system.version(),
      runs: results,
      deliveriesPerSecond: pick('deliveriesPerSecond'),
      cpuMicrosPerDelivery: pick('cpuMicrosPerDelivery'),
      p50ms: pick('p50ms'),
      p99ms: pick('p99ms'),
      p999ms: pick('p999ms'),
      deliveredShare: pick('deliveredShare'),
    });
  }
  report.push({ scenario: label, offeredPerSecond: offered ?? 0, systems: summaries });
}

const meta = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
  mode: quick ? 'quick' : 'full',
  runs,
  command: `pnpm --filter @eventwire/bench compare${quick ? ' --quick' : ''}`,
  skipped,
};
writeFileSync(`${resultsDir}compare.json`, `${JSON.stringify({ meta, report }, null, 2)}\n`);
writeFileSync(`${resultsDir}compare.svg`, chart(report[0]!));
writeResultsSection();
console.log(`\nwrote bench/results/compare.json, bench/results/compare.svg and the "Against peers" section of bench/RESULTS.md`);

function ratio(value: number, base: number | undefined): string {
  return base ? `${(value / base).toFixed(2)}×` : '–';
}

function writeResultsSection(): void {
  const lines: string[] = [];
  lines.push('## Against peers: fan-out and fan-in');
  lines.push('');
  lines.push(`Command: \`${meta.command}\` (generated ${meta.date.slice(0, 10)}; raw results in`);
  lines.push('`bench/results/compare.json`, chart `bench/results/compare.svg`). Machine: ' + `${meta.cpus}, Node ${meta.node}.`);
  lines.push('');
  lines.push('Every server is its own process; subscribers (1–4 processes) and publishers');
  lines.push('(1 process; fan-in: 100 connections in 2) are other processes, all on 127.0.0.1. Same ~100-byte JSON payload,');
  lines.push('no acknowledgements on publish, a server barrier after every window of 200 at');
  lines.push('saturation. CPU per delivery is the server process\'s own user+system time over');
  lines.push('the saturation phase. Latency (HDR) is publish→deliver at a fixed offered load of');
  lines.push('half the bare ws server\'s saturation rate. Median of ' + `${runs} run(s). Memory per`);
  lines.push('connection is not here: ~100 connections without a forced GC is noise; see');
  lines.push('"Memory per idle connection" above (a peer-wide 10k-connection scenario is next).');
  if (skipped.length) lines.push(`Not run: ${skipped.join('; ')}.`);
  for (const { scenario, offeredPerSecond, systems: rows } of report) {
    const ws = rows.find((row) => row.system === 'ws');
    const sio = rows.find((row) => row.system === 'socketio');
    lines.push('');
    lines.push(`### ${scenario} (fixed load: ${Math.round(offeredPerSecond).toLocaleString('en')} messages/s)`);
    lines.push('');
    lines.push('| system | deliveries/s | vs ws | vs Socket.IO | server CPU µs/delivery | vs ws | p50 ms | p99 ms | p999 ms |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const row of rows) {
      const late = row.deliveredShare < 0.999 ? ` (${(row.deliveredShare * 100).toFixed(1)}% delivered)` : '';
      lines.push(
        `| ${row.name} (${row.version}) | ${Math.round(row.deliveriesPerSecond).toLocaleString('en')} | ${ratio(row.deliveriesPerSecond, ws?.deliveriesPerSecond)} | ${ratio(row.deliveriesPerSecond, sio?.deliveriesPerSecond)} | ${row.cpuMicrosPerDelivery.toFixed(2)} | ${ratio(row.cpuMicrosPerDelivery, ws?.cpuMicrosPerDelivery)} | ${row.p50ms.toFixed(2)} | ${row.p99ms.toFixed(2)} | ${row.p999ms.toFixed(2)}${late} |`,
      );
    }
  }
  lines.push('');
  lines.push('![fan-out chart](results/compare.svg)');
  const section = `<!-- compare:start -->\n${lines.join('\n')}\n<!-- compare:end -->`;
  const path = fileURLToPath(new URL('../RESULTS.md', import.meta.url));
  const current = readFileSync(path, 'utf8');
  const next = /<!-- compare:start -->[\s\S]*<!-- compare:end -->/.test(current)
    ? current.replace(/<!-- compare:start -->[\s\S]*<!-- compare:end -->/, section)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}

/** Two horizontal bar groups: deliveries/s and server CPU per delivery. */
function chart(entry: (typeof report)[number]): string {
  const rows = entry.systems;
  const width = 760;
  const barHeight = 22;
  const left = 230;
  const panel = (title: string, y0: number, value: (row: Summary) => number, format: (v: number) => string, color: string) => {
    const max = Math.max(...rows.map(value)) || 1;
    const bars = rows
      .map((row, index) => {
        const y = y0 + 28 + index * (barHeight + 8);
        const w = ((width - left - 90) * value(row)) / max;
        return `<text x="${left - 10}" y="${y + 16}" text-anchor="end">${escape(row.name)}</text><rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${color}"/><text x="${left + w + 6}" y="${y + 16}">${format(value(row))}</text>`;
      })
      .join('');
    return `<text x="10" y="${y0 + 16}" font-weight="bold">${escape(title)}</text>${bars}`;
  };
  const panelHeight = 28 + rows.length * (barHeight + 8) + 16;
  const height = panelHeight * 2 + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
${panel(`${entry.scenario}: deliveries per second (higher is better)`, 0, (r) => r.deliveriesPerSecond, (v) => Math.round(v).toLocaleString('en'), '#2b6cb0')}
${panel(`${entry.scenario}: server CPU µs per delivery (lower is better)`, panelHeight, (r) => r.cpuMicrosPerDelivery, (v) => v.toFixed(2), '#c05621')}
</svg>
`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
