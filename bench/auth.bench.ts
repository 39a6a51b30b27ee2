// Authentication benchmark (issue #12): what verifying credentials costs a
// connect, and what a wrong token costs the broker. Run:
//   pnpm --filter @eventwire/bench bench:auth   (needs `npm run build`)
//
// The broker is the CLI in its own process (bin/event-broker.js, from dist/),
// so its CPU is read from /proc apart from the load generator's. Each connect
// is the whole handshake a client pays: TCP, the WebSocket upgrade, hello,
// welcome; then the socket is closed. CONCURRENCY connects are in flight at a
// time, from one address. Modes:
//   none          no authenticate option
//   jwt-query     HS256 JWT on the URL (?token=), verified at the upgrade
//   jwt-hello     the same token in the hello frame (what browsers' EventChannel sends)
//   api-key       an API key as Authorization: Bearer (SHA-256, constant-time compare)
//   wrong-token   a forged JWT, refused with 401 at the upgrade (failed-auth limit raised, so each is verified)
//   limited       the same forged JWT past the failed-auth limit: 429 before it is verified
// Median of RUNS runs. `--modes=none,jwt-query` picks modes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { cpuMicros } from './proc-stats.js';
import { hs256 } from './jwt.js';
import { quick } from './quick.js';

const RUNS = quick ? 1 : 3;
const CONNECTS = quick ? 300 : 3000;
const CONCURRENCY = 32;
const SECRET = 'bench-auth-secret-0123456789abcdef';
const API_KEY = 'bench-api-key-0123456789abcdef';
const cli = fileURLToPath(new URL('../packages/event-broker/bin/event-broker.js', import.meta.url));

interface Broker {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

async function startBroker(config: Record<string, unknown>): Promise<Broker> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-auth-'));
  const file = join(dir, 'broker.config.json');
  writeFileSync(file, JSON.stringify({ port: 0, quiet: true, ...config }));
  const child: ChildProcess = spawn(process.execPath, [cli, '--config', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const match = /listening on (ws:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`broker exited with ${code}: ${output}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

type Outcome = 'welcome' | 401 | 429;

/** One connect: resolves with how it ended. */
function connectOnce(url: string, headers: Record<string, string>, helloToken: string | undefined): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false });
    socket.on('unexpected-response', (_request, response) => {
      response.resume();
      resolve(response.statusCode as 401 | 429);
    });
    socket.on('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
    socket.on('open', () => socket.send(JSON.stringify({ type: 'hello', protocol: 1, ...(helloToken && { token: helloToken }) })));
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string };
      if (frame.type === 'welcome') {
        socket.close();
        resolve('welcome');
      } else reject(new Error(`unexpected frame ${String(data)}`));
    });
  });
}

interface Mode {
  readonly name: string;
  readonly config: Record<string, unknown>;
  readonly query?: string;
  readonly headers?: Record<string, string>;
  readonly helloToken?: string;
  readonly expect: Outcome;
  /** Spend the failed-auth budget first (so every measured connect is past it). */
  readonly exhaustFailures?: boolean;
}

const good = hs256(SECRET, 'bench');
const forged = hs256('not-the-secret-0123456789abcdef', 'bench');
const generous = { rateLimits: { failedAuth: { perIp: { perSecond: 1e9, burst: 1e9 } } } };
const modes: Mode[] = [
  { name: 'none', config: {}, expect: 'welcome' },
  { name: 'jwt-query', config: { jwtSecret: SECRET }, query: `?token=${good}`, expect: 'welcome' },
  { name: 'jwt-hello', config: { jwtSecret: SECRET }, helloToken: good, expect: 'welcome' },
  { name: 'api-key', config: { apiKeys: [{ key: API_KEY, user: 'svc' }] }, headers: { authorization: `Bearer ${API_KEY}` }, expect: 'welcome' },
  { name: 'wrong-token', config: { jwtSecret: SECRET, ...generous }, query: `?token=${forged}`, expect: 401 },
  { name: 'limited', config: { jwtSecret: SECRET }, query: `?token=${forged}`, expect: 429, exhaustFailures: true },
];

interface Result {
  readonly connectsPerSecond: number;
  readonly serverMicrosPerConnect: number;
}

async function measure(mode: Mode): Promise<Result> {
  const broker = await startBroker(mode.config);
  try {
    const url = `${broker.url}/${mode.query ?? ''}`;
    if (mode.exhaustFailures) {
      for (;;) if ((await connectOnce(url, {}, undefined)) === 429) break;
    }
    // Warm up (JIT, key import), then measure.
    for (let i = 0; i < 50; i++) await connectOnce(url, mode.headers ?? {}, mode.helloToken);
    const cpuBefore = cpuMicros(broker.pid);
    const started = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CONNECTS) {
          next++;
          const outcome = await connectOnce(url, mode.headers ?? {}, mode.helloToken);
          if (outcome !== mode.expect) throw new Error(`${mode.name}: expected ${mode.expect}, got ${outcome}`);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { connectsPerSecond: CONNECTS / seconds, serverMicrosPerConnect: (cpuMicros(broker.pid) - cpuBefore) / CONNECTS };
  } finally {
    await broker.stop();
  }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

console.log(`connects (${CONNECTS} per run, ${CONCURRENCY} in flight, ${RUNS} run(s), median; broker from dist/ in its own process):`);
console.log('  mode          connects/s   server CPU µs/connect   outcome');
// `--modes none,jwt-query` measures only those.
const only = process.argv.find((arg) => arg.startsWith('--modes='))?.slice('--modes='.length).split(',');
for (const mode of modes.filter((m) => !only || only.includes(m.name))) {
  const results: Result[] = [];
  for (let run = 0; run < RUNS; run++) results.push(await measure(mode));
  const rate = median(results.map((r) => r.connectsPerSecond));
  const cpu = median(results.map((r) => r.serverMicrosPerConnect));
  console.log(`  ${mode.name.padEnd(12)} ${Math.round(rate).toLocaleString('en-US').padStart(10)}   ${cpu.toFixed(0).padStart(21)}   ${mode.expect}`);
}
