// The test runner itself: its closing line must be trustworthy in every case
// (all skipped, a failure beside a skip, a crash, no test, a bad exit).
// Runs the real runner on fixture files that really pass, skip, fail and crash.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const runner = fileURLToPath(new URL('../test.mjs', import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}.fixture.ts`, import.meta.url));
const test = suite('test runner');

function runRunner(...names: string[]): Promise<{ code: number; stdout: string }> {
  return runRunnerWith({}, ...names);
}

function runRunnerWith(env: Record<string, string>, ...names: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [runner, ...names.map(fixture)], { timeout: 60_000, env: { ...process.env, ...env } }, (error, stdout) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout });
    });
  });
}

const closingLine = (stdout: string): string => stdout.trimEnd().split('\n').at(-1)!;

test('a file whose tests are all skipped is skipped, not failed', async () => {
  const { code, stdout } = await runRunner('all-skipped', 'passing');
  assert.is(closingLine(stdout), '1 passed, 0 failed, 2 skipped');
  assert.is(code, 0);
  assert.not.match(stdout, /Failed:/);
});

test('a failure beside a skipped test is counted', async () => {
  const { code, stdout } = await runRunner('mixed');
  assert.is(closingLine(stdout), '2 passed, 1 failed, 1 skipped');
  assert.is(code, 1);
  assert.match(stdout, /mixed\.fixture\.ts: 1 failed/);
});

test('a crash, a file with no test and a non-zero exit after passing each count as one failure', async () => {
  const { code, stdout } = await runRunner('crash', 'no-test', 'exit-after-pass');
  assert.is(closingLine(stdout), '1 passed, 3 failed, 0 skipped');
  assert.is(code, 1);
  assert.match(stdout, /crash\.fixture\.ts \(no summary, exit 3\)/);
  assert.match(stdout, /no-test\.fixture\.ts \(ran no test\)/);
  assert.match(stdout, /exit-after-pass\.fixture\.ts \(exit 4 after passing tests\)/);
});

test("a suite's before hook that throws fails its tests with the cause printed (uvu alone printed none: patches/uvu@0.5.6.patch)", async () => {
  const { code, stdout } = await runRunner('before-hook-throws');
  assert.is(closingLine(stdout), '0 passed, 2 failed, 0 skipped');
  assert.is(code, 1);
  assert.match(stdout, /\(before hook\)/);
  assert.match(stdout, /the cluster did not start: cause printed/);
});

test('only skipped tests is not a pass: the run exits non-zero when nothing passed', async () => {
  const { code, stdout } = await runRunner('all-skipped');
  assert.is(closingLine(stdout), '0 passed, 0 failed, 2 skipped');
  assert.is(code, 1);
});

test('TEST_JOBS=2 runs two files at a time and prints each file whole', async () => {
  // meets-a and meets-b each pass only while the other runs.
  const dir = mkdtempSync(join(tmpdir(), 'runner-jobs-'));
  try {
    const { code, stdout } = await runRunnerWith({ TEST_JOBS: '2', RENDEZVOUS_DIR: dir }, 'meets-a', 'meets-b', 'passing');
    assert.is(closingLine(stdout), '3 passed, 0 failed, 0 skipped', stdout);
    assert.is(code, 0);
    const blocks = stdout.split('\n▶ ').slice(1);
    assert.equal(blocks.map((block) => /^\S+?([\w-]+)\.fixture\.ts\n/.exec(block)?.[1]).sort(), ['meets-a', 'meets-b', 'passing']);
    for (const block of blocks) assert.is(block.match(/Total:/g)?.length, 1, `one file's output per block:\n${block}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
