// How each compared system's server is started, as its own process, and what
// version it is. Every server prints or logs the URL it listens on.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hs256 } from '../jwt.js';

/** What a Node.js server's own process went through in a phase (servers/phase-stats.mjs). */
export interface PhaseStats {
  /** Event-loop delay (monitorEventLoopDelay, 1 ms resolution). */
  readonly eld: { readonly p50ms: number; readonly p99ms: number; readonly maxMs: number };
  /** GC pauses (PerformanceObserver 'gc'). */
  readonly gc: { readonly count: number; readonly totalMs: number; readonly maxMs: number };
}

export interface RunningServer {
  readonly url: string;
  readonly pid: number;
  /** Runs a full GC in the server; only Node.js servers can. */
  collectGarbage?(): Promise<void>;
  /**
   * Starts recording the server's event-loop delay and GC pauses; the
   * function it resolves to stops and returns them. Only Node.js servers can.
   */
  startPhaseStats?(): Promise<() => Promise<PhaseStats>>;
  stop(): Promise<void>;
}

/** Which client adapter talks to a system. */
export type ClientKey = 'eventwire' | 'eventwire-synap' | 'eventwire-pusher' | 'ws' | 'socketio' | 'nats' | 'mqtt';

export type ScenarioKind = 'fan-out' | 'fan-in' | 'wildcard' | 'connections';

export interface SystemSpec {
  /** Selects it on the command line (--systems) and in the results. */
  readonly key: string;
  /** The client adapter that talks to it. */
  readonly client: ClientKey;
  readonly name: string;
  /** Whether it routes `*` patterns; systems without get exact topics instead. */
  readonly wildcards: boolean;
  /** The scenarios it takes part in; all when absent. */
  readonly scenarios?: readonly ScenarioKind[];
  version(): string;
  start(): Promise<RunningServer>;
  /** Why it cannot run here, if it cannot. */
  unavailable?(): string | undefined;
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const packageVersion = (path: string) => (JSON.parse(readFileSync(here(path), 'utf8')) as { version: string }).version;

const gcPreload = here('servers/gc-on-signal.mjs');
const phasePreload = here('servers/phase-stats.mjs');

// BENCH_CPU_PROF_DIR=/tmp/prof profiles every Node.js server (node --cpu-prof);
// NODE_OPTIONS may not carry --cpu-prof, and it would profile the clients too.
const profiling = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];
// BENCH_SERVER_LOG=1 passes every server's output through (and the eventwire broker is not --quiet).
const showServerOutput = process.env.BENCH_SERVER_LOG === '1';

/**
 * A Node.js server script, with a full GC on request (see
 * servers/gc-on-signal.mjs) and its loop delay and GC pauses over a phase
 * (servers/phase-stats.mjs).
 */
const launchNode = (script: string, args: string[] = []): Promise<RunningServer> =>
  launch(
    process.execPath,
    [...profiling, '--expose-gc', '--import', gcPreload, '--import', phasePreload, script, ...args],
    /listening on (ws:\/\/\S+)/,
    (m) => m[1]!,
    true,
  );

function launch(
  command: string,
  args: string[],
  listening: RegExp,
  urlOf: (match: RegExpExecArray) => string,
  collectsOnSignal = false,
): Promise<RunningServer> {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const gcWaiters: Array<() => void> = [];
  const phaseWaiters: Array<(answer: string) => void> = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    // Whole lines only: a phase-stats answer may arrive in two chunks.
    const lines = (pending + String(chunk)).split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      if (line === 'gc done') gcWaiters.shift()?.();
      else if (line.startsWith('phase-stats ')) phaseWaiters.shift()?.(line.slice('phase-stats '.length));
    }
  });
  // One SIGWINCH, one answer line (servers/phase-stats.mjs).
  const askPhase = () =>
    new Promise<string>((answer) => {
      phaseWaiters.push(answer);
      child.kill('SIGWINCH');
    });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${text}`)), 15_000);
    let started = false;
    const onData = (chunk: Buffer) => {
      if (started) return;
      text += chunk;
      const match = listening.exec(text);
      if (!match) return;
      started = true;
      clearTimeout(timer);
      resolve({
        url: urlOf(match),
        pid: child.pid!,
        ...(collectsOnSignal && {
          collectGarbage: () =>
            new Promise<void>((done) => {
              gcWaiters.push(done);
              child.kill('SIGUSR2');
            }),
          startPhaseStats: async () => {
            await askPhase();
            return async () => JSON.parse(await askPhase()) as PhaseStats;
          },
        }),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      });
    };
    if (showServerOutput) {
      child.stdout!.pipe(process.stderr, { end: false });
      child.stderr!.pipe(process.stderr, { end: false });
    }
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited ${code}: ${text}`)));
  });
}

/** Whether `nats-server` is on the PATH. */
export function hasNatsServer(): boolean {
  try {
    execFileSync('nats-server', ['--version']);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const eventwireBroker = (): Promise<RunningServer> =>
  launchNode(here('../../packages/event-broker/bin/event-broker.js'), ['--port', '0', ...(showServerOutput ? [] : ['--quiet'])]);

export const systems: readonly SystemSpec[] = [
  {
    key: 'ws',
    client: 'ws',
    name: 'bare ws broadcast',
    wildcards: false,
    version: () => `ws ${packageVersion('../node_modules/ws/package.json')}`,
    start: () => launchNode(here('servers/ws-broadcast.mjs')),
  },
  {
    key: 'eventwire',
    client: 'eventwire',
    name: 'eventwire (native)',
    wildcards: true,
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}`,
    start: eventwireBroker,
  },
  {
    key: 'eventwire-synap',
    client: 'eventwire-synap',
    name: 'eventwire (Synap surface)',
    wildcards: true,
    // Same server as the native row; a Synap subscriber is one socket per topic list.
    scenarios: ['fan-out', 'fan-in'],
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}`,
    start: eventwireBroker,
  },
  {
    key: 'eventwire-metrics-off',
    client: 'eventwire',
    name: 'eventwire (native), /metrics off',
    wildcards: true,
    scenarios: ['fan-out', 'fan-in'],
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}, --metrics off`,
    start: () => launchNode(here('../../packages/event-broker/bin/event-broker.js'), ['--port', '0', '--metrics', 'off', ...(showServerOutput ? [] : ['--quiet'])]),
  },
  {
    key: 'eventwire-metrics-groups',
    client: 'eventwire',
    name: 'eventwire (native), /metrics with topic groups',
    wildcards: true,
    scenarios: ['fan-out', 'fan-in'],
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}, metrics.topicGroups`,
    // Three groups, the benchmark's topics in the last one: the classification a deployment pays.
    start: () => {
      const config = join(mkdtempSync(join(tmpdir(), 'bench-metrics-')), 'broker.json');
      writeFileSync(config, JSON.stringify({ metrics: { topicGroups: ['order.#', 'chat.*', 'bench.#'] } }));
      return launchNode(here('../../packages/event-broker/bin/event-broker.js'), ['--config', config, '--port', '0', ...(showServerOutput ? [] : ['--quiet'])]);
    },
  },
  {
    key: 'eventwire-pusher',
    client: 'eventwire-pusher',
    name: 'eventwire (Pusher surface)',
    // Pusher channels are exact names; its subscribers are Pusher protocol 7 sockets, the publisher native.
    wildcards: false,
    scenarios: ['fan-out', 'fan-in'],
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}, --pusher dev`,
    start: () => launchNode(here('../../packages/event-broker/bin/event-broker.js'), ['--port', '0', '--pusher', 'dev', ...(showServerOutput ? [] : ['--quiet'])]),
  },
  {
    key: 'eventwire-history',
    client: 'eventwire',
    name: 'eventwire (native) + durable history',
    wildcards: true,
    scenarios: ['fan-out', 'fan-in'],
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}, log store, fsync every 100 ms`,
    // Every topic keeps history in an append-only log in a fresh directory.
    start: () =>
      launchNode(here('../../packages/event-broker/bin/event-broker.js'), [
        '--port',
        '0',
        '--history',
        '#:1000000:1h',
        '--data-dir',
        mkdtempSync(join(tmpdir(), 'bench-history-')),
        '--fsync',
        '100',
        ...(showServerOutput ? [] : ['--quiet']),
      ]),
  },
  {
    key: 'eventwire-auth',
    client: 'eventwire',
    name: 'eventwire (native) + JWT, permissions, rate limits',
    wildcards: true,
    scenarios: ['fan-out', 'fan-in'],
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}, HS256 JWT on the URL`,
    // Every connection verified at connect; every publish checked against a
    // permission list and a per-connection token bucket (both generous, so
    // nothing is refused: this measures what the checks cost).
    async start() {
      const secret = 'bench-compare-secret-0123456789ab';
      const config = join(mkdtempSync(join(tmpdir(), 'bench-auth-')), 'broker.config.json');
      writeFileSync(
        config,
        JSON.stringify({
          port: 0,
          quiet: !showServerOutput,
          jwtSecret: secret,
          permissions: { authenticated: { publish: ['#'], subscribe: ['#'] } },
          rateLimits: { publish: { perConnection: { perSecond: 1e9 } }, subscribe: { perConnection: { perSecond: 1e9 } } },
        }),
      );
      const server = await launchNode(here('../../packages/event-broker/bin/event-broker.js'), ['--config', config]);
      return Object.assign(server, { url: `${server.url}/?token=${hs256(secret, 'bench')}` });
    },
  },
  ...[1, 5].map(
    (observers): SystemSpec => ({
      key: `eventwire-hooks-${observers}`,
      client: 'eventwire',
      name: `eventwire (native) + ${observers} observer${observers > 1 ? 's' : ''}`,
      wildcards: true,
      scenarios: ['fan-out', 'fan-in'],
      version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}`,
      start: () => launchNode(here('servers/eventwire-hooks.mjs'), [String(observers)]),
    }),
  ),
  {
    key: 'socketio',
    client: 'socketio',
    name: 'Socket.IO 4 (rooms)',
    wildcards: false,
    version: () => `socket.io ${packageVersion('../node_modules/socket.io/package.json')}`,
    start: () => launchNode(here('servers/socketio.mjs')),
  },
  {
    key: 'eventwire-socketio',
    client: 'socketio',
    name: 'eventwire (Socket.IO surface)',
    // Socket.IO rooms are exact topics; the same socket.io-client and the same handlers as Socket.IO's row.
    wildcards: false,
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}, socketio`,
    start: () =>
      launchNode(here('../../packages/event-broker/bin/event-broker.js'), [
        '--config',
        here('servers/eventwire-socketio.config.mjs'),
        '--port',
        '0',
        ...(showServerOutput ? [] : ['--quiet']),
      ]),
  },
  {
    key: 'nats',
    client: 'nats',
    name: 'nats-server (WebSocket)',
    wildcards: true,
    version: () => execFileSync('nats-server', ['--version']).toString().trim(),
    unavailable: () => {
      if (hasNatsServer()) return undefined;
      // A clean machine: install it the way CI would, when we may.
      if (process.getuid?.() === 0) {
        try {
          console.log('installing nats-server (apt-get install -y nats-server) …');
          execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server'], { stdio: 'ignore' });
        } catch {
          // fall through to the reason below
        }
        if (hasNatsServer()) return undefined;
      }
      return 'nats-server is not installed (apt-get install -y nats-server)';
    },
    async start() {
      const [tcp, ws] = [await freePort(), await freePort()];
      const config = join(mkdtempSync(join(tmpdir(), 'nats-bench-')), 'nats.conf');
      writeFileSync(config, `listen: 127.0.0.1:${tcp}\nwebsocket {\n  listen: "127.0.0.1:${ws}"\n  no_tls: true\n}\n`);
      return launch('nats-server', ['-c', config], /Listening for websocket clients on (ws:\/\/\S+)/, () => `ws://127.0.0.1:${ws}`);
    },
  },
  {
    key: 'mqtt',
    client: 'mqtt',
    name: 'Aedes MQTT (WebSocket)',
    wildcards: true,
    version: () => `aedes ${packageVersion('../node_modules/aedes/package.json')}, mqtt.js ${packageVersion('../node_modules/mqtt/package.json')}`,
    start: () => launchNode(here('servers/aedes.mjs')),
  },
];
