// Ctrl-C as a terminal sends it: SIGINT to the whole process group of a
// program (its own children too), at a moment chosen by what it printed.
// Used by every example's and CLI's "stops cleanly at any moment" test.
import { spawn } from 'node:child_process';

export interface InterruptedRun {
  /** Exit code, or null when a signal ended the process. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface InterruptOptions {
  /** Sends SIGINT the first time this holds for everything printed so far (stdout + stderr). */
  readonly when: (output: string) => boolean;
  /** Extra SIGINTs sent right after the first (an impatient user). @default 0 */
  readonly repeat?: number;
  /** Upper bound for the whole run; the process group is killed past it. @default 60_000 */
  readonly deadlineMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs a TypeScript entry point from source (`--import tsx`), interrupts it, and waits for its exit. */
export function runAndInterrupt(entry: string, args: readonly string[], options: InterruptOptions): Promise<InterruptedRun> {
  const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', entry, ...args], {
    // Its own process group, so a group-wide SIGINT reaches its children as a terminal's would.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...options.env },
  });
  let stdout = '';
  let stderr = '';
  let interrupted = false;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  const check = (): void => {
    if (interrupted || !options.when(stdout + stderr)) return;
    interrupted = true;
    signalGroup('SIGINT');
    for (let i = 0; i < (options.repeat ?? 0); i++) signalGroup('SIGINT');
  };
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    check();
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    check();
  });
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      signalGroup('SIGKILL');
      reject(new Error(`${entry} did not exit within ${options.deadlineMs ?? 60_000} ms (interrupted: ${interrupted})\n${stdout}\n${stderr}`));
    }, options.deadlineMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      // Whatever the program left behind in its group goes too.
      signalGroup('SIGKILL');
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * Ctrl-C once, then three times in a row, once `ready` is printed: each run
 * exits 0 with nothing on stderr and `stopped` as its last line. What every
 * long-running example promises.
 */
export async function assertStopsCleanly(entry: string, args: readonly string[], ready: string, stopped: RegExp): Promise<void> {
  for (const repeat of [0, 2]) {
    const run = await runAndInterrupt(entry, args, { when: (out) => out.includes(ready), repeat });
    if (run.code !== 0) throw new Error(`exit ${run.code ?? run.signal} after ${repeat + 1} Ctrl-C\n${run.stderr}`);
    if (run.stderr !== '') throw new Error(`stderr after ${repeat + 1} Ctrl-C: ${run.stderr}`);
    if (!stopped.test(run.stdout)) throw new Error(`the output does not end with ${stopped}:\n${run.stdout.slice(-500)}`);
  }
}

/** How many times `pattern` (a global regexp) occurs in `text`. */
export function occurrences(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}
