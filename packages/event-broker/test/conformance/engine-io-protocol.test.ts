// The official Engine.IO v4 conformance suite (socketio/engine.io-protocol's
// test-suite/, vendored unchanged in ./engine.io-protocol/) against a real
// broker: our Engine.IO layer behind a surface registered through
// `BrokerOptions.surfaces`, configured as the suite's reference server
// (echo, pingInterval 300, pingTimeout 200, maxPayload 1e6, CORS *). The
// suite runs in its own mocha process; only its URL line is rewritten.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, within } from '../helpers.js';
import { engineEchoSurface } from './engine-echo-surface.js';

const test = suite('engine.io-protocol conformance suite');

const vendored = fileURLToPath(new URL('./engine.io-protocol/', import.meta.url));
const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha');

interface MochaReport {
  readonly stats: { readonly tests: number; readonly passes: number; readonly failures: number; readonly pending: number };
  readonly failures: ReadonlyArray<{ readonly fullTitle: string; readonly err: { readonly message?: string } }>;
  readonly pending: ReadonlyArray<{ readonly fullTitle: string }>;
}

/** Runs the suite against `port` in a mocha process; resolves with its JSON report. */
async function runSuite(port: number): Promise<MochaReport> {
  // Inside the vendored folder, so the copy is an ES module (its package.json) and resolves the package's devDependencies.
  const scratch = mkdtempSync(join(vendored, '.run-'));
  try {
    const source = readFileSync(join(vendored, 'test-suite.js'), 'utf8');
    const urlLine = 'const URL = "http://localhost:3000";';
    assert.ok(source.includes(urlLine), 'the vendored suite names its server on one line');
    writeFileSync(join(scratch, 'test-suite.js'), source.replace(urlLine, `const URL = "http://127.0.0.1:${port}";`));
    copyFileSync(join(vendored, 'node-imports.js'), join(scratch, 'node-imports.js'));
    const child = spawn(process.execPath, [mocha, '--reporter', 'json', '--timeout', '5000', 'test-suite.js'], { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await within(exited, 30_000, 'the suite ran');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    try {
      return JSON.parse(stdout) as MochaReport;
    } catch {
      throw new Error(`mocha printed no JSON report:\n${stdout.slice(0, 2000)}\n${stderr.slice(0, 2000)}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

test('all 24 tests of the official suite pass against the broker’s Engine.IO layer', async () => {
  await using server = await startBroker({
    surfaces: [engineEchoSurface({ pingInterval: 300, pingTimeout: 200, maxPayload: 1_000_000, cors: { origin: '*' } })],
  });
  const report = await runSuite(server.port);
  const failed = report.failures.map((failure) => `${failure.fullTitle}: ${failure.err.message ?? ''}`);
  assert.equal(failed, [], 'no test fails');
  assert.equal(report.pending, [], 'none is skipped');
  assert.is(report.stats.passes, 24);
  assert.is(report.stats.tests, 24);
});

test.run();
