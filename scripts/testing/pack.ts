// The packages as a user gets them: `pnpm pack` of each workspace package
// (pnpm rewrites `workspace:*` to the real version; `prepack` builds dist/),
// then `npm install` of the tarballs into a fresh npm project in a temp dir —
// npm, not pnpm, because most users have npm and it is the stricter reader of
// a packed manifest (EUNSUPPORTEDPROTOCOL on a leftover `workspace:`).
//
// The README snippets are extracted and type-checked there under --strict as
// ES modules (each snippet one .ts file; top-level await). A snippet that is
// a fragment names what it needs in an HTML comment right before its fence,
// visible to maintainers and invisible on the rendered page:
//
//   <!-- snippet-prelude
//   import { EventChannel } from '@eventwire/event-channel';
//   declare const channel: EventChannel;
//   -->
//   <!-- snippet-run -->      also run it (node, against the installed packages)
//
// Extending: a new package is found by itself (every packages/* with a
// package.json that is not private); a README is one more entry in READMES.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));

/** The READMEs whose ```ts blocks are checked (paths from the repo root). */
export const READMES = [
  'README.md',
  'packages/event-channel/README.md',
  'packages/event-broker/README.md',
  'packages/logger-adapter/README.md',
] as const;

export interface RunResult {
  readonly code: number;
  readonly output: string;
}

/** Runs a command to its end (bounded), stdout and stderr together. Never throws. */
export function runCommand(command: string, args: readonly string[], cwd: string, timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

export interface WorkspacePackage {
  readonly name: string;
  readonly dir: string;
  readonly version: string;
}

/** The publishable packages, each after the workspace packages it depends on. */
export function workspacePackages(): WorkspacePackage[] {
  const found = new Map<string, { dir: string; version: string; deps: string[] }>();
  for (const entry of readdirSync(join(root, 'packages')).sort()) {
    const dir = join(root, 'packages', entry);
    let manifest: { name: string; version: string; private?: boolean; dependencies?: Record<string, string> };
    try {
      manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (manifest.private) continue;
    found.set(manifest.name, { dir, version: manifest.version, deps: Object.keys(manifest.dependencies ?? {}) });
  }
  const ordered: WorkspacePackage[] = [];
  const visit = (name: string): void => {
    const pkg = found.get(name);
    if (!pkg || ordered.some((p) => p.name === name)) return;
    for (const dep of pkg.deps) visit(dep);
    ordered.push({ name, dir: pkg.dir, version: pkg.version });
  };
  for (const name of found.keys()) visit(name);
  return ordered;
}

/** `pnpm pack` of every package into `dest` (its prepack builds dist/ first); the tarball paths. */
export async function packWorkspace(dest: string): Promise<string[]> {
  const tarballs: string[] = [];
  for (const pkg of workspacePackages()) {
    const { code, output } = await runCommand('sh', [join(root, 'scripts/pnpm.sh'), 'pack', '--pack-destination', dest], pkg.dir, 180_000);
    if (code !== 0) throw new Error(`pnpm pack of ${pkg.name} failed (${code}):\n${output}`);
    const tarball = readdirSync(dest).find((f) => f.startsWith(`${pkg.name.replace('@', '').replace('/', '-')}-${pkg.version}`) && f.endsWith('.tgz'));
    if (!tarball) throw new Error(`pnpm pack of ${pkg.name} left no tarball in ${dest}:\n${output}`);
    tarballs.push(join(dest, tarball));
  }
  return tarballs;
}

/** The file list and the manifest of a tarball. */
export async function readTarball(tarball: string): Promise<{ files: string[]; manifest: PackedManifest }> {
  const list = await runCommand('tar', ['-tzf', tarball], root, 30_000);
  if (list.code !== 0) throw new Error(`tar -t ${tarball}: ${list.output}`);
  const manifest = await runCommand('tar', ['-xzOf', tarball, 'package/package.json'], root, 30_000);
  if (manifest.code !== 0) throw new Error(`tar -x ${tarball}: ${manifest.output}`);
  const files = list.output.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
  return { files, manifest: JSON.parse(manifest.output) as PackedManifest };
}

export interface PackedManifest {
  readonly name: string;
  readonly version: string;
  readonly license?: string;
  readonly bin?: Record<string, string>;
  readonly exports?: Record<string, string | Record<string, string>>;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

/**
 * What npm cannot see until a user hits it: a `workspace:`/`link:`/`file:`
 * specifier left in the manifest, a file an export or bin points at that the
 * tarball lacks, no LICENSE. Returns the problems (empty: fine).
 */
export function tarballProblems(files: readonly string[], manifest: PackedManifest): string[] {
  const problems: string[] = [];
  const has = new Set(files);
  if (!has.has('LICENSE')) problems.push(`${manifest.name}: no LICENSE in the tarball`);
  if (!has.has('README.md')) problems.push(`${manifest.name}: no README.md in the tarball`);
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (/^(workspace|link|file|portal):/.test(range)) problems.push(`${manifest.name}: ${field}.${dep} is "${range}"`);
    }
  }
  const targets: string[] = [...Object.values(manifest.bin ?? {})];
  for (const entry of Object.values(manifest.exports ?? {})) {
    if (typeof entry === 'string') targets.push(entry);
    // The source condition points into src/, which a consumer never selects.
    else for (const [condition, target] of Object.entries(entry)) if (condition !== '@eventwire/source') targets.push(target);
  }
  for (const target of targets) {
    if (!has.has(target.replace(/^\.\//, ''))) problems.push(`${manifest.name}: ${target} is referenced by the manifest but not in the tarball`);
  }
  return problems;
}

/** The version of a dependency the workspace has installed (so npm finds it in its cache). */
export function installedVersion(name: string): string {
  for (const dir of [root, ...workspacePackages().map((p) => p.dir)]) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {}
  }
  throw new Error(`${name} is not installed in the workspace`);
}

export interface Snippet {
  /** `README.md#2`: the README and the block's position in it (1-based). */
  readonly id: string;
  readonly readme: string;
  /** The line of the opening fence. */
  readonly line: number;
  readonly prelude: string;
  readonly code: string;
  readonly run: boolean;
}

/** Every ```ts block of a README, with the prelude and run marks before it. */
export function extractSnippets(readme: string, text: string): Snippet[] {
  const lines = text.split('\n');
  const snippets: Snippet[] = [];
  let prelude = '';
  let run = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('<!-- snippet-prelude')) {
      const body: string[] = [];
      while (++i < lines.length && !lines[i]!.startsWith('-->')) body.push(lines[i]!);
      prelude = body.join('\n');
      continue;
    }
    if (line.trim() === '<!-- snippet-run -->') {
      run = true;
      continue;
    }
    if (/^```(ts|typescript)\s*$/.test(line)) {
      const start = i + 1;
      const body: string[] = [];
      while (++i < lines.length && !lines[i]!.startsWith('```')) body.push(lines[i]!);
      snippets.push({ id: `${readme}#${snippets.length + 1}`, readme, line: start, prelude, code: body.join('\n'), run });
      prelude = '';
      run = false;
      continue;
    }
    // A mark applies to the fence right after it (blank lines allowed), nothing further.
    if (line.trim() !== '') {
      prelude = '';
      run = false;
    }
  }
  return snippets;
}

/** The file name a snippet is written to in the consumer project. */
export function snippetFile(snippet: Snippet): string {
  const base = snippet.readme === 'README.md' ? 'root' : basename(snippet.readme.replace(/\/README\.md$/, ''));
  return `${base}-${snippet.id.split('#')[1]}.ts`;
}

export interface ConsumerProject extends AsyncDisposable {
  readonly dir: string;
  readonly installOutput: string;
}

/**
 * A fresh npm project (type: module) with the tarballs and `extra` installed
 * (npm, the registry's cache first, no audit/fund). Removed on dispose.
 */
export async function installConsumer(tarballs: readonly string[], extra: Record<string, string>, devExtra: Record<string, string>): Promise<ConsumerProject> {
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-consumer-'));
  const dependencies: Record<string, string> = { ...extra };
  for (const tarball of tarballs) {
    const { manifest } = await readTarball(tarball);
    dependencies[manifest.name] = `file:${tarball}`;
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies, devDependencies: devExtra }, null, 2));
  mkdirSync(join(dir, 'snippets'));
  const { code, output } = await runCommand(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--no-update-notifier', '--loglevel=warn'],
    dir,
    300_000,
    // The workspace's own npm settings (pnpm's) are no user's.
    { npm_config_userconfig: join(dir, '.npmrc'), NO_COLOR: '1' },
  );
  const project: ConsumerProject = {
    dir,
    installOutput: output,
    async [Symbol.asyncDispose]() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (code !== 0) {
    await project[Symbol.asyncDispose]();
    throw new Error(`npm install of the packed tarballs failed (${code}):\n${output}`);
  }
  return project;
}
