// The packages install as a user installs them: every workspace package is
// packed with pnpm (as a release does, docs/RELEASING.md), the tarballs are
// installed with npm into a fresh project, and there the README snippets
// type-check under --strict as ES modules and the marked ones run against the
// installed packages (not the workspace's sources). A CommonJS consumer's
// `require` is tried too, so the READMEs' "ESM only" note says what is true.
// Bounded: one pack per package, one npm install (cache first), one tsc run.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  READMES,
  extractSnippets,
  installConsumer,
  installedVersion,
  packWorkspace,
  readTarball,
  root,
  runCommand,
  snippetFile,
  tarballProblems,
  workspacePackages,
  type ConsumerProject,
  type Snippet,
} from '../testing/pack.js';

const test = suite('packing');
const packDir = mkdtempSync(join(tmpdir(), 'eventwire-pack-'));
let tarballs: string[] = [];
let consumer: ConsumerProject | undefined;
const snippets: Snippet[] = READMES.flatMap((readme) => extractSnippets(readme, readFileSync(join(root, readme), 'utf8')));

test.before(async () => {
  tarballs = await packWorkspace(packDir);
  consumer = await installConsumer(
    tarballs,
    // What the snippets import besides the packages, at the versions the workspace has (npm's cache has them).
    Object.fromEntries(['zod', 'ts-pattern', 'pusher', '@opentelemetry/api'].map((name) => [name, installedVersion(name)])),
    { '@types/node': `^${installedVersion('@types/node')}` },
  );
});

test.after(async () => {
  await consumer?.[Symbol.asyncDispose]();
  rmSync(packDir, { recursive: true, force: true });
});

test('every package is packed, with LICENSE, what its exports and bin name, and no workspace: range', async () => {
  assert.is(tarballs.length, workspacePackages().length);
  const license = readFileSync(join(root, 'LICENSE'), 'utf8');
  for (const tarball of tarballs) {
    const { files, manifest } = await readTarball(tarball);
    assert.equal(tarballProblems(files, manifest), [], tarball);
    assert.is(manifest.license, 'MIT');
    const packedLicense = await runCommand('tar', ['-xzOf', tarball, 'package/LICENSE'], root, 30_000);
    assert.is(packedLicense.output, license, `${manifest.name}: its LICENSE is the repository's`);
    // The browser build's source map (the file itself is the ./browser export's target, checked above).
    if (manifest.name === '@eventwire/event-channel') assert.ok(files.includes('dist/browser/event-channel.js.map'), 'the browser build is packed with its map');
  }
});

test('the tarball check finds a missing LICENSE, a missing export target and a leftover workspace: range', () => {
  const manifest = {
    name: '@eventwire/x',
    version: '0.1.0',
    exports: { '.': { '@eventwire/source': './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' } },
    dependencies: { '@eventwire/event-channel': 'workspace:*' },
  };
  const problems = tarballProblems(['README.md', 'dist/index.d.ts', 'package.json'], manifest);
  assert.equal(problems, [
    '@eventwire/x: no LICENSE in the tarball',
    '@eventwire/x: dependencies.@eventwire/event-channel is "workspace:*"',
    '@eventwire/x: ./dist/index.js is referenced by the manifest but not in the tarball',
  ]);
});

test('npm installs the tarballs without an engine warning', () => {
  assert.ok(consumer);
  assert.not.match(consumer.installOutput, /EBADENGINE/, consumer.installOutput);
  assert.not.match(consumer.installOutput, /ERESOLVE/, consumer.installOutput);
});

test('every README snippet type-checks under --strict in the consumer project (ES modules)', async () => {
  assert.ok(consumer);
  assert.ok(snippets.length >= 15, `found ${snippets.length} snippets`);
  for (const snippet of snippets) {
    // Line numbers in tsc's output map back to the README: the prelude sits on line 1.
    const body = `${snippet.prelude.replace(/\n/g, ' ')}\n${snippet.code}\nexport {};\n`;
    writeFileSync(join(consumer.dir, 'snippets', snippetFile(snippet)), body);
  }
  writeFileSync(
    join(consumer.dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        types: ['node'],
        rootDir: 'snippets',
        outDir: 'out',
        skipLibCheck: false,
      },
      include: ['snippets/*.ts'],
    }),
  );
  const { code, output } = await runCommand(join(root, 'node_modules/.bin/tsc'), ['-p', '.'], consumer.dir, 180_000);
  const where = snippets.map((s) => `${snippetFile(s)}: ${s.readme} line ${s.line} (file line 2 = README line ${s.line + 1})`).join('\n');
  assert.is(code, 0, `tsc in the consumer project:\n${output}\n${where}`);
});

test('the marked README examples run against the installed packages', async () => {
  assert.ok(consumer);
  const runs = snippets.filter((s) => s.run);
  assert.ok(runs.length >= 2, 'the Quickstart and the broker README example are marked <!-- snippet-run -->');
  for (const snippet of runs) {
    const file = join(consumer.dir, 'out', snippetFile(snippet).replace(/\.ts$/, '.js'));
    const { code, output } = await runCommand(process.execPath, [file], consumer.dir, 30_000, { NODE_OPTIONS: '' });
    assert.is(code, 0, `${snippet.id} (line ${snippet.line}) exited ${code}:\n${output}`);
  }
});

test('a CommonJS consumer can require() every entry point (require of an ES module, Node >= 20.19)', async () => {
  assert.ok(consumer);
  const checks = [
    ['@eventwire/event-channel', 'EventChannel'],
    ['@eventwire/event-channel/broadcasting', 'createBroadcaster'],
    ['@eventwire/event-broker', 'EventBrokerServer'],
    ['@eventwire/logger-adapter', 'createEventLogger'],
  ];
  const script = checks.map(([spec, name]) => `if (typeof require(${JSON.stringify(spec)}).${name} !== 'function') throw new Error('${spec}: no ${name}');`).join('\n');
  writeFileSync(join(consumer.dir, 'require-check.cjs'), `${script}\nconsole.log('required');\n`);
  const { code, output } = await runCommand(process.execPath, ['require-check.cjs'], consumer.dir, 30_000, { NODE_OPTIONS: '' });
  assert.is(code, 0, output);
  assert.match(output, /required/);
});

test('every package README says its snippets are ES modules', () => {
  for (const readme of READMES) {
    assert.match(readFileSync(join(root, readme), 'utf8'), /ES module/, `${readme} says the snippets are ES modules`);
  }
});

test.run();
