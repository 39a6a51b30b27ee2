// Throwaway PostgreSQL servers for tests and benchmarks: a fresh cluster
// (initdb) in a temporary directory, on a free port with its socket in that
// directory, fsync off, trust authentication for one user, killed by its
// owner — never the system service. As root it runs as the `postgres` user
// (postgres refuses root). Missing locally: tests skip with a loud reason;
// under CI=true they fail.
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryAvailable, freePort, startServerProcess, type ServerProcess } from './server-process.js';

/** The newest installed PostgreSQL's bin directory (Debian keeps each version apart), or $PG_BIN. */
function binDirectory(): string {
  if (process.env['PG_BIN']) return process.env['PG_BIN'];
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : [];
  return versions[0] ? join(root, versions[0], 'bin') : '';
}

const bin = binDirectory();

/** True when PostgreSQL can run here; logs why not, and throws under CI (where .ci/run installs it). */
export function postgresAvailable(): boolean {
  return binaryAvailable(join(bin, 'postgres'), ['--version'], 'PostgreSQL', 'apt-get install -y postgresql');
}

export interface PostgresServer extends ServerProcess {
  readonly port: number;
  /** `postgres://eventwire@127.0.0.1:port/postgres` */
  readonly url: string;
}

/** Who runs the server: the `postgres` user when we are root, ourselves otherwise. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid === 0) throw new Error('running as root, and there is no postgres user to run PostgreSQL as');
  return { uid, gid };
}

export interface PostgresServerOptions {
  /** TCP clients must give this password (scram-sha-256) for `eventwire`; `url` does not carry it. */
  readonly password?: string;
}

/** Initialises a cluster and starts PostgreSQL on a free port; resolves once it accepts clients. */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-pg-'));
  const user = serverUser();
  if (user) chownSync(dir, user.uid, user.gid);
  const data = join(dir, 'data');
  // With a password: TCP connections must give it; the local socket stays trusted.
  const passwordFile = join(dir, 'password');
  if (options.password !== undefined) writeFileSync(passwordFile, `${options.password}\n`, { mode: 0o644 });
  const auth = options.password === undefined ? ['--auth=trust'] : ['--auth-local=trust', '--auth-host=scram-sha-256', `--pwfile=${passwordFile}`];
  const init = spawnSync(join(bin, 'initdb'), ['-D', data, '-U', 'eventwire', ...auth, '-E', 'UTF8', '--no-sync', '--no-instructions'], {
    encoding: 'utf8',
    ...user,
  });
  if (init.status !== 0) throw new Error(`initdb failed:\n${init.stdout}\n${init.stderr}`);
  const args = ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'];
  const server = await startServerProcess({
    binary: join(bin, 'postgres'),
    args,
    readyWhen: 'database system is ready to accept connections',
    // SIGTERM is PostgreSQL's "smart" shutdown, which waits for every client to leave; SIGINT ends their sessions and stops cleanly.
    stopSignal: 'SIGINT',
    scratch: dir,
    ...(user && { user }),
  });
  return {
    port,
    url: `postgres://eventwire@127.0.0.1:${port}/postgres`,
    get pid() {
      return server.pid;
    },
    stop: () => server.stop(),
    kill: () => server.kill(),
    start: () => server.start(),
    [Symbol.asyncDispose]: () => server.stop(),
  };
}
