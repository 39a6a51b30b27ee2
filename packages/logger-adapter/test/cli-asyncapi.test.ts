// `eventwire asyncapi` as a real child process: the document on stdout or in
// a file, from a config file or a module's event map, and its exit codes.
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { within } from '../../../scripts/testing/waits.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const orderFlowConfig = fileURLToPath(new URL('../../../examples/order-flow/broker.config.ts', import.meta.url));
const logEventsModule = fileURLToPath(new URL('../src/events.ts', import.meta.url));
const test = suite('eventwire asyncapi');
/** A child started through tsx: its first output takes seconds on a loaded machine. */
const WAIT = 20_000;

async function run(args: string[], command = cli): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', command, 'asyncapi', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  try {
    const code = await within(new Promise<number | null>((resolve) => child.on('exit', (exit) => resolve(exit))), WAIT, `eventwire asyncapi ${args.join(' ')}`);
    return { code, out, err };
  } finally {
    child.kill('SIGKILL');
  }
}

interface Document {
  readonly asyncapi: string;
  readonly info: { readonly title: string; readonly version: string };
  readonly servers?: Record<string, { readonly pathname: string }>;
  readonly channels: Record<string, { readonly address: string }>;
}

test('--config: the document of the config and its event map on stdout, exit 0', async () => {
  const { code, out, err } = await run(['--config', orderFlowConfig]);
  assert.is(code, 0, err);
  const document = JSON.parse(out) as Document;
  assert.is(document.asyncapi, '3.0.0');
  assert.ok(Object.values(document.channels).some((channel) => channel.address === 'events.order.created'));
  assert.is(document.servers?.['native']?.pathname, '/');
});

test('--events MODULE#EXPORT --out FILE --title --version: a map without a config, written to the file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'eventwire-asyncapi-'));
  try {
    const out = join(dir, 'asyncapi.json');
    const { code, err } = await run(['--events', `${logEventsModule}#logEvents`, '--out', out, '--title', 'Logs', '--version', '2.1.0']);
    assert.is(code, 0, err);
    const document = JSON.parse(await readFile(out, 'utf8')) as Document;
    assert.equal(document.info, { ...document.info, title: 'Logs', version: '2.1.0' });
    assert.ok(Object.values(document.channels).some((channel) => channel.address === 'log.error.{p2}'));
    assert.is(document.servers, undefined, 'no config, no servers');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('usage: neither --config nor --events, or a malformed --events, exits 2; a missing export exits 1 invalid_config', async () => {
  const none = await run([]);
  assert.is(none.code, 2);
  assert.match(none.err, /--config FILE or --events MODULE#EXPORT/);
  const malformed = await run(['--events', logEventsModule]);
  assert.is(malformed.code, 2);
  const missing = await run(['--events', `${logEventsModule}#nope`]);
  assert.is(missing.code, 1);
  assert.match(missing.err, /invalid_config/);
});

/**
 * This package installed without its optional peer @eventwire/event-broker:
 * a copy of its sources and package.json in a temp dir whose node_modules
 * has only what it depends on (the workspace's event-channel and zod, linked).
 */
async function installedWithoutBroker(dir: string): Promise<string> {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  await cp(join(packageDir, 'src'), join(dir, 'logger-adapter', 'src'), { recursive: true });
  await cp(join(packageDir, 'package.json'), join(dir, 'logger-adapter', 'package.json'));
  for (const dependency of ['@eventwire/event-channel', 'zod']) {
    await mkdir(dirname(join(dir, 'node_modules', dependency)), { recursive: true });
    await symlink(realpathSync(join(packageDir, 'node_modules', dependency)), join(dir, 'node_modules', dependency), 'dir');
  }
  return join(dir, 'logger-adapter', 'src', 'cli.ts');
}

/** Runs `eventwire asyncapi --events` from a copy installed without the broker; `prepare` adds to its node_modules first. */
async function runInstalledWithoutBroker(prepare: (nodeModules: string) => Promise<void>): Promise<{ code: number | null; out: string; err: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'eventwire-asyncapi-peer-'));
  try {
    const command = await installedWithoutBroker(dir);
    await prepare(join(dir, 'node_modules'));
    return await run(['--events', `${join(dir, 'logger-adapter', 'src', 'events.ts')}#logEvents`], command);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const { version } = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

test('without @eventwire/event-broker (an optional peer): exit 2, one line naming the version to install', async () => {
  const { code, err } = await runInstalledWithoutBroker(async () => {});
  assert.is(code, 2, err);
  assert.match(err, /^eventwire: usage: [^\n]*ERR_MODULE_NOT_FOUND[^\n]*\n$/, 'one line, and the import failed for want of the package');
  assert.ok(err.includes(`npm install @eventwire/event-broker@${version}`), err);
});

test('with an older @eventwire/event-broker (its config loader, no AsyncAPI generator): exit 2, one line naming what is missing and the version to install', async () => {
  const { code, err } = await runInstalledWithoutBroker(async (nodeModules) => {
    const older = join(nodeModules, '@eventwire', 'event-broker');
    await mkdir(older, { recursive: true });
    await writeFile(join(older, 'package.json'), JSON.stringify({ name: '@eventwire/event-broker', version: '0.0.1', type: 'module', exports: { '.': './index.js' } }));
    await writeFile(join(older, 'index.js'), 'export async function loadBrokerConfigFile() {\n  return {};\n}\n');
  });
  assert.is(code, 2, err);
  assert.match(err, /^eventwire: usage: [^\n]*asyncApiDocument or loadModuleExport[^\n]*\n$/, 'one line naming what is missing');
  assert.ok(err.includes(`npm install @eventwire/event-broker@${version}`), err);
});

test.run();
