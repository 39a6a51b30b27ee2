// A throwaway nginx in front of a broker, for the reverse-proxy tests: the
// site file the docs give (deploy/nginx.conf) inside a minimal main config,
// on a free port, as one process (no master/worker pair) killed by its id.
// Missing locally: tests skip with a loud reason; under CI=true they fail.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryAvailable, freePort, startServerProcess, type ServerProcess } from './server-process.js';

const binary = process.env['NGINX'] ?? '/usr/sbin/nginx';

/** True when nginx can run here; logs why not, and throws under CI (where .ci/run installs it). */
export function nginxAvailable(): boolean {
  return binaryAvailable(binary, ['-v'], 'nginx', 'apt-get install -y nginx-light');
}

export interface Nginx extends ServerProcess {
  readonly port: number;
}

/** Starts nginx with `site` (an http-block file) proxying to `upstreamPort`; resolves once it accepts clients. */
export async function startNginx(site: string, upstreamPort: number): Promise<Nginx> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-nginx-'));
  const text = readFileSync(site, 'utf8')
    .replace(/server 127\.0\.0\.1:15500;/, `server 127.0.0.1:${upstreamPort};`)
    .replace(/listen 127\.0\.0\.1:8080;/, `listen 127.0.0.1:${port};`);
  if (!text.includes(`:${upstreamPort};`) || !text.includes(`:${port};`)) throw new Error(`${site}: the upstream or listen line moved; update scripts/testing/nginx.ts`);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `${kind}_temp_path ${join(dir, kind)};`).join('\n  ');
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log stderr notice;
events { worker_connections 256; }
http {
  access_log off;
  ${temp}
${text}
}
`,
  );
  const server = await startServerProcess({
    binary,
    args: ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr'],
    // Logged after the listening sockets are open (with master_process off there is no "start worker processes" line).
    readyWhen: 'getrlimit(RLIMIT_NOFILE)',
    scratch: dir,
  });
  return Object.assign(server, { port });
}
