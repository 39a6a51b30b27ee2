// Throwaway redis-server processes for tests and benchmarks: each on a free
// port, nothing persisted (no RDB, no AOF), killed by its owner. Missing
// locally: tests skip with a loud reason; under CI=true they fail.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryAvailable, freePort, startServerProcess, type ServerProcess } from './server-process.js';

const binary = process.env['REDIS_SERVER'] ?? 'redis-server';

/** True when redis-server can run here; logs why not, and throws under CI (where .ci/run installs it). */
export function redisServerAvailable(): boolean {
  return binaryAvailable(binary, ['--version'], 'Redis', 'apt-get install -y redis-server');
}

export interface RedisServer extends ServerProcess {
  readonly port: number;
  /** `redis://127.0.0.1:port` */
  readonly url: string;
}

export interface RedisServerOptions {
  /** Clients must AUTH with this (`--requirepass`); `url` does not carry it. */
  readonly password?: string;
}

/** Starts a redis-server on a free port; resolves once it accepts clients. */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'notice'];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const server = await startServerProcess({ binary, args, readyWhen: 'Ready to accept connections', scratch: dir });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return server.pid;
    },
    stop: () => server.stop(),
    kill: () => server.kill(),
    start: () => server.start(),
    [Symbol.asyncDispose]: () => server.stop(),
  };
}
