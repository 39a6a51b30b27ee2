// Smoke test: the order flow npm start runs, end to end, plus its audit log.
import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { occurrences, runAndInterrupt } from '../../../scripts/testing/interrupt.js';

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

test('npm start -- --port N reaches the demo; a busy port is one line, exit 1, no stack', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as AddressInfo).port;
  // What `npm start -- --port N` runs after installing: the start script's last command, the arguments appended as npm appends them.
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['start']!;
  const demo = start.split('&&').at(-1)!.trim();
  try {
    const failed = await run('sh', ['-c', `${demo} --port ${port}`], { cwd: root, timeout: 60_000 }).then(
      (): never => assert.unreachable('the demo started on a busy port') as never,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    assert.is(failed.code, 1, failed.stderr);
    assert.is(failed.stderr, `order-flow: port ${port} is already in use; pass --port <another port> (0 picks a free one)\n`);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test('--help prints the usage (exit 0); a mistyped option or a bad number is one line and the usage, exit 2, no stack', async () => {
  const demo = (...args: string[]) =>
    run(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', main, ...args], { timeout: 60_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
  const help = await demo('--help');
  assert.is(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: npm start -- \[--port 15500\]/);
  for (const [args, first] of [
    [['--bogus'], "order-flow: Unknown option '--bogus'"],
    [['--orders', 'three'], 'order-flow: --orders takes a whole number, got "three"'],
    [['stray'], 'order-flow: '],
  ] as const) {
    const failed = await demo(...args);
    assert.is(failed.code, 2, `${args.join(' ')}: ${failed.stderr}`);
    assert.ok(failed.stderr.startsWith(first), failed.stderr);
    assert.match(failed.stderr, /\nUsage: npm start -- /);
    assert.not.match(failed.stderr, /\n\s+at /); // no stack frame
    assert.is(failed.stdout, '');
  }
});

// Ctrl-C at any moment: during start-up, while an order is half placed (its
// first emit awaits the broker's ack, its payment is not sent yet), between
// orders, and pressed three times. Each run must exit 0 with its summary.
const moments: Array<[string, (output: string) => boolean, number]> = [
  ['during start-up', (output) => output.includes('listening on'), 0],
  ['while the first order is placed', (output) => output.includes('placing o1'), 0],
  ['while the fourth order is placed', (output) => output.includes('placing o4'), 0],
  ['between orders', (output) => /receipt for o2/.test(output), 0],
  ['several times in a row', (output) => occurrences(output, /placing o/g) >= 3, 2],
];
for (const [moment, when, repeat] of moments) {
  test(`Ctrl-C ${moment} stops cleanly: exit 0, no stack trace, the summary printed`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'order-flow-'));
    try {
      const run = await runAndInterrupt(main, ['--port', '0', '--interval-ms', '5', '--audit-log', join(dir, 'audit.jsonl')], {
        when,
        repeat,
      });
      assert.is(run.stderr, '', run.stderr);
      assert.is(run.code, 0, `exit ${run.code ?? run.signal}\n${run.stdout.slice(-2000)}`);
      assert.match(run.stdout, /analytics\s+\S*/);
      assert.match(run.stdout, /fraud-desk\s+reviews: /);
      // Every order started was completed: its payment arrived and it was paid.
      const placedCount = occurrences(run.stdout, /placing o\d+/g);
      const receipts = occurrences(run.stdout, /receipt for o\d+/g);
      assert.is(receipts, placedCount, 'every order started was paid');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
