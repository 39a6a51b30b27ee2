// Throwaway nats-server processes for tests, benchmarks and the cluster
// example: each on free ports, with its own store directory, killed by its
// owner (and with the owning process: a test runner's kill takes them too).
// Missing locally: tests skip with a loud reason; under CI=true they fail.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryAvailable, freePort, startServerProcess } from './server-process.js';

export { freePort } from './server-process.js';

const binary = process.env['NATS_SERVER'] ?? 'nats-server';

/** True when nats-server can run here; logs why not, and throws under CI (where .ci/run installs it). */
export function natsServerAvailable(): boolean {
  return binaryAvailable(binary, ['--version'], 'NATS', 'apt-get install -y nats-server');
}

export interface NatsServer extends AsyncDisposable {
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
  /** `await using server = await startNatsServer()` stops it on scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface NatsServerOptions {
  /** Route to these cluster ports (a cluster of several servers). */
  readonly routes?: readonly number[];
  readonly clusterPort?: number;
  /** JetStream on, with its store in a temporary directory. */
  readonly jetstream?: boolean;
  readonly name?: string;
  /** Clients must authenticate as this user (`--user`/`--pass`); `url` does not carry it. */
  readonly auth?: { readonly user: string; readonly password: string };
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
  if (options.auth) args.push('--user', options.auth.user, '--pass', options.auth.password);
  const server = await startServerProcess({ binary, args, readyWhen: 'Server is ready', ...(store && { scratch: store }) });
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    clusterPort,
    get pid() {
      return server.pid;
    },
    stop: () => server.stop(),
    kill: () => server.kill(),
    start: () => server.start(),
    [Symbol.asyncDispose]: () => server.stop(),
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
