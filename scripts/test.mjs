#!/usr/bin/env node
// Runs every check of the workspace and prints one closing line
// "N passed, N failed, N skipped". Exit code 1 when anything failed.
//
// Steps, in order (each step counts as passed/failed like a test):
//   1. type tests: `tsc --noEmit` per package, example and bench/ (covers test/*.test-d.ts)
//   2. builds: `tsc -p tsconfig.build.json` per package (dist/ + .d.ts), and
//      scripts/bundle-browser.mjs where a package has one (the browser file)
//   3. every `test/**/*.test.ts` of packages/* and examples/*, each file in its
//      own Node process (isolation; a hung file is killed at its deadline),
//      run from source through the "@eventwire/source" export condition.
//
// Usage: node scripts/test.mjs [filter]       filter: substring of a test file path
//        node scripts/test.mjs FILE.ts…       exactly these files (no typecheck/build)
//
// TEST_JOBS=N runs N test files at a time (each still its own process group
// with its own deadline; tests use OS-chosen ports and throwaway servers in
// temporary directories) and prints each file's output whole when it ends.
// The default is 1, one file at a time with its output streamed: two at a
// time has not yet been shown green on the shared 2-core CI machine.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { summariseFile } from './test-summary.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const explicitFiles = args.length > 0 && args.every((arg) => arg.endsWith('.ts') && existsSync(arg)) ? args.map((arg) => resolve(arg)) : undefined;
const filter = explicitFiles ? undefined : args[0];
const FILE_DEADLINE_MS = 5 * 60_000;
const jobs = Math.max(1, Number.parseInt(process.env.TEST_JOBS ?? '1', 10) || 1);
const tsc = join(root, 'node_modules', '.bin', 'tsc');

const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];

function workspaceDirs() {
  const dirs = [];
  for (const group of ['packages', 'examples']) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base).sort()) {
      const dir = join(base, name);
      if (existsSync(join(dir, 'package.json'))) dirs.push(dir);
    }
  }
  // bench/ has no tests, but its code is typechecked like the rest.
  if (existsSync(join(root, 'bench', 'package.json'))) dirs.push(join(root, 'bench'));
  return dirs;
}

/** Workspace dirs ordered so every package comes after the workspace packages it depends on. */
function dependencyOrder(dirs) {
  const byName = new Map();
  for (const dir of dirs) byName.set(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name, dir);
  const ordered = [];
  const visiting = new Set();
  const visit = (dir) => {
    if (ordered.includes(dir)) return;
    if (visiting.has(dir)) throw new Error(`dependency cycle through ${dir}`);
    visiting.add(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const deps = { ...manifest.dependencies, ...manifest.devDependencies, ...manifest.peerDependencies };
    for (const name of Object.keys(deps)) if (byName.has(name)) visit(byName.get(name));
    visiting.delete(dir);
    ordered.push(dir);
  };
  for (const dir of dirs) visit(dir);
  return ordered;
}

function findTests(dir) {
  const out = [];
  const walk = (current) => {
    for (const name of readdirSync(current).sort()) {
      if (name === 'node_modules' || name === 'dist') continue;
      const path = join(current, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.test.ts')) out.push(path);
    }
  };
  const testDir = join(dir, 'test');
  if (existsSync(testDir)) walk(testDir);
  return out;
}

/** Runs a command in its own process group; `stream: false` keeps its output for the caller to print. */
function run(command, args, options, { stream = true } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (stream) process.stdout.write(chunk);
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
      if (stream) process.stderr.write(chunk);
    });
    let deadline = false;
    const timer = setTimeout(() => {
      deadline = true;
      output += `\n[runner] killed after ${FILE_DEADLINE_MS} ms\n`;
      process.stdout.write(`\n[runner] ${command} ${args.at(-1)} hung: killing it after ${FILE_DEADLINE_MS} ms\n`);
      // Kill the whole process group: a test's own children (servers) too.
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, FILE_DEADLINE_MS);
    const started = Date.now();
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (signal) {
        // Say who died and when, so a hang or a crash is diagnosable from CI's log.
        output += `\n[runner] pid ${child.pid} killed by ${signal} after ${Date.now() - started} ms\n`;
        if (stream) process.stdout.write(`\n[runner] pid ${child.pid} killed by ${signal} after ${Date.now() - started} ms\n`);
      }
      resolve({ code: code ?? 1, signal, output, deadline });
    });
  });
}

function record(name, ok) {
  if (ok) totals.passed++;
  else {
    totals.failed++;
    failures.push(name);
  }
}

async function step(name, command, args, cwd) {
  process.stdout.write(`\n▶ ${name}\n`);
  const { code } = await run(command, args, { cwd, env: process.env });
  record(name, code === 0);
}

async function testFile(file) {
  const name = relative(root, file);
  // One file at a time: its output as it comes. Several: each file's output whole, so none interleave.
  const stream = jobs === 1;
  if (stream) process.stdout.write(`\n▶ ${name}\n`);
  const { code, signal, output, deadline } = await run(
    process.execPath,
    ['--conditions=@eventwire/source', '--import', 'tsx', file],
    { cwd: root, env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } },
    { stream },
  );
  if (!stream) process.stdout.write(`\n▶ ${name}\n${output}`);
  const verdict = summariseFile({ output, code, signal, deadline, deadlineMs: FILE_DEADLINE_MS });
  totals.passed += verdict.passed;
  totals.failed += verdict.failed;
  totals.skipped += verdict.skipped;
  for (const problem of verdict.problems) failures.push(`${name}${problem}`);
}

// Dependency order: a package's build needs the dist/ of what it imports.
const dirs = dependencyOrder(workspaceDirs());
if (!filter && !explicitFiles) {
  // scripts/ (test helpers and the runner's own tests) is typechecked too.
  for (const dir of [...dirs, join(root, 'scripts')]) {
    if (existsSync(join(dir, 'tsconfig.json'))) {
      await step(`typecheck ${relative(root, dir)}`, tsc, ['-p', 'tsconfig.json', '--noEmit'], dir);
    }
  }
  for (const dir of dirs) {
    if (existsSync(join(dir, 'tsconfig.build.json'))) {
      await step(`build ${relative(root, dir)}`, tsc, ['-p', 'tsconfig.build.json'], dir);
    }
    // The one-file browser build (event-channel's dist/browser/), as its `build` script makes it.
    if (existsSync(join(dir, 'scripts', 'bundle-browser.mjs'))) {
      await step(`bundle ${relative(root, dir)} for browsers`, process.execPath, [join('scripts', 'bundle-browser.mjs')], dir);
    }
  }
}
// The runner's own tests live in scripts/test.
const testFiles = explicitFiles ?? [...dirs.flatMap(findTests), ...findTests(join(root, 'scripts'))];
const queue = testFiles.filter((file) => !filter || file.includes(filter));
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    while (queue.length > 0) await testFile(queue.shift());
  }),
);

if (failures.length) {
  process.stdout.write(`\nFailed:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`);
}
process.stdout.write(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exit(totals.failed > 0 || totals.passed === 0 ? 1 : 0);
