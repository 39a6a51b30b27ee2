// The peer comparison is a deliverable of its own (`pnpm bench --quick` must
// work from a clean clone), so the test suite runs its harness end to end at
// a tiny size: real servers, real client processes, every adapter, every
// scenario. Nothing is measured or written; every run must deliver everything.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hasNatsServer } from '../compare/systems.js';

const runScript = fileURLToPath(new URL('../compare/run.ts', import.meta.url));

test('every system runs every scenario of the comparison and delivers everything', async () => {
  // nats-server only when installed: the harness would otherwise install it with apt.
  const systems = ['ws', 'eventwire', 'eventwire-synap', 'socketio', 'eventwire-socketio', 'mqtt', ...(hasNatsServer() ? ['nats'] : [])];
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', runScript, '--smoke', '--systems', systems.join(',')],
      { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      (error, out, err) => {
        if (error && !('code' in error)) process.stderr.write(String(err));
        resolve({ code: child.exitCode, stdout: out });
      },
    );
  });
  const line = stdout.split('\n').find((text) => text.startsWith('SMOKE '));
  assert.ok(line, `no summary line; output:\n${stdout}`);
  const summary = JSON.parse(line.slice('SMOKE '.length)) as {
    scenarios: Array<{ scenario: string; systems: string[] }>;
    incomplete: string[];
    fixedLoad: Array<{ scenario: string; system: string; windows: number; serverCpu: number; loopDelay: boolean }>;
  };
  assert.equal(summary.incomplete, [], 'runs that lost deliveries');
  assert.is(code, 0);
  assert.equal(
    summary.scenarios.map((entry) => entry.scenario),
    ['fan-out 1→10', 'fan-in 10→1', 'wildcard 100 patterns', 'connections 40 idle'],
  );
  for (const entry of summary.scenarios) {
    // The Synap surface takes part in fan-out and fan-in only.
    const expected = entry.scenario.startsWith('fan-') ? systems : systems.filter((key) => key !== 'eventwire-synap');
    assert.equal([...entry.systems].sort(), [...expected].sort(), entry.scenario);
  }
  // The fixed-load phase reports per-second p99s, and what the server went through: its CPU for every
  // system, its loop delay and GC pauses for the Node.js servers (nats-server is the one Go process).
  assert.ok(summary.fixedLoad.length > 0);
  for (const row of summary.fixedLoad) {
    const where = `${row.scenario} · ${row.system}`;
    assert.ok(row.windows >= 1, where);
    assert.ok(Number.isFinite(row.serverCpu) && row.serverCpu >= 0, `${where}: server CPU read`);
    // /proc counts CPU in 10 ms ticks: over the smoke's tiny fixed load nats-server (Go) may not spend one
    // (it read 0 in one CI run); the Node.js servers always do.
    if (row.system !== 'nats') assert.ok(row.serverCpu > 0, `${where}: server CPU above zero`);
    assert.is(row.loopDelay, row.system !== 'nats', where);
  }
});

test.run();
