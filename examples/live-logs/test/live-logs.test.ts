// Smoke test: a service's logs arrive live in eventwire-tail, every level.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runAndInterrupt } from '../../../scripts/testing/interrupt.js';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const test = suite('example: live logs');

test('three rounds of a payments service, seen live by the tail process', async () => {
  const { stdout, stderr } = await run(
    process.execPath,
    ['--conditions=@eventwire/source', '--import', 'tsx', main, '--port', '0', '--rounds', '3', '--interval-ms', '0'],
    { timeout: 60_000 },
  );
  assert.match(stdout, /DEBUG payments: validating card for order o1 \{"requestId":"req-1","orderId":"o1"\}/);
  assert.match(stdout, /INFO  payments: charged 39\.98 EUR for o2 .*"token":"\[redacted\]"/);
  assert.not.match(stdout, /\u001b\[/, 'no colour codes when the output is not a terminal');
  assert.match(stdout, /WARN  payments: gateway slow: 802 ms/);
  assert.match(stdout, /ERROR payments: refund failed \{"requestId":"req-3"\}\n {2}Error: gateway timeout/);
  assert.match(stdout, /caused by: Error: socket hang up/);
  assert.match(stdout, /INFO  payments: round 3 done\n/); // console capture, ANSI stripped
  assert.not.match(stdout, /tok_secret/);
  assert.match(stderr, /live-logs: 11 log events published, 11 delivered/);
});

test('amounts are shown as money (19.99 × 10 is 199.90, not 199.89999999999998)', async () => {
  const { stdout } = await run(
    process.execPath,
    ['--conditions=@eventwire/source', '--import', 'tsx', main, '--port', '0', '--rounds', '10', '--interval-ms', '0'],
    { timeout: 60_000 },
  );
  assert.match(stdout, /INFO  payments: charged 199\.90 EUR for o10 /);
});

// Ctrl-C reaches the viewer too (one process group), which stops by itself.
for (const [moment, when] of [
  ['during start-up', (output: string) => output.length > 0],
  ['while the service logs', (output: string) => output.includes('round 2 done')],
] as const) {
  test(`Ctrl-C ${moment} stops the demo and its viewer cleanly`, async () => {
    const run = await runAndInterrupt(main, ['--port', '0', '--interval-ms', '5'], { when, repeat: 1 });
    assert.is(run.code, 0, `exit ${run.code ?? run.signal}\n${run.stderr}`);
    assert.match(run.stderr, /live-logs: \d+ log events published, \d+ delivered\n$/);
    assert.not.match(run.stderr, /Error|at .*\.ts:\d+/);
  });
}

test.run();
