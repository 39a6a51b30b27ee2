// The one-file browser build (scripts/bundle-browser.mjs): built afresh into a
// temp dir, then read as a browser would have to take it — parsed, it imports
// nothing (no bare specifier, no node:, no import() at all); loaded, it is
// index.ts without the server transports, memory:// works, and nats://,
// redis://, postgres:// are a typed unsupported_transport, not a failed
// module resolution. (A page loading it from the broker: event-broker's
// test/client-script.test.ts.)
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type OnResolveArgs, type OnResolveResult } from 'esbuild';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import * as nodeEntry from '../src/index.js';

type Bundle = typeof import('../src/browser.js');
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const test = suite<{ dir: string; file: string; bundle: Bundle }>('browser build');

/** What index.ts exports that needs Node (the NATS, Redis, PostgreSQL and Kafka transports and their helpers). */
const serverOnly = ['KafkaTransport', 'kafkaTopicOf', 'kafkaTransportDefaults', 'NatsTransport', 'natsSubjectsFor', 'natsTransportDefaults', 'parseNatsUrl', 'PostgresTransport', 'postgresTransportDefaults', 'RedisTransport', 'redisKeysFor'];

test.before(async (context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'eventwire-browser-build-'));
  await new Promise<void>((resolve, reject) =>
    execFile(process.execPath, ['scripts/bundle-browser.mjs', '--outdir', context.dir], { cwd: packageDir, timeout: 60_000 }, (error, _out, stderr) =>
      error ? reject(new Error(`bundle-browser failed: ${stderr}`)) : resolve(),
    ),
  );
  context.file = join(context.dir, 'event-channel.js');
  context.bundle = (await import(pathToFileURL(context.file).href)) as Bundle;
});
test.after((context) => rmSync(context.dir, { recursive: true, force: true }));

/** esbuild's bundler over `entry`, nothing written, every import's resolution decided by `resolve` (undefined: follow it). */
function walkImports(entry: string, resolve: (args: OnResolveArgs) => OnResolveResult | undefined) {
  return build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    logLevel: 'silent',
    plugins: [{ name: 'walk-imports', setup: (esbuild) => void esbuild.onResolve({ filter: /.*/ }, resolve) }],
  });
}

/**
 * Every module the file would ask the browser for, as esbuild's parser reads
 * it: static imports and re-exports, import() and require() with a literal
 * (each resolved through the hook below, none followed), and any import()
 * left in the reprinted code, which catches one whose specifier is computed.
 */
async function requestedModules(file: string): Promise<string[]> {
  const found: string[] = [];
  const result = await walkImports(file, (args) => {
    if (args.kind === 'entry-point') return undefined;
    found.push(`${args.kind} ${args.path}`);
    return { path: args.path, external: true };
  });
  const printed = result.outputFiles[0]!.text;
  found.push(...[...printed.matchAll(/\bimport\s*\(([^)]{0,40})/g)].map((match) => `import(${match[1]})`));
  return found;
}

test('the file imports nothing: no import/export-from, no import(), no require()', async ({ file }) => {
  const text = readFileSync(file, 'utf8');
  assert.equal(await requestedModules(file), []);
  assert.not.match(text, /["']node:/);
  // A linked source map with the sources in it, so devtools show the TypeScript.
  assert.match(text, /\/\/# sourceMappingURL=event-channel\.js\.map\s*$/);
  const map = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[]; sourcesContent: string[] };
  assert.ok(map.sources.some((path) => path.endsWith('src/channel.ts')));
  assert.is(map.sourcesContent.length, map.sources.length);
});

test('the package index statically imports no node: module and no package (a page may load dist/ module by module: the Kafka files reach it)', async () => {
  const found: string[] = [];
  await walkImports(join(packageDir, 'src/index.ts'), (args) => {
    // A client loaded on connect (import() of an optional peer) is the transports' way; a static one is not.
    if (args.kind === 'dynamic-import') return { path: args.path, external: true };
    if (args.kind === 'entry-point' || args.path.startsWith('.')) return undefined;
    found.push(`${args.importer.slice(packageDir.length)}: ${args.path}`);
    return { path: args.path, external: true };
  });
  assert.equal(found, []);
});

test('it exports what index.ts does, less the server transports', ({ bundle }) => {
  const expected = Object.keys(nodeEntry).filter((name) => !serverOnly.includes(name)).sort();
  assert.equal(Object.keys(bundle).sort(), expected);
  for (const name of serverOnly) assert.ok(name in nodeEntry, `${name} is still an export of index.ts`);
});

test('nats://, redis://, postgres:// are unsupported_transport at construction, naming what works', ({ bundle }) => {
  for (const url of ['nats://127.0.0.1:4222', 'nats://a:4222,b:4222', 'redis://127.0.0.1:6379', 'rediss://cache', 'postgres://app@db/shop']) {
    let caught: unknown;
    try {
      new bundle.EventChannel({ url });
    } catch (error) {
      caught = error;
    }
    assert.instance(caught, bundle.EventwireError, url);
    assert.is((caught as InstanceType<Bundle['EventwireError']>).code, 'unsupported_transport', url);
    assert.match((caught as Error).message, 'ws://', url);
  }
});

test('memory:// and the event API work from the file', async ({ bundle }) => {
  const hub = new bundle.MemoryHub();
  const channel = new bundle.EventChannel({ url: 'memory://browser-build', memoryHub: hub });
  await channel.ready();
  const received = channel.once('build.checked');
  await channel.emit('build.checked', { ok: true });
  assert.equal((await received).data, { ok: true });
  assert.is(channel.status.state, 'open');
  await channel.close();
});

test.run();
