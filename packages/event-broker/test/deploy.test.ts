// The deployment files, checked as far as this machine can (no container
// runtime): the Dockerfile's final stage — its ENV, WORKDIR, CMD and
// HEALTHCHECK, parsed from the file — run as a plain process over the package
// compiled as the build stage compiles it; the compose file's brokers read by
// the broker's own settings parser; the systemd unit through
// `systemd-analyze verify`. docs/DEPLOY.md says what is and is not checked.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readCommandLine } from '../src/command-line.js';
import { freePort } from '../../../scripts/testing/server-process.js';
import { waitForOutput, within } from './helpers.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const brokerPackage = join(root, 'packages/event-broker');
const test = suite('deployment files');

interface Stage {
  readonly env: Record<string, string>;
  readonly workdir: string;
  readonly cmd: readonly string[];
  readonly healthcheck: readonly string[];
}

/** The Dockerfile's last stage: what `docker run` runs. Continuation lines joined, comments dropped. */
function finalStage(text: string): Stage {
  const lines = text
    .replace(/\\\n(\s*#[^\n]*\n)*/g, ' ')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  const last = lines.length - 1 - [...lines].reverse().findIndex((line) => /^FROM\s/i.test(line));
  const env: Record<string, string> = {};
  let workdir = '/';
  let cmd: string[] = [];
  let healthcheck: string[] = [];
  for (const line of lines.slice(last + 1)) {
    const [instruction, rest = ''] = line.trim().split(/\s+(.*)/s) as [string, string?];
    if (instruction === 'ENV') for (const [, key, value] of rest.matchAll(/(\w+)=(\S+)/g)) env[key!] = value!;
    if (instruction === 'WORKDIR') workdir = rest.trim();
    if (instruction === 'CMD') cmd = JSON.parse(rest) as string[];
    if (instruction === 'HEALTHCHECK') healthcheck = JSON.parse(rest.slice(rest.indexOf('CMD') + 3)) as string[];
  }
  return { env, workdir, cmd, healthcheck };
}

const dockerfile = finalStage(readFileSync(join(root, 'deploy/Dockerfile'), 'utf8'));

test('the Dockerfile declares a non-root runtime, the CMD, the environment and a health check on /readyz', () => {
  const text = readFileSync(join(root, 'deploy/Dockerfile'), 'utf8');
  assert.ok((text.match(/^FROM /gm) ?? []).length >= 2, 'multi-stage');
  assert.match(text, /^USER node$/m);
  assert.equal(dockerfile.cmd, ['node', 'bin/event-broker.js']);
  assert.is(dockerfile.workdir, '/opt/eventwire');
  assert.is(dockerfile.env['EVENTWIRE_HOST'], '0.0.0.0');
  assert.ok(dockerfile.healthcheck.join(' ').includes('/readyz'));
});

test("the image's CMD with its ENV, as a plain process: listens, its HEALTHCHECK passes, SIGTERM stops it cleanly", async () => {
  // /opt/eventwire as `pnpm deploy` lays it out: bin/, dist/ (compiled here as the build stage does), package.json, dashboard/, node_modules/.
  const image = mkdtempSync(join(tmpdir(), 'eventwire-image-'));
  const data = mkdtempSync(join(tmpdir(), 'eventwire-image-data-'));
  try {
    cpSync(join(brokerPackage, 'bin'), join(image, 'bin'), { recursive: true });
    cpSync(join(brokerPackage, 'package.json'), join(image, 'package.json'));
    cpSync(join(brokerPackage, 'dashboard'), join(image, 'dashboard'), { recursive: true });
    symlinkSync(join(brokerPackage, 'node_modules'), join(image, 'node_modules'));
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(brokerPackage, 'tsconfig.build.json'), '--outDir', join(image, 'dist'), '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'], {
      stdio: 'pipe',
    });
    const port = await freePort();
    // What `docker run -e` would override: a port free here, and a data directory that exists here (/var/lib/eventwire does not).
    const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...dockerfile.env, EVENTWIRE_PORT: String(port), EVENTWIRE_DATA_DIR: data, EVENTWIRE_HISTORY: 'orders.#' };
    const [command, ...args] = dockerfile.cmd as [string, ...string[]];
    const child = spawn(command === 'node' ? process.execPath : command, args, { cwd: image, env });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.stderr.on('data', (chunk) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitForOutput(() => out, new RegExp(`listening on ws://[^ ]+:${port} \\(all interfaces\\)`), 'the image command listening on 0.0.0.0');
      const [checkCommand, ...checkArgs] = dockerfile.healthcheck as [string, ...string[]];
      const health = spawnSync(checkCommand === 'node' ? process.execPath : checkCommand, checkArgs, { cwd: image, env, timeout: 10_000 });
      assert.is(health.status, 0, `HEALTHCHECK: ${health.stderr}`);
      child.kill('SIGTERM');
      assert.is(await within(exited, 15_000, 'the broker stopping on SIGTERM'), 0, out);
      assert.match(out, /stopped/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  } finally {
    rmSync(image, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
});

test("compose.yaml: three brokers on the Dockerfile's image, NATS with JetStream; each broker's environment is a valid configuration", async () => {
  const text = readFileSync(join(root, 'deploy/compose.yaml'), 'utf8');
  assert.match(text, /dockerfile: deploy\/Dockerfile/);
  assert.equal([...text.matchAll(/^ {2}(broker-\d):$/gm)].map((match) => match[1]), ['broker-1', 'broker-2', 'broker-3']);
  assert.match(text, /^ {2}nats:$/m);
  assert.match(text, /--jetstream/);
  assert.match(text, /nofile: \{ soft: 65536, hard: 65536 \}/);
  const block = /environment: &broker-environment\n((?: {4}.*\n)+)/.exec(text)![1]!;
  const composeEnv = Object.fromEntries(
    block
      .split('\n')
      .map((line) => /^ {4}(\w+): "?([^"]*?)"?\s*$/.exec(line))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!, match[2]!]),
  );
  assert.is(composeEnv['EVENTWIRE_CLUSTER'], 'nats://nats:4222');
  const read = await readCommandLine([], { ...dockerfile.env, ...composeEnv, HOSTNAME: 'broker-1' });
  assert.is(read.kind, 'run');
  if (read.kind !== 'run') return;
  assert.is(read.config.host, '0.0.0.0');
  assert.ok(read.config.cluster, 'a cluster is configured');
  assert.equal(read.config.history?.map((rule) => rule.pattern), ['chat.#']);
});

/** True when systemd-analyze can run here; skips loudly, and fails under CI=true (.ci/run installs systemd). */
function systemdAnalyzeAvailable(): boolean {
  if (spawnSync('systemd-analyze', ['--version']).status === 0) return true;
  if (process.env['CI'] === 'true') throw new Error('systemd-analyze is missing; .ci/run installs it (apt-get install systemd)');
  console.log('skipping the systemd unit check: systemd-analyze not installed (apt-get install -y systemd)');
  return false;
}

test('the systemd unit passes systemd-analyze verify (a misspelt key would not) and sets the limits that matter', () => {
  const unit = join(root, 'deploy/eventwire-broker.service');
  const text = readFileSync(unit, 'utf8');
  for (const line of [/^LimitNOFILE=\d+$/m, /^User=eventwire$/m, /^Restart=on-failure$/m, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m, /^StateDirectory=eventwire$/m]) assert.match(text, line);
  if (!systemdAnalyzeAvailable()) return;
  const verify = (file: string): string => {
    const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 20_000 });
    return `${result.stdout}${result.stderr}`.trim() + (result.status === 0 ? '' : `\n(exit ${result.status})`);
  };
  assert.is(verify(unit), '');
  // The check can fail: verify prints (and exits 0 on) a key it does not know, so the output is what is asserted.
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-unit-'));
  try {
    const bad = join(dir, 'eventwire-broker.service');
    cpSync(unit, bad);
    execFileSync('sed', ['-i', 's/^LimitNOFILE=/LimitNOFILES=/', bad]);
    assert.match(verify(bad), /Unknown key 'LimitNOFILES'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
