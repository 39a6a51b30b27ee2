// An example program running as its own process for a browser test: what it
// printed so far, a bounded wait on a condition, and a clean stop.
import { spawn } from 'node:child_process';

export interface RunningExample {
  /** stdout and stderr so far. */
  output(): string;
  /** Sends SIGINT (Ctrl-C) and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `entry` from source (`--import tsx`) with `args`. */
export function startExample(entry: string, args: readonly string[]): RunningExample {
  const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', entry, ...args]);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    output: () => out,
    async stop() {
      child.kill('SIGINT');
      await exited;
    },
  };
}

/**
 * Resolves once `condition()` holds (checked every 20 ms); fails with `what`
 * after `ms`. For page state and process output, which have no event to await.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
