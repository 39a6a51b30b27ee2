// Debian's python-socketio as the tests drive it: `AsyncRedisManager(url,
// write_only=True)` unchanged under /usr/bin/python3, one long-lived process
// whose stdin lines are calls on `mgr`, each answered once published.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as assert from 'uvu/assert';
import { within } from './helpers.js';

const PYTHON = '/usr/bin/python3';

/** Debian's python3-socketio under Debian's python (the pyenv python3 on PATH does not see it); skips loudly, fails under CI (.ci/run installs it). */
export function pythonSocketioAvailable(): boolean {
  const probe = spawnSync(PYTHON, ['-c', 'import socketio, redis; print(socketio.__version__ if hasattr(socketio, "__version__") else "ok")'], { encoding: 'utf8' });
  if (probe.status === 0) return true;
  const why = `python-socketio is not importable by ${PYTHON} (apt-get install -y python3-socketio python3-redis): ${probe.error?.message ?? probe.stderr.trim().split('\n').at(-1)}`;
  if (process.env['CI'] === 'true') throw new Error(why);
  console.warn(`SKIPPED socketio redis bridge: ${why}`);
  return false;
}

// A long-lived write-only manager: each stdin line is a call on `mgr` (`mgr.emit(...)`), answered `ok` once it was published.
const PYTHON_DRIVER = `
import asyncio, sys, socketio
async def main():
    mgr = socketio.AsyncRedisManager(sys.argv[1], write_only=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        try:
            await eval(line, {'mgr': mgr})
            print('ok', flush=True)
        except Exception as error:
            print('error ' + repr(error), flush=True)
asyncio.run(main())
`;

export class PythonManager {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #answers: Array<(line: string) => void> = [];
  constructor(url: string) {
    this.#child = spawn(PYTHON, ['-c', PYTHON_DRIVER, `${url}/0`]);
    createInterface({ input: this.#child.stdout }).on('line', (line) => this.#answers.shift()?.(line));
  }
  /** Runs `call` (Python source on `mgr`) and resolves once it was published. */
  async run(call: string): Promise<void> {
    const answer = new Promise<string>((resolve) => this.#answers.push(resolve));
    this.#child.stdin.write(`${call}\n`);
    const line = await within(answer, 10_000, `python-socketio to run ${call}`);
    assert.is(line, 'ok', call);
  }
  stop(): void {
    this.#child.kill('SIGKILL');
  }
}
