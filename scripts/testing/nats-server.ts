// Throwaway nats-server processes for tests, benchmarks and the cluster
// example: each on free ports, with its own store directory, killed by its
// owner (and with the owning process: a test runner's kill takes them too).
// Missing locally: tests skip with a loud reason; under CI=true they fail.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const binary = process.env['NATS_SERVER'] ?? 'nats-server';

/** True when nats-server can run here; logs why not, and throws under CI (where .ci/run installs it). */
export function natsServerAvailable(): boolean {
  const found = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  if (found.status === 0) return true;
  if (process.env['CI'] === 'true') throw new Error(`${binary} is missing; .ci/run installs it (apt-get install nats-server)`);
  console.log(`skipping NATS tests: ${binary} not installed (apt-get install -y nats-server)`);
  return false;
}

/** A port nothing listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface NatsServer {
  readonly port: number;
  /** `nats://127.0.0.1:port` */
  readonly url: string;
  /** The cluster (route) port, when started as part of a cluster. */
  readonly clusterPort: number | undefined;
  /** The running process's id (for CPU and memory readings in benchmarks). */
  readonly pid: number | undefined;
  /** Stops it (SIGTERM, then SIGKILL after 3 s). */
  stop(): Promise<void>;
  /** kill -9. */
  kill(): Promise<void>;
  /** Starts it again on the same ports (after stop or kill). */
  start(): Promise<void>;
}

export interface NatsServerOptions {
  /** Route to these cluster ports (a cluster of several servers). */
  readonly routes?: readonly number[];
  readonly clusterPort?: number;
  /** JetStream on, with its store in a temporary directory. */
  readonly jetstream?: boolean;
  readonly name?: string;
}

/** Starts a nats-server on a free port; resolves once it accepts clients. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const port = await freePort();
  const clusterPort = options.clusterPort ?? (options.routes ? await freePort() : undefined);
  const store = options.jetstream ? mkdtempSync(join(tmpdir(), 'eventwire-js-')) : undefined;
  const args = ['-a', '127.0.0.1', '-p', String(port), ...(options.name ? ['-n', options.name] : [])];
  if (clusterPort !== undefined) {
    args.push('--cluster_name', 'eventwire-test', '--cluster', `nats://127.0.0.1:${clusterPort}`);
    if (options.routes?.length) args.push('--routes', options.routes.map((route) => `nats://127.0.0.1:${route}`).join(','));
  }
  if (store) args.push('-js', '-sd', store);
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const spawned = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = spawned;
    exited = new Promise((resolve) => spawned.once('exit', () => resolve()));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start within 10 s:\n${output}`)), 10_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      };
      spawned.stdout!.on('data', onData);
      spawned.stderr!.on('data', onData);
      spawned.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}) before it was ready:\n${output}`));
      });
    });
  };
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const timer = setTimeout(() => child?.kill('SIGKILL'), 3000);
    child.kill(name);
    await exited;
    clearTimeout(timer);
  };
  await start();
  // With the owner: a test file killed by its runner must not leave servers behind.
  process.once('exit', () => {
    child?.kill('SIGKILL');
    if (store) rmSync(store, { recursive: true, force: true });
  });
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    clusterPort,
    get pid() {
      return child?.pid;
    },
    stop: () => signal('SIGTERM'),
    kill: () => signal('SIGKILL'),
    start,
  };
}

/** Three nats-servers routed into one cluster. */
export async function startNatsCluster(size = 3, options: Omit<NatsServerOptions, 'routes' | 'clusterPort'> = {}): Promise<NatsServer[]> {
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  return Promise.all(
    clusterPorts.map((clusterPort, index) =>
      startNatsServer({ ...options, name: `n${index + 1}`, clusterPort, routes: clusterPorts.filter((other) => other !== clusterPort) }),
    ),
  );
}
