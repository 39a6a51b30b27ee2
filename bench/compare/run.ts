// Side-by-side benchmark of eventwire against the peers a user would pick
// instead, in one run, on one machine. Every server is its own process; the
// clients run in other processes; everything is on 127.0.0.1.
//
//   pnpm --filter @eventwire/bench compare [--quick] [--runs N] [--systems ws,eventwire,…] [--scenarios fan-in,…]
//   pnpm --filter @eventwire/bench compare --from-json   (rewrite the report from results/compare.json)
//
// --scale: fan-out to 10,000 and 18,900 subscribers and as many idle
// connections, near one process's open-file limit (scratch only; the
// at-capacity figures in RESULTS.md come from it).
// --quick: fan-out 1→100 only, 2,000 messages, one run: a smoke check in well
// under a minute, not figures to publish. --smoke: every scenario at a tiny
// size, one run, nothing written; exits non-zero when any run lost deliveries
// (the test suite runs it, so the harness itself stays working). It measures
// nothing, so it skips the settle pauses and hands its client processes from
// one run to the next instead of starting new ones.
// BENCH_CPU_PROF_DIR and BENCH_SERVER_LOG are described in systems.ts.
//
// Scenarios (~100-byte JSON everywhere):
// - fan-out: 1 publisher → 100 and 1,000 subscribers on one topic;
// - fan-in: 100 publishers → 1 subscriber;
// - wildcard: 10,000 subscriptions on distinct patterns (`w.<n>.*`, `w.*.<n>`)
//   over 100 connections, publishes spread over them, each matching one
//   (systems without wildcards subscribe to the exact topics instead);
// - connections: 10,000 idle connections, each holding one subscription:
//   server memory per connection (after a full GC where the server is
//   Node.js) and connect rate.
// eventwire also runs with 1 and 5 observers on '#' (the cost of hooks).
// For each throughput scenario, system and run: deliveries/s, server CPU per
// delivery and publish→deliver latency (HDR) at saturation, then a fixed-load
// phase at an absolute rate declared once per scenario in the table below
// (the same for every system and run; --fixed-rate <msg/s> overrides it) for
// --fixed-seconds (default 10). A short phase made "the p99" the worst 30 ms
// of the phase, i.e. whether one stall happened, so the fixed-load phase also
// reports the p99 of each second (by publish time) as their median (a typical
// second) and max (the worst stall), and, from the server process over the
// phase, its CPU per delivery, involuntary context switches (/proc) and, for
// Node.js servers, event-loop delay and GC pauses (servers/phase-stats.mjs):
// what a tail rests on, printed beside it and kept in the JSON. Medians of the
// runs go to bench/results/compare.json, tables into bench/RESULTS.md and a
// chart into bench/results/compare.svg — for a full run only (every system,
// every scenario, 3+ runs). Any other run (--quick, --systems, --scenarios,
// --runs 1 or 2) writes the same three files to a scratch folder
// ($BENCH_SCRATCH_DIR, default <tmp>/eventwire-bench) and says where, so the
// committed report never holds smoke figures.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { cpuMicros, involuntarySwitches, rssBytes } from '../proc-stats.js';
import type { ClientCommand, ClientReply } from './client.js';
import { systems, type PhaseStats, type RunningServer, type ScenarioKind, type SystemSpec } from './systems.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    smoke: { type: 'boolean' },
    // Near one process's open-file limit (20,000 here): fan-out to 10,000 and 18,900 subscribers, and as many idle connections.
    scale: { type: 'boolean' },
    runs: { type: 'string' },
    systems: { type: 'string' },
    scenarios: { type: 'string' },
    // Rewrites RESULTS.md and the chart from results/compare.json without measuring.
    'from-json': { type: 'boolean' },
    // Messages/s offered in the fixed-load phase of every scenario run, instead of each scenario's own rate.
    'fixed-rate': { type: 'string' },
    // Length of the fixed-load phase in seconds (default 10; --quick 1, --smoke 0.25).
    'fixed-seconds': { type: 'string' },
  },
});
const quick = values.quick === true;
const smoke = values.smoke === true;
const scale = values.scale === true;
const runs = Number(values.runs ?? (quick || smoke ? 1 : 3));
const chosen = values.systems?.split(',') ?? systems.map((system) => system.key);
const fixedRate = values['fixed-rate'] === undefined ? undefined : Number(values['fixed-rate']);
const fixedSeconds = Number(values['fixed-seconds'] ?? (smoke ? 0.25 : quick ? 1 : 10));
for (const [name, value] of [['--fixed-rate', fixedRate], ['--fixed-seconds', fixedSeconds]] as const) {
  if (value !== undefined && !(value > 0)) throw new Error(`${name} must be a positive number`);
}

interface ThroughputScenario {
  readonly kind: 'fan-out' | 'fan-in' | 'wildcard';
  readonly label: string;
  /** Subscribing connections. */
  readonly subscribers: number;
  /** Publishing connections. */
  readonly publishers: number;
  /** Messages published in the saturation phase, in total. */
  readonly messages: number;
  /**
   * Messages/s offered in the fixed-load phase, the same for every system and
   * run: chosen from the committed saturation results so that every system
   * sustains it on the 2-core machine with room to spare (Aedes excepted:
   * see RESULTS.md). --fixed-rate overrides it.
   */
  readonly fixedPerSecond: number;
  /** Wildcard only: distinct patterns, spread evenly over the subscribers. */
  readonly patterns?: number;
}
interface CapacityScenario {
  readonly kind: 'connections';
  readonly label: string;
  readonly connections: number;
}
type Scenario = ThroughputScenario | CapacityScenario;

const scenarios: Scenario[] = scale
  ? [
      // ws sustained ~9.5 and ~5 messages/s here (RESULTS.md, "At capacity").
      { kind: 'fan-out', label: 'fan-out 1→10,000', subscribers: 10_000, publishers: 1, messages: 400, fixedPerSecond: 4 },
      { kind: 'fan-out', label: 'fan-out 1→18,900', subscribers: 18_900, publishers: 1, messages: 200, fixedPerSecond: 2 },
      { kind: 'connections', label: 'connections 10,000 idle', connections: 10_000 },
      { kind: 'connections', label: 'connections 18,900 idle', connections: 18_900 },
    ]
  : smoke
  ? [
      { kind: 'fan-out', label: 'fan-out 1→10', subscribers: 10, publishers: 1, messages: 200, fixedPerSecond: 200 },
      { kind: 'fan-in', label: 'fan-in 10→1', subscribers: 1, publishers: 10, messages: 200, fixedPerSecond: 200 },
      { kind: 'wildcard', label: 'wildcard 100 patterns', subscribers: 10, publishers: 1, messages: 200, fixedPerSecond: 200, patterns: 100 },
      { kind: 'connections', label: 'connections 40 idle', connections: 40 },
    ]
  : quick
  ? [{ kind: 'fan-out', label: 'fan-out 1→100', subscribers: 100, publishers: 1, messages: 2000, fixedPerSecond: 500 }]
  : [
      // Saturation in results/compare.json (2026-11-23, 3 runs), messages/s: slowest non-Aedes
      // system ≥ 1,310 (ws) / 55 (ws) / 49,246 (Socket.IO) / 22,884 (Socket.IO); Aedes 198 / 19 / 10,586 / 11,011.
      { kind: 'fan-out', label: 'fan-out 1→100', subscribers: 100, publishers: 1, messages: 20_000, fixedPerSecond: 500 },
      { kind: 'fan-out', label: 'fan-out 1→1000', subscribers: 1000, publishers: 1, messages: 4000, fixedPerSecond: 25 },
      { kind: 'fan-in', label: 'fan-in 100→1', subscribers: 1, publishers: 100, messages: 100_000, fixedPerSecond: 20_000 },
      { kind: 'wildcard', label: 'wildcard 10,000 patterns', subscribers: 100, publishers: 1, messages: 100_000, fixedPerSecond: 10_000, patterns: 10_000 },
      { kind: 'connections', label: 'connections 10,000 idle', connections: 10_000 },
    ];
const onlyScenarios = values.scenarios?.split(',');
const TOPIC = 'bench.fanout';
const WINDOW = 200;
/** Publishing at saturation stops after this long even if `messages` were not all sent (Aedes needs it). */
const SATURATION_MAX_MS = quick ? 4000 : 10_000;
/** How long deliveries may trail the publishers before a run counts as incomplete. */
const DRAIN_LIMIT_MS = smoke ? 15_000 : 60_000;
/** Only a full run may update the committed report; the rest goes to scratch. */
const publishable = !quick && !smoke && !scale && values.systems === undefined && values.scenarios === undefined && runs >= 3;
const committedResultsDir = fileURLToPath(new URL('../results/', import.meta.url));
const scratchDir = join(process.env['BENCH_SCRATCH_DIR'] ?? join(tmpdir(), 'eventwire-bench'), '/');
const resultsDir = publishable || values['from-json'] ? committedResultsDir : scratchDir;
const resultsMarkdown = resultsDir === committedResultsDir ? fileURLToPath(new URL('../RESULTS.md', import.meta.url)) : `${scratchDir}RESULTS.md`;
const clientScript = fileURLToPath(new URL('./client.ts', import.meta.url));
/**
 * A pause that lets a measurement settle (connection set-up CPU, memory after
 * a burst). A smoke run measures nothing, so it does not wait.
 */
const settleFor = (ms: number): Promise<void> => (smoke ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)));

/** What each subscribing connection subscribes to, and what is published. */
interface Plan {
  readonly subscriptions: string[][];
  readonly topics: string[];
}

/** Every subscriber gets every fan-out publish; elsewhere one subscriber gets each. */
const deliveriesPerMessage = (scenario: ThroughputScenario): number => (scenario.kind === 'fan-out' ? scenario.subscribers : 1);

function plan(scenario: ThroughputScenario, system: SystemSpec): Plan {
  if (scenario.kind !== 'wildcard') {
    const subscriptions = Array.from({ length: scenario.subscribers }, () => [TOPIC]);
    return { subscriptions, topics: [TOPIC] };
  }
  // Pattern n is `w.<n>.*` (even n) or `w.*.<n>` (odd n); topic n matches it and no other.
  const topicOf = (n: number) => (n % 2 === 0 ? `w.${n}.x` : `w.x.${n}`);
  const patternOf = (n: number) => (system.wildcards ? (n % 2 === 0 ? `w.${n}.*` : `w.*.${n}`) : topicOf(n));
  const patterns = scenario.patterns ?? 10_000;
  const perConnection = patterns / scenario.subscribers;
  const subscriptions = Array.from({ length: scenario.subscribers }, (_, connection) =>
    Array.from({ length: perConnection }, (_, k) => patternOf(connection * perConnection + k)),
  );
  // Consecutive publishes go to different connections: connection j % subscribers, its pattern ⌊j / subscribers⌋.
  const topics = Array.from({ length: patterns }, (_, j) =>
    topicOf((j % scenario.subscribers) * perConnection + Math.floor(j / scenario.subscribers)),
  );
  return { subscriptions, topics };
}

/** Splits `items` into `parts` contiguous runs of (nearly) equal length. */
function split<T>(items: T[], parts: number): T[][] {
  return Array.from({ length: parts }, (_, index) => {
    const from = Math.floor((items.length * index) / parts);
    return items.slice(from, Math.floor((items.length * (index + 1)) / parts));
  });
}

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
// One run of a throughput scenario

interface Latency {
  p50ms: number;
  p99ms: number;
  p999ms: number;
}

/** The fixed-load phase's latency: over the whole phase, and p99 second by second. */
interface FixedLatency extends Latency {
  /**
   * Median of the per-second p99s (by publish time): the p99 of a typical
   * second, which one stall cannot move.
   */
  p99PerSecondMedianMs: number;
  /** Worst per-second p99: where a stall shows. */
  p99PerSecondMaxMs: number;
  /** Seconds the two figures above rest on. */
  windows: number;
}

/** What the server process went through in the fixed-load phase. */
interface FixedServerStats {
  /** Server CPU (user + system) over the phase per delivery: not the saturation best case. */
  cpuMicrosPerDelivery: number;
  /** Involuntary context switches of the server per second of the phase: waiting for a core. */
  involuntarySwitchesPerSecond: number;
  /** Node.js servers only (servers/phase-stats.mjs). */
  eld?: PhaseStats['eld'];
  gc?: PhaseStats['gc'];
}

interface ThroughputRun {
  deliveriesPerSecond: number;
  cpuMicrosPerDelivery: number;
  /** Publish→deliver over the saturation phase. */
  saturated: Latency;
  /** At the fixed offered load. */
  fixed: FixedLatency;
  /** The server process at the fixed offered load. */
  fixedServer: FixedServerStats;
  /** Share of the fixed-load deliveries that arrived within the limit. */
  deliveredShare: number;
  /**
   * CPU the subscriber processes spent per delivery at the fixed load: what
   * the system's frames cost the receiving side (the same harness code reads
   * every system's frames), and whether the subscribers were the bottleneck.
   */
  subscriberCpuMicrosPerDelivery: number;
  /** Share of the saturation deliveries that arrived within the limit (below 1: a subscriber was lost or stalled). */
  saturatedShare: number;
  /** Messages per second the publishers got through. */
  sustainedPerSecond: number;
}

type Histogram = ReturnType<typeof newHistogram>;
const newHistogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });

/**
 * Starts recording in every subscriber, runs `phase`, and returns the merged
 * latency, and the merged histogram of each second after `origin` when given.
 */
async function recorded(subscribers: Client[], phase: () => Promise<void>, origin?: number): Promise<{ latency: Latency; seconds: Histogram[] }> {
  for (const client of subscribers) client.tell({ cmd: 'record', on: true, ...(origin !== undefined && { origin }) });
  await phase();
  for (const client of subscribers) client.tell({ cmd: 'record', on: false });
  const merged = newHistogram();
  const seconds: Histogram[] = [];
  for (const client of subscribers) {
    const reply = await client.ask({ cmd: 'histogram' });
    if (reply.type !== 'histogram') continue;
    merged.add(hdr.decodeFromCompressedBase64(reply.encoded));
    reply.perSecond.forEach((encoded, second) => (seconds[second] ??= newHistogram()).add(hdr.decodeFromCompressedBase64(encoded)));
  }
  const latency = { p50ms: merged.getValueAtPercentile(50) / 1000, p99ms: merged.getValueAtPercentile(99) / 1000, p999ms: merged.getValueAtPercentile(99.9) / 1000 };
  return { latency, seconds };
}

/**
 * The median and max of the per-second p99s. Seconds past the phase's end
 * (a publisher that fell behind) and empty ones do not count; a phase shorter
 * than a second keeps its one partial second.
 */
function perSecondP99(seconds: Histogram[], phaseSeconds: number): Pick<FixedLatency, 'p99PerSecondMedianMs' | 'p99PerSecondMaxMs' | 'windows'> {
  const p99s = seconds
    .slice(0, Math.max(1, Math.floor(phaseSeconds)))
    .filter((second) => second !== undefined && second.totalCount > 0)
    .map((second) => second.getValueAtPercentile(99) / 1000);
  if (p99s.length === 0) return { p99PerSecondMedianMs: 0, p99PerSecondMaxMs: 0, windows: 0 };
  return { p99PerSecondMedianMs: median(p99s), p99PerSecondMaxMs: Math.max(...p99s), windows: p99s.length };
}

/**
 * Client processes a smoke run hands from one run to the next: starting one
 * (Node.js and tsx) takes longer than a smoke-sized run itself. A measuring
 * run starts fresh processes every run, so no run inherits another's heap.
 */
const idleClients: Client[] = [];

async function startClients(count: number): Promise<Client[]> {
  const reused = smoke ? idleClients.splice(0, count) : [];
  return [...reused, ...(await Promise.all(Array.from({ length: count - reused.length }, () => Client.start())))];
}

/** Ends a run's clients: exits them, or under --smoke closes their connections and keeps them for the next run. */
async function releaseClients(clients: Client[]): Promise<void> {
  if (!smoke) {
    await Promise.all(clients.map((client) => client.exit()));
    return;
  }
  await Promise.all(clients.map((client) => client.ask({ cmd: 'reset' })));
  idleClients.push(...clients);
}

async function runThroughput(system: SystemSpec, scenario: ThroughputScenario, rate: number): Promise<ThroughputRun> {
  const { subscriptions, topics } = plan(scenario, system);
  const perMessage = deliveriesPerMessage(scenario);
  const server: RunningServer = await system.start();
  const processes = scenario.subscribers >= 1000 ? 4 : scenario.subscribers >= 100 ? 2 : 1;
  const subscribers = await startClients(processes);
  // Fan-in spreads its publishers over two processes; the others have one publisher.
  const publishers = await startClients(scenario.publishers > 1 ? 2 : 1);
  try {
    const shares = split(subscriptions, processes);
    await Promise.all(
      subscribers.map((client, index) =>
        client.ask({ cmd: 'connect', system: system.client, url: server.url, count: shares[index]!.length, concurrency: 50, subscriptions: shares[index]! }),
      ),
    );
    // Synap- and Pusher-surface runs still publish with the native protocol (Synap's own publish is
    // HTTP; a Pusher client publishes only client events, which are never echoed).
    const publisherSystem = system.client === 'eventwire-synap' || system.client === 'eventwire-pusher' ? 'eventwire' : system.client;
    await Promise.all(
      publishers.map((client) =>
        client.ask({ cmd: 'connect', system: publisherSystem, url: server.url, count: scenario.publishers / publishers.length, concurrency: 50 }),
      ),
    );
    // Let connection setup finish, so its CPU is not charged to the saturation phase.
    await settleFor(300);

    // Saturation: windows of WINDOW publishes, each closed by a server barrier.
    const before = await totalReceived(subscribers);
    const cpuBefore = cpuMicros(server.pid);
    const started = performance.now();
    let reached = before;
    let sent = 0;
    const { latency: saturated } = await recorded(subscribers, async () => {
      // Each publisher process holds scenario.publishers / publishers.length connections.
      const replies = await Promise.all(
        publishers.map((client) =>
          client.ask({
            cmd: 'saturate',
            topics,
            messagesPerConnection: scenario.messages / scenario.publishers,
            window: WINDOW,
            maxMs: SATURATION_MAX_MS,
          }),
        ),
      );
      sent = replies.reduce((sum, reply) => sum + (reply.type === 'done' ? reply.sent : 0), 0);
      reached = await waitForDeliveries(subscribers, before + sent * perMessage, DRAIN_LIMIT_MS);
    });
    const seconds = (performance.now() - started) / 1000;
    const delivered = reached - before;
    const cpuMicrosPerDelivery = (cpuMicros(server.pid) - cpuBefore) / delivered;
    const deliveriesPerSecond = delivered / seconds;
    const sustainedPerSecond = deliveriesPerSecond / perMessage;

    // Latency at a fixed offered load, the same for every system and run. The
    // server's figures cover the phase and its drain: the deliveries it made.
    const latencyBefore = await totalReceived(subscribers);
    let expected = 0;
    let latencyReached = latencyBefore;
    const subscriberCpu = () => subscribers.reduce((sum, client) => sum + cpuMicros(client.process.pid!), 0);
    const subscriberCpuBefore = subscriberCpu();
    const stopPhaseStats = await server.startPhaseStats?.();
    const serverCpuBefore = cpuMicros(server.pid);
    const switchesBefore = involuntarySwitches(server.pid);
    const phaseStarted = performance.now();
    // Every publisher process starts at the same instant, the subscribers' second 0.
    const origin = performance.timeOrigin + performance.now() + 50;
    const { latency, seconds: secondsOfPhase } = await recorded(
      subscribers,
      async () => {
        const replies = await Promise.all(
          publishers.map((client) => client.ask({ cmd: 'rate', topics, perSecond: rate / publishers.length, seconds: fixedSeconds, at: origin })),
        );
        // What the publishers report sending: each rounds its own share of the rate.
        expected = replies.reduce((sum, reply) => sum + (reply.type === 'done' ? reply.sent : 0), 0) * perMessage;
        latencyReached = await waitForDeliveries(subscribers, latencyBefore + expected, Math.min(DRAIN_LIMIT_MS, 20_000));
      },
      origin,
    );
    const phaseSeconds = (performance.now() - phaseStarted) / 1000;
    const fixedDelivered = Math.max(1, latencyReached - latencyBefore);
    const fixedServer: FixedServerStats = {
      cpuMicrosPerDelivery: (cpuMicros(server.pid) - serverCpuBefore) / fixedDelivered,
      involuntarySwitchesPerSecond: (involuntarySwitches(server.pid) - switchesBefore) / phaseSeconds,
      ...(stopPhaseStats && (await stopPhaseStats())),
    };
    const subscriberCpuMicrosPerDelivery = (subscriberCpu() - subscriberCpuBefore) / fixedDelivered;
    return {
      deliveriesPerSecond,
      cpuMicrosPerDelivery,
      sustainedPerSecond,
      saturated,
      fixed: { ...latency, ...perSecondP99(secondsOfPhase, fixedSeconds) },
      fixedServer,
      deliveredShare: (latencyReached - latencyBefore) / expected,
      subscriberCpuMicrosPerDelivery,
      saturatedShare: delivered / (sent * perMessage),
    };
  } finally {
    await releaseClients([...subscribers, ...publishers]);
    await server.stop();
  }
}

// ---------------------------------------------------------------------------
// One run of the connection-capacity scenario

interface CapacityRun {
  /** Server RSS growth per connection; after a full GC for Node.js servers. */
  rssKiBPerConnection: number;
  /** Connections opened (and subscribed) per second, 4 client processes × 50 at a time. */
  connectsPerSecond: number;
  /** Server CPU spent per connection while they were opened. */
  cpuMicrosPerConnect: number;
  /** Whether the memory was read after a forced full GC. */
  collected: boolean;
}

async function runCapacity(system: SystemSpec, scenario: CapacityScenario): Promise<CapacityRun> {
  const server = await system.start();
  const processes = 4;
  const clients = await startClients(processes);
  const settle = async () => {
    await settleFor(500);
    await server.collectGarbage?.();
  };
  try {
    await settle();
    const rssBefore = rssBytes(server.pid);
    const cpuBefore = cpuMicros(server.pid);
    const started = performance.now();
    // One distinct exact-topic subscription each: the same for every system.
    const shares = split(
      Array.from({ length: scenario.connections }, (_, n) => [`idle.${n}`]),
      processes,
    );
    await Promise.all(
      clients.map((client, index) =>
        client.ask({ cmd: 'connect', system: system.client, url: server.url, count: shares[index]!.length, concurrency: 50, subscriptions: shares[index]! }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpuMicrosPerConnect = (cpuMicros(server.pid) - cpuBefore) / scenario.connections;
    await settle();
    return {
      rssKiBPerConnection: (rssBytes(server.pid) - rssBefore) / 1024 / scenario.connections,
      connectsPerSecond: scenario.connections / seconds,
      cpuMicrosPerConnect,
      collected: server.collectGarbage !== undefined,
    };
  } finally {
    await releaseClients(clients);
    await server.stop();
  }
}

// ---------------------------------------------------------------------------
// Orchestration, medians, report

const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const medianLatency = (latencies: Latency[]): Latency => ({
  p50ms: median(latencies.map((l) => l.p50ms)),
  p99ms: median(latencies.map((l) => l.p99ms)),
  p999ms: median(latencies.map((l) => l.p999ms)),
});
/** Each figure's median over the runs (so a row's figures may come from different runs). */
const medianFixed = (latencies: FixedLatency[]): FixedLatency => ({
  ...medianLatency(latencies),
  p99PerSecondMedianMs: median(latencies.map((l) => l.p99PerSecondMedianMs)),
  p99PerSecondMaxMs: median(latencies.map((l) => l.p99PerSecondMaxMs)),
  windows: median(latencies.map((l) => l.windows)),
});
const medianServer = (stats: FixedServerStats[]): FixedServerStats => {
  const eld = stats.flatMap((s) => (s.eld ? [s.eld] : []));
  const gc = stats.flatMap((s) => (s.gc ? [s.gc] : []));
  return {
    cpuMicrosPerDelivery: median(stats.map((s) => s.cpuMicrosPerDelivery)),
    involuntarySwitchesPerSecond: median(stats.map((s) => s.involuntarySwitchesPerSecond)),
    ...(eld.length > 0 && {
      eld: { p50ms: median(eld.map((e) => e.p50ms)), p99ms: median(eld.map((e) => e.p99ms)), maxMs: median(eld.map((e) => e.maxMs)) },
    }),
    ...(gc.length > 0 && {
      gc: { count: median(gc.map((g) => g.count)), totalMs: median(gc.map((g) => g.totalMs)), maxMs: median(gc.map((g) => g.maxMs)) },
    }),
  };
};

interface Row {
  system: string;
  name: string;
  version: string;
}
type ThroughputRow = Row & Omit<ThroughputRun, 'sustainedPerSecond'> & { runs: ThroughputRun[] };
type CapacityRow = Row & CapacityRun & { runs: CapacityRun[] };
type Entry =
  | {
      kind: ThroughputScenario['kind'];
      scenario: string;
      offeredPerSecond: number;
      /** Length of the fixed-load phase (absent in results written before it was recorded: 3 s). */
      fixedSeconds?: number;
      deliveriesPerMessage: number;
      systems: ThroughputRow[];
    }
  | { kind: 'connections'; scenario: string; connections: number; systems: CapacityRow[] };
interface Meta {
  date: string;
  node: string;
  cpus: string;
  mode: 'quick' | 'full';
  runs: number;
  command: string;
  skipped: string[];
}


const takesPart = (system: SystemSpec, kind: ScenarioKind) => chosen.includes(system.key) && (system.scenarios?.includes(kind) ?? true);

async function measureAll(): Promise<{ meta: Meta; report: Entry[] }> {
  const report: Entry[] = [];
  const skipped = new Set<string>();
  for (const scenario of scenarios) {
    if (onlyScenarios && !onlyScenarios.includes(scenario.kind)) continue;
    const offered = scenario.kind === 'connections' ? 0 : (fixedRate ?? scenario.fixedPerSecond);
    const throughputRows: ThroughputRow[] = [];
    const capacityRows: CapacityRow[] = [];
    for (const system of systems.filter((s) => takesPart(s, scenario.kind))) {
      const why = system.unavailable?.();
      if (why) {
        skipped.add(`${system.name}: ${why}`);
        continue;
      }
      const row = { system: system.key, name: system.name, version: system.version() };
      if (scenario.kind === 'connections') {
        const results: CapacityRun[] = [];
        for (let run = 1; run <= runs; run++) {
          process.stdout.write(`${scenario.label} · ${system.name} · run ${run}/${runs} … `);
          const result = await runCapacity(system, scenario);
          results.push(result);
          console.log(`${result.rssKiBPerConnection.toFixed(1)} KiB/connection, ${Math.round(result.connectsPerSecond).toLocaleString('en')} connects/s`);
        }
        const pick = (key: 'rssKiBPerConnection' | 'connectsPerSecond' | 'cpuMicrosPerConnect') => median(results.map((r) => r[key]));
        capacityRows.push({
          ...row,
          runs: results,
          rssKiBPerConnection: pick('rssKiBPerConnection'),
          connectsPerSecond: pick('connectsPerSecond'),
          cpuMicrosPerConnect: pick('cpuMicrosPerConnect'),
          collected: results[0]!.collected,
        });
        continue;
      }
      const results: ThroughputRun[] = [];
      for (let run = 1; run <= runs; run++) {
        process.stdout.write(`${scenario.label} · ${system.name} · run ${run}/${runs} … `);
        const result = await runThroughput(system, scenario, offered);
        results.push(result);
        const lost = result.saturatedShare < 1 ? ` — INCOMPLETE: ${(result.saturatedShare * 100).toFixed(1)}% delivered` : '';
        const { fixed: f, fixedServer: server } = result;
        console.log(
          `${Math.round(result.deliveriesPerSecond).toLocaleString('en')} deliveries/s, ${result.cpuMicrosPerDelivery.toFixed(2)} µs CPU/delivery${lost}; ` +
            `fixed load p50/p99 ${f.p50ms.toFixed(2)}/${f.p99ms.toFixed(2)} ms, per-second p99 median/max ${f.p99PerSecondMedianMs.toFixed(2)}/${f.p99PerSecondMaxMs.toFixed(2)} ms ` +
            `(${f.windows} s); server ${server.cpuMicrosPerDelivery.toFixed(2)} µs CPU/delivery, ${Math.round(server.involuntarySwitchesPerSecond)} involuntary switches/s` +
            (server.eld ? `, loop delay p50/p99/max ${server.eld.p50ms}/${server.eld.p99ms}/${server.eld.maxMs} ms` : '') +
            (server.gc ? `, GC ${server.gc.totalMs} ms total, max ${server.gc.maxMs} ms` : '') +
            `; subscribers ${result.subscriberCpuMicrosPerDelivery.toFixed(2)} µs CPU/delivery`,
        );
      }
      throughputRows.push({
        ...row,
        runs: results,
        deliveriesPerSecond: median(results.map((r) => r.deliveriesPerSecond)),
        cpuMicrosPerDelivery: median(results.map((r) => r.cpuMicrosPerDelivery)),
        saturated: medianLatency(results.map((r) => r.saturated)),
        fixed: medianFixed(results.map((r) => r.fixed)),
        fixedServer: medianServer(results.map((r) => r.fixedServer)),
        deliveredShare: median(results.map((r) => r.deliveredShare)),
        subscriberCpuMicrosPerDelivery: median(results.map((r) => r.subscriberCpuMicrosPerDelivery)),
        saturatedShare: Math.min(...results.map((r) => r.saturatedShare)),
      });
    }
    report.push(
      scenario.kind === 'connections'
        ? { kind: scenario.kind, scenario: scenario.label, connections: scenario.connections, systems: capacityRows }
        : {
            kind: scenario.kind,
            scenario: scenario.label,
            offeredPerSecond: offered,
            fixedSeconds,
            deliveriesPerMessage: deliveriesPerMessage(scenario),
            systems: throughputRows,
          },
    );
  }
  await Promise.all(idleClients.splice(0).map((client) => client.exit()));
  const meta: Meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    mode: quick ? 'quick' : 'full',
    runs,
    command: `pnpm --filter @eventwire/bench compare${quick ? ' --quick' : ''}`,
    skipped: [...skipped],
  };
  return { meta, report };
}

/** What differs between the systems beyond the server itself, printed under the tables. */
function fairnessNotes(): string[] {
  return [
    'Same payload for all: a ~100-byte JSON object text, wrapped in each system\'s own frame. eventwire sends the whole ' +
      'envelope (id, topic, source, time, data: ~214 bytes per delivery); the bare ws server forwards the payload alone; ' +
      'Socket.IO sends an event packet, NATS a MSG with its subject, MQTT a PUBLISH with its topic.',
    'Same acknowledgement semantics: at most once, nothing acknowledged per publish (MQTT QoS 0), nothing persisted. ' +
      'The barrier closing each window is each system\'s own round trip: eventwire ping/pong, a ping message on the bare ' +
      'ws server, a Socket.IO acknowledgement, a NATS flush (PING/PONG), an MQTT QoS 1 publish (PUBACK).',
    'Write strategies differ and are part of what is measured: eventwire holds each socket\'s frames for the tick and ' +
      'writes them in one writev; nats-server also coalesces per client; the bare ws server, Socket.IO and Aedes write ' +
      'each frame as it is sent, as their plain use does.',
    'Wildcards: the bare ws server and Socket.IO route exact topics only, so in the wildcard scenario they hold the ' +
      '10,000 concrete topics (a map lookup). eventwire, NATS and MQTT match the patterns.',
    'Clients: eventwire\'s load clients speak the native protocol over plain `ws` sockets (not EventChannel, so ' +
      'no client-side schema validation), the bare ws server\'s likewise; Socket.IO, NATS and MQTT use their own ' +
      'clients (socket.io-client, nats.js, mqtt.js). Server CPU does not depend on the client; deliveries/s partly does.',
    'One machine: servers and load generators share 2 cores, so the fastest systems are partly limited by the clients; ' +
      'CPU per delivery is read from the server process alone and does not depend on that.',
    'Node.js servers run with --expose-gc and a preloaded SIGUSR2 handler (servers/gc-on-signal.mjs) that only the ' +
      'connection scenario uses, and a preloaded SIGWINCH handler (servers/phase-stats.mjs) that records event-loop ' +
      'delay (a 1 ms timer) and GC pauses during the fixed-load phase only; nats-server runs from the Debian package ' +
      'with a WebSocket listener and no TLS.',
  ];
}

function ratio(value: number, base: number | undefined): string {
  return base ? `${(value / base).toFixed(2)}×` : '–';
}

function latencyCell(latency: Latency): string {
  return `${latency.p50ms.toFixed(2)} / ${latency.p99ms.toFixed(2)} / ${latency.p999ms.toFixed(2)}`;
}

function writeResultsSection(): void {
  const lines: string[] = [];
  lines.push('## Against peers');
  lines.push('');
  lines.push(`Command: \`${meta.command}\` (generated ${meta.date.slice(0, 10)}; raw results in`);
  lines.push('`bench/results/compare.json`, chart `bench/results/compare.svg`). Machine: ' + `${meta.cpus}, Node ${meta.node}.`);
  lines.push('');
  lines.push('Every server is its own process; subscribers (1–4 processes) and publishers');
  lines.push('(1 process; fan-in: 100 connections in 2) are other processes, all on 127.0.0.1. Same ~100-byte JSON payload,');
  lines.push('no acknowledgements on publish (QoS 0 for MQTT), a server barrier after every window of 200 at');
  lines.push(`saturation (a system still publishing after ${SATURATION_MAX_MS / 1000} s stops there). CPU per delivery is the server process's own user+system time over`);
  lines.push('the saturation phase. Latency (HDR, publish→deliver, ms as p50 / p99 / p999) is');
  lines.push('measured over the saturation phase and over a fixed-load phase: the rate in each heading, the same');
  lines.push('for every system and run (chosen from earlier saturation results so every system but Aedes sustains it;');
  lines.push('`--fixed-rate` overrides it), for the seconds given there (`--fixed-seconds`, default 10). At the fixed');
  lines.push('load the p99 is also taken second by second (by publish time): the median of those per-second p99s is a');
  lines.push("typical second's tail, which one stall cannot move; their max is where a stall shows. Beside it, from the");
  lines.push("server process over the same phase: its CPU per delivery (not the saturation phase's batched best case),");
  lines.push('its involuntary context switches per second (all threads; many of them with a high loop delay means it');
  lines.push('was waiting for a core, not working), and for Node.js servers its event-loop delay (p50 / p99 / max,');
  lines.push('1 ms resolution) and GC pauses (total / max). Each figure is the median over the runs, so one row\'s');
  lines.push(`figures may come from different runs. Median of ${meta.runs} run(s); fairness notes follow the tables.`);
  lines.push('');
  lines.push('Latency at saturation is queueing, not the server\'s own delay: a window\'s barrier returns once the');
  lines.push('server has *handled* the window, not once subscribers have read it, so a server that accepts faster');
  lines.push('than the subscriber processes read runs ahead of them and the backlog in socket buffers is what the');
  lines.push('column shows (the fastest servers show the longest). Compare latency in the fixed-load column.');
  if (meta.skipped.length) lines.push(`Not run: ${meta.skipped.join('; ')}.`);
  for (const entry of report) {
    lines.push('');
    if (entry.kind === 'connections') {
      const ws = entry.systems.find((row) => row.system === 'ws');
      const sio = entry.systems.find((row) => row.system === 'socketio');
      lines.push(`### ${entry.scenario}`);
      lines.push('');
      lines.push(`${entry.connections.toLocaleString('en')} connections from 4 client processes, 50 opening at a time each, every one`);
      lines.push('holding one distinct exact-topic subscription. Memory is server RSS growth per');
      lines.push('connection, read after a forced full GC in Node.js servers (nats-server: as the Go');
      lines.push('runtime left it, 0.5 s after the last connect).');
      lines.push('');
      lines.push('| system | RSS KiB / connection | vs ws | vs Socket.IO | connects/s | server CPU µs / connect |');
      lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
      for (const row of entry.systems) {
        lines.push(
          `| ${row.name} (${row.version})${row.collected ? '' : ' ¹'} | ${row.rssKiBPerConnection.toFixed(1)} | ${ratio(row.rssKiBPerConnection, ws?.rssKiBPerConnection)} | ${ratio(row.rssKiBPerConnection, sio?.rssKiBPerConnection)} | ${Math.round(row.connectsPerSecond).toLocaleString('en')} | ${row.cpuMicrosPerConnect.toFixed(0)} |`,
        );
      }
      if (entry.systems.some((row) => !row.collected)) lines.push('', '¹ not a Node.js process: no forced GC before reading memory.');
      continue;
    }
    const ws = entry.systems.find((row) => row.system === 'ws');
    const sio = entry.systems.find((row) => row.system === 'socketio');
    lines.push(`### ${entry.scenario} (fixed load: ${Math.round(entry.offeredPerSecond).toLocaleString('en')} messages/s for ${entry.fixedSeconds ?? 3} s)`);
    lines.push('');
    if (entry.kind === 'wildcard') {
      lines.push('Patterns `w.<n>.*` (even n) and `w.*.<n>` (odd n) over 100 connections, 100 each; one');
      lines.push('publisher cycles through the 10,000 topics so that each publish matches exactly one');
      lines.push('pattern. **The bare ws server and Socket.IO have no wildcards: they subscribe to the');
      lines.push('10,000 exact topics instead** (a map lookup, not pattern matching), so their rows are a');
      lines.push('ceiling for routing, not like for like.');
      lines.push('');
    }
    lines.push('| system | deliveries/s | vs ws | vs Socket.IO | server CPU µs/delivery | vs ws | latency at saturation | latency at fixed load |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const row of entry.systems) {
      const late = row.deliveredShare < 0.999 ? ` (${(row.deliveredShare * 100).toFixed(1)}% delivered)` : '';
      const lost = row.saturatedShare < 1 ? ` (worst run: ${(row.saturatedShare * 100).toFixed(1)}% delivered)` : '';
      const overloaded = row.deliveriesPerSecond < entry.offeredPerSecond * entry.deliveriesPerMessage ? ' (load above its saturation rate)' : '';
      lines.push(
        `| ${row.name} (${row.version}) | ${Math.round(row.deliveriesPerSecond).toLocaleString('en')}${lost} | ${ratio(row.deliveriesPerSecond, ws?.deliveriesPerSecond)} | ${ratio(row.deliveriesPerSecond, sio?.deliveriesPerSecond)} | ${row.cpuMicrosPerDelivery.toFixed(2)} | ${ratio(row.cpuMicrosPerDelivery, ws?.cpuMicrosPerDelivery)} | ${latencyCell(row.saturated)} | ${latencyCell(row.fixed)}${late}${overloaded} |`,
      );
    }
    // Results written before the fixed-load phase had per-second p99s and server figures have no second table.
    if (entry.systems.every((row) => row.fixedServer !== undefined && row.fixed.windows !== undefined)) {
      lines.push('');
      lines.push('At the fixed load:');
      lines.push('');
      lines.push('| system | p50 / p99 / p999 ms | per-second p99 median / max ms | server CPU µs/delivery | involuntary switches/s | loop delay p50 / p99 / max ms | GC total / max ms |');
      lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
      for (const row of entry.systems) {
        const server = row.fixedServer;
        lines.push(
          `| ${row.name} | ${latencyCell(row.fixed)} | ${row.fixed.p99PerSecondMedianMs.toFixed(2)} / ${row.fixed.p99PerSecondMaxMs.toFixed(2)} | ${server.cpuMicrosPerDelivery.toFixed(2)} | ${Math.round(server.involuntarySwitchesPerSecond).toLocaleString('en')} | ${server.eld ? `${server.eld.p50ms.toFixed(2)} / ${server.eld.p99ms.toFixed(2)} / ${server.eld.maxMs.toFixed(2)}` : '–'} | ${server.gc ? `${server.gc.totalMs.toFixed(1)} / ${server.gc.maxMs.toFixed(1)}` : '–'} |`,
        );
      }
    }
  }
  lines.push('');
  lines.push('![comparison chart](results/compare.svg)');
  lines.push('');
  lines.push('Fairness notes:');
  lines.push('');
  for (const note of fairnessNotes()) lines.push(`- ${note}`);
  const section = `<!-- compare:start -->\n${lines.join('\n')}\n<!-- compare:end -->`;
  const path = resultsMarkdown;
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // a fresh scratch folder
  }
  const next = /<!-- compare:start -->[\s\S]*<!-- compare:end -->/.test(current)
    ? current.replace(/<!-- compare:start -->[\s\S]*<!-- compare:end -->/, section)
    : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(path, next);
}

/**
 * Horizontal bar panels: server CPU per delivery for every throughput
 * scenario (the broker's own cost), then memory per idle connection.
 */
function chart(): string {
  const width = 780;
  const barHeight = 18;
  const gap = 6;
  const left = 280;
  interface Bar {
    label: string;
    value: number;
  }
  const panels: Array<{ title: string; bars: Bar[]; format: (v: number) => string; color: string }> = [];
  for (const entry of report) {
    if (entry.kind === 'connections') {
      panels.push({
        title: `${entry.scenario}: server RSS KiB per connection (lower is better)`,
        bars: entry.systems.map((row) => ({ label: row.name, value: row.rssKiBPerConnection })),
        format: (v) => v.toFixed(1),
        color: '#2f855a',
      });
    } else {
      panels.push({
        title: `${entry.scenario}: server CPU µs per delivery (lower is better)`,
        bars: entry.systems.map((row) => ({ label: row.name, value: row.cpuMicrosPerDelivery })),
        format: (v) => v.toFixed(2),
        color: '#c05621',
      });
    }
  }
  let y = 0;
  const parts: string[] = [];
  for (const panel of panels) {
    const max = Math.max(...panel.bars.map((bar) => bar.value)) || 1;
    parts.push(`<text x="10" y="${y + 16}" font-weight="bold">${escape(panel.title)}</text>`);
    y += 26;
    for (const bar of panel.bars) {
      const w = ((width - left - 70) * bar.value) / max;
      parts.push(
        `<text x="${left - 10}" y="${y + 13}" text-anchor="end">${escape(bar.label)}</text><rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${panel.color}"/><text x="${left + w + 6}" y="${y + 13}">${panel.format(bar.value)}</text>`,
      );
      y += barHeight + gap;
    }
    y += 14;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
</svg>
`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

// ---------------------------------------------------------------------------
// Main: measure (or reread the last results), then write the report.

const { meta, report } = values['from-json']
  ? (JSON.parse(readFileSync(`${resultsDir}compare.json`, 'utf8')) as { meta: Meta; report: Entry[] })
  : await measureAll();
if (smoke) {
  // Nothing is written: these sizes measure nothing. What counts is that every
  // system ran every scenario and delivered everything.
  const incomplete = report.flatMap((entry) =>
    entry.kind === 'connections'
      ? entry.systems.filter((row) => !(row.connectsPerSecond > 0)).map((row) => `${entry.scenario} · ${row.name}`)
      : entry.systems.filter((row) => row.saturatedShare < 1 || row.deliveredShare < 1).map((row) => `${entry.scenario} · ${row.name}`),
  );
  // What the fixed-load phase measured beside latency, per throughput row: seconds of per-second p99s, and
  // whether the server's loop delay and GC pauses came back (Node.js servers), and its CPU per delivery as read.
  const fixedLoad = report.flatMap((entry) =>
    entry.kind === 'connections'
      ? []
      : entry.systems.map((row) => ({
          scenario: entry.scenario,
          system: row.system,
          windows: row.fixed.windows,
          serverCpu: row.fixedServer.cpuMicrosPerDelivery,
          loopDelay: row.fixedServer.eld !== undefined && row.fixedServer.gc !== undefined,
        })),
  );
  console.log(
    `SMOKE ${JSON.stringify({ scenarios: report.map((entry) => ({ scenario: entry.scenario, systems: entry.systems.map((row) => row.system) })), incomplete, fixedLoad })}`,
  );
  process.exit(incomplete.length === 0 ? 0 : 1);
}
mkdirSync(resultsDir, { recursive: true });
if (!values['from-json']) writeFileSync(`${resultsDir}compare.json`, `${JSON.stringify({ meta, report }, null, 2)}\n`);
writeFileSync(`${resultsDir}compare.svg`, chart());
writeResultsSection();
if (resultsDir === committedResultsDir) {
  console.log(`\nwrote ${values['from-json'] ? '' : 'bench/results/compare.json, '}bench/results/compare.svg and the "Against peers" section of bench/RESULTS.md`);
} else {
  console.log(`\nnot a full run (every system and scenario, 3+ runs): figures written to ${scratchDir} (compare.json, compare.svg, RESULTS.md); bench/RESULTS.md is unchanged`);
}
