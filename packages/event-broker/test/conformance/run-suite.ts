// Runs one of the official conformance suites (vendored unchanged in a
// folder here) in its own mocha process against a broker on `port`: a copy
// of its test-suite.js with only the URL line rewritten, in a scratch folder
// inside the vendored one (so it is an ES module resolving the package's
// devDependencies).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { within } from '../helpers.js';

const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha');

export interface MochaReport {
  readonly stats: { readonly tests: number; readonly passes: number; readonly failures: number; readonly pending: number };
  readonly failures: ReadonlyArray<{ readonly fullTitle: string; readonly err: { readonly message?: string } }>;
  readonly pending: ReadonlyArray<{ readonly fullTitle: string }>;
}

/** Runs the suite against `port` in a mocha process; resolves with its JSON report. */
export async function runSuite(folder: string, port: number): Promise<MochaReport> {
  const vendored = fileURLToPath(new URL(`./${folder}/`, import.meta.url));
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

