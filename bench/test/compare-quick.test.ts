// `npm run bench -- --quick` must leave the committed report alone: a quick
// (or filtered) comparison writes its figures to a scratch folder and says so.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const runScript = fileURLToPath(new URL('../compare/run.ts', import.meta.url));
const committed = ['../RESULTS.md', '../results/compare.json', '../results/compare.svg'].map((path) =>
  fileURLToPath(new URL(path, import.meta.url)),
);
const digest = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

test('a quick comparison writes to scratch and leaves bench/RESULTS.md and bench/results/ unchanged', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'bench-quick-'));
  const before = committed.map(digest);
  try {
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', runScript, '--quick', '--systems', 'eventwire'],
        { timeout: 120_000, env: { ...process.env, BENCH_SCRATCH_DIR: scratch } },
        (error, out) => (error ? reject(error) : resolve(out)),
      );
    });
    assert.match(stdout, /bench\/RESULTS\.md is unchanged/);
    assert.equal(committed.map(digest), before);
    for (const name of ['RESULTS.md', 'compare.json', 'compare.svg']) assert.ok(existsSync(join(scratch, name)), name);
    assert.match(readFileSync(join(scratch, 'RESULTS.md'), 'utf8'), /fan-out 1→100/);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test.run();
