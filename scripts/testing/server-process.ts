// One throwaway server process for tests and benchmarks (nats-server,
// redis-server, postgres): started and awaited until its log says it is
// ready, stopped with SIGTERM (SIGKILL after 3 s) or killed, started again
// with the same arguments, and killed with its owner — a test runner's kill
// must not leave servers behind. `await using` stops it on scope exit.
//
// Extending: a new kind of server is a file beside nats-server.ts and
// redis-server.ts: its `…Available()` (skip locally with the reason, throw
// under CI), and a `start…()` that picks free ports, builds the arguments and
// returns this handle (its own fields added, `[Symbol.asyncDispose]` kept).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';

export interface ServerProcess extends AsyncDisposable {
  /** The running process's id (for CPU and memory readings in benchmarks). */
  readonly pid: number | undefined;
  /** Stops it (SIGTERM or the configured signal, then SIGKILL after 3 s). */
  stop(): Promise<void>;
  /** kill -9. */
  kill(): Promise<void>;
  /** Starts it again with the same arguments (after stop or kill). */
  start(): Promise<void>;
  /** `await using server = await start…()` stops it on scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface ServerProcessOptions {
  readonly binary: string;
  readonly args: readonly string[];
  /** The log line (stdout or stderr) that says it accepts clients. */
  readonly readyWhen: string;
  /** Removed when the owning process exits. */
  readonly scratch?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** What `stop()` sends first. @default 'SIGTERM' */
  readonly stopSignal?: NodeJS.Signals;
  /** Run as this user (postgres refuses to run as root). */
  readonly user?: { readonly uid: number; readonly gid: number };
}

/** True when `binary` runs here; logs why not, and throws under CI (where .ci/run installs it). */
export function binaryAvailable(binary: string, versionArgs: readonly string[], what: string, install: string): boolean {
  const found = spawnSync(binary, [...versionArgs], { encoding: 'utf8' });
  if (found.status === 0) return true;
  if (process.env['CI'] === 'true') throw new Error(`${binary} is missing; .ci/run installs it (${install})`);
  console.log(`skipping ${what} tests: ${binary} not installed (${install})`);
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

/** Starts the server; resolves once its log says it is ready (10 s at most). */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const start = async (): Promise<void> => {
    const spawned = spawn(options.binary, [...options.args], { stdio: ['ignore', 'pipe', 'pipe'], ...(options.env && { env: options.env }), ...options.user });
    child = spawned;
    exited = new Promise((resolve) => spawned.once('exit', () => resolve()));
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${options.binary} did not start within 10 s:\n${output}`)), 10_000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes(options.readyWhen)) {
          clearTimeout(timer);
          resolve();
        }
      };
      spawned.stdout!.on('data', onData);
      spawned.stderr!.on('data', onData);
      spawned.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${options.binary} exited (${code}) before it was ready:\n${output}`));
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
  process.once('exit', () => {
    child?.kill('SIGKILL');
    if (options.scratch) rmSync(options.scratch, { recursive: true, force: true });
  });
  return {
    get pid() {
      return child?.pid;
    },
    stop: () => signal(options.stopSignal ?? 'SIGTERM'),
    kill: () => signal('SIGKILL'),
    start,
    [Symbol.asyncDispose]: () => signal(options.stopSignal ?? 'SIGTERM'),
  };
}
