// An example program running as its own process for a browser test: what it
// printed so far and a clean stop (`await using` stops it too). Wait on its
// output with waits.ts' `until`.
import { spawn } from 'node:child_process';

export interface RunningExample extends AsyncDisposable {
  /** stdout and stderr so far. */
  output(): string;
  /** Sends SIGINT (Ctrl-C) and waits for the exit. */
  stop(): Promise<void>;
  /** `await using example = startExample(…)` stops it on scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts `entry` from source (`--import tsx`) with `args`. */
export function startExample(entry: string, args: readonly string[]): RunningExample {
  const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', entry, ...args]);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
  };
  return { output: () => out, stop, [Symbol.asyncDispose]: stop };
}
