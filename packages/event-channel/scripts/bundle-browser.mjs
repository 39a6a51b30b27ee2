#!/usr/bin/env node
// The browser build: src/browser.ts and everything it imports in ONE ES
// module, dist/browser/event-channel.js (+ .map), that a page can import
// without a bundler — from the broker (GET /eventwire/event-channel.js), a
// CDN or the package (`@eventwire/event-channel/browser`). Run by `build` and
// `prepack` after tsc, and by the test runner's build step.
//
// The file must import nothing: a browser cannot resolve a bare specifier
// (`ws`) and has no `node:` modules. Two modules are swapped for browser
// ones (SUBSTITUTES); the build fails if any import is left in the output.
// The name has no version in it so the broker's path stays stable; the
// broker serves it with an ETag (see event-broker/src/client-script.ts).
//
// Usage: node scripts/bundle-browser.mjs [--outdir DIR]   (default dist/browser)
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const src = join(packageDir, 'src');

/**
 * Module → its browser stand-in. `ws` is Node's WebSocket client (ws.ts loads
 * it only where no global WebSocket exists); server-transports.ts holds the
 * NATS, Redis and PostgreSQL rows of the URL table, whose clients need TCP.
 */
const SUBSTITUTES = [
  { specifier: /^ws$/, file: join(src, 'transport', 'browser-websocket.ts') },
  { specifier: /(^|\/)server-transports\.js$/, file: join(src, 'transport', 'server-transports.browser.ts') },
];

const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const outdir = resolve(values.outdir ?? join(packageDir, 'dist', 'browser'));
const { version } = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const outfile = join(outdir, 'event-channel.js');

const result = await build({
  entryPoints: [join(src, 'browser.ts')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  // Evergreen browsers (private class fields, ??=, top-level await in pages).
  target: ['es2022'],
  minify: true,
  sourcemap: 'linked',
  sourcesContent: true,
  metafile: true,
  logLevel: 'warning',
  banner: { js: `/*! @eventwire/event-channel ${version} — browser build (ES module) | MIT */` },
  plugins: [
    {
      name: 'browser-substitutes',
      setup(esbuild) {
        for (const { specifier, file } of SUBSTITUTES) {
          esbuild.onResolve({ filter: specifier }, () => ({ path: file }));
        }
      },
    },
  ],
});

const left = Object.values(result.metafile.outputs).flatMap((output) => output.imports.map((entry) => entry.path));
if (left.length > 0) {
  console.error(`bundle-browser: ${outfile} still imports ${left.join(', ')}; a page cannot load that`);
  process.exit(1);
}
const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs).find((name) => name.endsWith('.js'))].bytes;
if (process.stdout.isTTY) console.log(`${dirname(outfile)}/event-channel.js: ${(bytes / 1024).toFixed(1)} KiB`);
