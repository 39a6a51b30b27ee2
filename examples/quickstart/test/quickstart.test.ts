// Smoke test: the demo behind the README's start command runs to completion.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const start = fileURLToPath(new URL('../../../scripts/start.mjs', import.meta.url));
const test = suite('example: quickstart');

test('three orders flow through every service and the bad one is refused', async () => {
  const { stdout } = await run(
    process.execPath,
    ['--conditions=@eventwire/source', '--import', 'tsx', main, '--orders', '3', '--interval-ms', '0'],
    { timeout: 30_000 },
  );
  assert.match(stdout, /refused bad order: invalid_payload/);
  for (const id of ['o1', 'o2', 'o3']) {
    assert.match(stdout, new RegExp(`inventory\\s+reserved sku-\\d for ${id}`));
    assert.match(stdout, new RegExp(`payments\\s+charged [\\d.]+ for ${id}`));
    assert.match(stdout, new RegExp(`email\\s+receipt \\(order.paid ${id}\\)`));
  }
  assert.match(stdout, /seen: .*order\.created=3/);
  assert.match(stdout, /order\.paid=3/);
  assert.match(stdout, /payment\.received=3/);
  assert.not.match(stdout, /error /);
});

test('npm start: a broker process plus the services over ws://, stopped cleanly', async () => {
  const { stdout } = await run(process.execPath, [start, '--port', '0', '--orders', '3', '--interval-ms', '0'], {
    timeout: 60_000,
  });
  assert.match(stdout, /\[broker\] \S+ listening on ws:\/\/127\.0\.0\.1:\d+/);
  assert.match(stdout, /services up on ws:\/\//);
  assert.match(stdout, /refused bad order: invalid_payload/);
  for (const id of ['o1', 'o2', 'o3']) assert.match(stdout, new RegExp(`email\\s+receipt \\(order.paid ${id}\\)`));
  assert.match(stdout, /seen: .*order\.paid=3/);
  assert.match(stdout, /\[broker\] \S+ stopped/);
});

test.run();
