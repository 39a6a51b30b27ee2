// Smoke test: the order flow npm start runs, end to end, plus its audit log.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const test = suite('example: order flow');

test('three orders reach every service; the large one goes to the fraud desk; all is audited', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'order-flow-'));
  const audit = join(dir, 'audit.jsonl');
  try {
    const { stdout } = await run(
      process.execPath,
      ['--conditions=@eventwire/source', '--import', 'tsx', main, '--port', '0', '--orders', '3', '--interval-ms', '0', '--audit-log', audit],
      { timeout: 60_000 },
    );
    for (const id of ['o1', 'o2', 'o3']) {
      assert.match(stdout, new RegExp(`inventory\\s+reserved sku-\\d for ${id}`));
      assert.match(stdout, new RegExp(`email\\s+order confirmation to customer\\d@example.com \\(${id}\\)`)); // the raw Synap client
      assert.match(stdout, new RegExp(`email\\s+receipt for ${id}`));
    }
    assert.match(stdout, /fraud-desk\s+review o3: total ≥ 1000 \(caused by event \w{26}\)/);
    assert.match(stdout, /analytics\s+events\.order\.created=3 events\.payment\.received=3 events\.order\.paid=3 revenue=1559\.97/);
    assert.match(stdout, /fraud-desk\s+reviews: o3\n/);
    assert.match(stdout, /open synap from .* topics=events\.order\.\*/);
    const lines = readFileSync(audit, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const topics = lines.map((line) => line.event.topic).sort();
    assert.equal(topics.filter((t: string) => t === 'fraud.review').length, 1);
    assert.is(lines.length, 13, topics.join(',')); // 3 × (created, payment, paid, reserved) + 1 review
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
