// The browser build of @eventwire/event-channel, served by the broker as
// Socket.IO serves /socket.io/socket.io.esm.min.js: a page anywhere can
//   import { EventChannel } from 'http://broker:15500/eventwire/event-channel.js';
// with no bundler and no copy of the file to keep in step with the broker.
// The dashboard page imports the same file (one build, not two).
//
// Caching: the path carries no version, so it stays the same across broker
// upgrades — and a page must not keep a client older than its broker. So the
// answer is `no-cache` (keep it, ask again) with an ETag and Last-Modified:
// a revisit costs one 304. An immutable policy would need a versioned name in
// every page's import, which is what a CDN URL of the package gives instead.
//
// CORS: a module script from another origin is fetched in CORS mode, so
// `access-control-allow-origin: *` is what lets it load at all. The file is
// public code and holds no data; credentials are never involved.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { EventwireError } from '@eventwire/event-channel';

/** Where the broker serves the browser build (when `serveClient` is on): `/eventwire/event-channel.js` and `.js.map`. */
export const clientScriptPrefix = '/eventwire';

/** The two files of the build, by the name a request ends with. */
const files = {
  'event-channel.js': 'text/javascript; charset=utf-8',
  'event-channel.js.map': 'application/json; charset=utf-8',
} as const;

/** A file of the build: `event-channel.js` or its source map. */
export type ClientScriptFile = keyof typeof files;

interface Loaded {
  readonly mtimeMs: number;
  readonly size: number;
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: string;
}

export class ClientScript {
  /** The directory holding the build, or undefined when the package has none. */
  readonly #dir: string | undefined;
  readonly #loaded = new Map<ClientScriptFile, Loaded>();

  /** @param dir The build's directory; by default event-channel's `dist/browser/` as installed beside the broker. */
  constructor(dir: string | undefined = browserBuildDir()) {
    this.#dir = dir;
  }

  /** The file a request path names, when it is one of the build's (`…/event-channel.js`, `…/event-channel.js.map`). */
  static fileOf(path: string, prefix: string): ClientScriptFile | undefined {
    if (!path.startsWith(`${prefix}/`)) return undefined;
    const name = path.slice(prefix.length + 1);
    return Object.hasOwn(files, name) ? (name as ClientScriptFile) : undefined;
  }

  /** Answers GET and HEAD for one file of the build; a missing build is `not_found`. */
  serve(request: IncomingMessage, response: ServerResponse, name: ClientScriptFile): void {
    const method = request.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') throw new EventwireError('method_not_allowed', `${name} accepts GET and HEAD, not ${method}`);
    const file = this.#load(name);
    const headers = {
      'content-type': files[name],
      'cache-control': 'no-cache',
      etag: file.etag,
      'last-modified': file.lastModified,
      'access-control-allow-origin': '*',
      // A page with cross-origin isolation (COEP) may embed it too.
      'cross-origin-resource-policy': 'cross-origin',
      'x-content-type-options': 'nosniff',
    };
    if (notModified(request, file)) {
      response.writeHead(304, headers).end();
      return;
    }
    // Node leaves the body out of a HEAD answer; content-length still tells the size.
    response.writeHead(200, { ...headers, 'content-length': file.size }).end(file.body);
  }

  /** The file as it is on disk now: read again when it changed (a rebuild under a running broker). */
  #load(name: ClientScriptFile): Loaded {
    const missing = (cause?: unknown): EventwireError =>
      new EventwireError(
        'not_found',
        'The browser build of @eventwire/event-channel is missing (dist/browser/event-channel.js): build the package (npm run build)',
        cause === undefined ? undefined : { cause },
      );
    if (this.#dir === undefined) throw missing();
    const path = join(this.#dir, name);
    let stat;
    try {
      stat = statSync(path);
    } catch (error) {
      throw missing(error);
    }
    const cached = this.#loaded.get(name);
    if (cached && cached.mtimeMs === stat.mtimeMs && cached.size === stat.size) return cached;
    const body = readFileSync(path);
    const loaded: Loaded = {
      mtimeMs: stat.mtimeMs,
      size: body.length,
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      lastModified: new Date(Math.floor(stat.mtimeMs / 1000) * 1000).toUTCString(),
    };
    this.#loaded.set(name, loaded);
    return loaded;
  }
}

/** RFC 9110 §13.1: If-None-Match decides when present; If-Modified-Since only without it. */
function notModified(request: IncomingMessage, file: Loaded): boolean {
  const match = request.headers['if-none-match'];
  if (match !== undefined) {
    return match.trim() === '*' || match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === file.etag);
  }
  const since = request.headers['if-modified-since'];
  if (since === undefined) return false;
  const time = Date.parse(since);
  return Number.isFinite(time) && Date.parse(file.lastModified) <= time;
}

/** event-channel's dist/browser/ as resolved from the broker, when the package is installed. */
function browserBuildDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('@eventwire/event-channel/package.json')), 'dist', 'browser');
  } catch {
    return undefined;
  }
}
