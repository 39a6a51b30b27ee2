// TLS on the broker itself: with tlsCert/tlsKey every surface is wss:// and
// https:// — an EventChannel and pusher-js in a Node process trusting the
// test CA through NODE_EXTRA_CA_CERTS, a raw Synap WebSocket with `ca`,
// headless Chromium told to ignore the private CA, the HTTP API over https —
// and a renewed certificate reaches new connections (reloadTls(), as SIGHUP
// does, and by itself when the files change) while open ones keep theirs.
// The certificates are made here by openssl (a throwaway CA and two server
// certificates for 127.0.0.1).
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventwireError } from '@eventwire/event-channel';
import { chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { EventBrokerServer } from '../src/index.js';
import { RawClient, runBrokerCli, startBroker, until, waitForOutput, within } from './helpers.js';

const test = suite('TLS');

/** True when openssl can run here; skips loudly, and fails under CI=true (the Debian image has it). */
function opensslAvailable(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    if (process.env['CI'] === 'true') throw new Error('openssl is missing: the TLS tests make their certificates with it');
    console.log('skipping TLS tests: openssl not installed (apt-get install -y openssl)');
    return false;
  }
}

interface Certificates {
  readonly dir: string;
  readonly ca: string;
  /** The two server certificates (same CA, same names) and their keys. */
  readonly a: { cert: string; key: string };
  readonly b: { cert: string; key: string };
}

function makeCertificates(): Certificates {
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-tls-'));
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=eventwire-test-ca');
  writeFileSync(join(dir, 'ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const name of ['a', 'b']) {
    openssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=127.0.0.1');
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'ext');
  }
  const pair = (name: string) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) });
  return { dir, ca: join(dir, 'ca.pem'), a: pair('a'), b: pair('b') };
}

/** The certificate a new TLS connection to `port` is given. */
function peerCertificate(port: number, ca: string): Promise<PeerCertificate> {
  return within(
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(ca) }, () => {
        resolve(socket.getPeerCertificate());
        socket.end();
      });
      socket.on('error', reject);
    }),
    5000,
    'a TLS handshake',
  );
}

function fingerprintOf(file: string): string {
  // openssl prints "sha256 Fingerprint=AB:CD:…", Node "AB:CD:…".
  return execFileSync('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' }).trim().split('=')[1]!;
}

function httpsJson(url: string, ca: Buffer): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
    }).on('error', reject);
  });
}

const available = opensslAvailable();
const certificates = available ? makeCertificates() : undefined;
test.after(() => {
  if (certificates) rmSync(certificates.dir, { recursive: true, force: true });
});

test('wss:// and https:// on every surface: EventChannel and pusher-js (NODE_EXTRA_CA_CERTS), raw Synap socket, HTTP API', async () => {
  if (!certificates) return;
  const ca = readFileSync(certificates.ca);
  await using server = await startBroker({
    tlsCert: certificates.a.cert,
    tlsKey: certificates.a.key,
    allowUnknownTopics: true,
    pusher: { apps: [{ id: 'tls', key: 'tls-key', secret: 'tls-secret-0123456789' }] },
  });
  assert.ok(server.url.startsWith('wss://127.0.0.1:'), server.url);
  assert.ok(server.httpUrl.startsWith('https://127.0.0.1:'), server.httpUrl);
  assert.ok(server.logs.some((line) => line.includes(`listening on wss://`)), 'the start-up line names wss://');

  const health = await httpsJson(`${server.httpUrl}/health`, ca);
  assert.is(health.status, 200);
  assert.is(health.json['status'], 'healthy');
  assert.is((await httpsJson(`${server.httpUrl}/readyz`, ca)).status, 200);

  // Synap's socket and its HTTP publish, both over TLS.
  const synap = await RawClient.open(`${server.url}/pubsub/ws?topics=tls.*`, { ca });
  assert.is((await synap.next())['type'], 'connected');
  await server.broker.publish('tls.synap', { n: 1 });
  const message = await synap.next();
  assert.is(message['type'], 'message');
  assert.is(message['topic'], 'tls.synap');
  synap.socket.close();

  // A Node process that trusts the CA the way a user's would.
  const child = spawn(
    process.execPath,
    ['--conditions=@eventwire/source', '--import', 'tsx', fileURLToPath(new URL('./fixtures/tls-clients.ts', import.meta.url)), server.url, 'tls-key', String(server.port)],
    { env: { ...process.env, NODE_EXTRA_CA_CERTS: certificates.ca } },
  );
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  try {
    await within(new Promise((resolve) => child.on('close', resolve)), 20_000, 'the channel and pusher-js over wss://');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  const last = out.trim().split('\n').at(-1)!;
  assert.ok(last.startsWith('{'), out);
  const result = JSON.parse(last) as { channel?: unknown; pusher?: string; error?: string };
  assert.is(result.error, undefined, out);
  assert.equal(result.channel, { over: 'wss' });
  assert.type(result.pusher, 'string');
});

test('headless Chromium over wss:// (told to ignore the private CA, as a developer would)', async () => {
  if (!certificates || !chromiumAvailable()) return;
  await using server = await startBroker({ tlsCert: certificates.a.cert, tlsKey: certificates.a.key, allowUnknownTopics: true });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    // The page comes from the broker itself over https:// (its /health), so the socket is same-origin.
    await page.goto(`${server.httpUrl}/health`);
    await page.evaluate(`(() => {
      window.frames_ = [];
      const socket = new WebSocket(${JSON.stringify(`${server.url}/pubsub/ws?topics=tls.*`)});
      socket.onmessage = (message) => window.frames_.push(JSON.parse(message.data));
    })()`);
    await pageValue<Array<{ type: string }>>(page, 'window.frames_', (frames) => frames.length >= 1, 'the connected frame');
    await server.broker.publish('tls.browser', { n: 1 });
    const frames = await pageValue<Array<{ type: string; topic?: string }>>(page, 'window.frames_', (value) => value.length >= 2, 'the message frame');
    assert.is(frames[1]!.type, 'message');
    assert.is(frames[1]!.topic, 'tls.browser');
  } finally {
    await browser.close();
  }
});

test('a renewed certificate reaches new connections: reloadTls() (SIGHUP) and a change of the files; open connections keep theirs', async () => {
  if (!certificates) return;
  const live = mkdtempSync(join(tmpdir(), 'eventwire-tls-live-'));
  try {
    const cert = join(live, 'cert.pem');
    const key = join(live, 'key.pem');
    copyFileSync(certificates.a.cert, cert);
    copyFileSync(certificates.a.key, key);
    await using server = await startBroker({ tlsCert: cert, tlsKey: key, allowUnknownTopics: true });
    const a = fingerprintOf(certificates.a.cert);
    const b = fingerprintOf(certificates.b.cert);
    assert.is.not(a, b);
    assert.is((await peerCertificate(server.port, certificates.ca)).fingerprint256, a);
    const open = await RawClient.open(`${server.url}/pubsub/ws?topics=tls.*`, { ca: readFileSync(certificates.ca) });

    // A key that does not match the certificate: refused, and the old pair stays in use.
    copyFileSync(certificates.b.cert, cert);
    const mismatch = (() => {
      try {
        server.broker.reloadTls();
        return undefined;
      } catch (error) {
        return error;
      }
    })();
    assert.instance(mismatch, EventwireError);
    assert.is((mismatch as EventwireError).code, 'invalid_config');
    assert.is((await peerCertificate(server.port, certificates.ca)).fingerprint256, a);

    // The key follows: an explicit reload (what the CLI does on SIGHUP) serves B.
    copyFileSync(certificates.b.key, key);
    server.broker.reloadTls();
    assert.is((await peerCertificate(server.port, certificates.ca)).fingerprint256, b);
    assert.is((open.socket as unknown as { _socket: { getPeerCertificate(): PeerCertificate } })._socket.getPeerCertificate().fingerprint256, a);

    // Back to A by replacing the files only (a renewal by rename): picked up without a call.
    copyFileSync(certificates.a.cert, `${cert}.new`);
    copyFileSync(certificates.a.key, `${key}.new`);
    execFileSync('mv', [`${cert}.new`, cert]);
    execFileSync('mv', [`${key}.new`, key]);
    await until(async () => (await peerCertificate(server.port, certificates.ca)).fingerprint256 === a, 'the renewed files served', 10_000);
    assert.ok(server.logs.some((line) => line.includes('TLS certificate reloaded')));
    open.socket.close();
  } finally {
    rmSync(live, { recursive: true, force: true });
  }
});

test('the CLI: --tls-cert/--tls-key serve wss://, SIGHUP reloads them (a mismatched pair is a warning and the process stays up)', async () => {
  if (!certificates) return;
  const live = mkdtempSync(join(tmpdir(), 'eventwire-tls-cli-'));
  try {
    const cert = join(live, 'cert.pem');
    const key = join(live, 'key.pem');
    copyFileSync(certificates.a.cert, cert);
    copyFileSync(certificates.a.key, key);
    await using cli = runBrokerCli(['--port', '0', '--tls-cert', cert, '--tls-key', key]);
    const port = Number((await waitForOutput(cli.output, /listening on wss:\/\/127\.0\.0\.1:(\d+)/, 'the broker listening on wss://'))[1]);
    assert.is((await peerCertificate(port, certificates.ca)).fingerprint256, fingerprintOf(certificates.a.cert));
    // Half a renewal: SIGHUP's own warning (the file watch words it differently), and the broker keeps serving A.
    copyFileSync(certificates.b.cert, cert);
    cli.child.kill('SIGHUP');
    await waitForOutput(cli.output, /warning: SIGHUP: .*not a usable pair/, 'the SIGHUP warning');
    assert.is(cli.child.exitCode, null);
    assert.is((await peerCertificate(port, certificates.ca)).fingerprint256, fingerprintOf(certificates.a.cert));
    copyFileSync(certificates.b.key, key);
    cli.child.kill('SIGHUP');
    await until(async () => (await peerCertificate(port, certificates.ca)).fingerprint256 === fingerprintOf(certificates.b.cert), 'B served after SIGHUP');
  } finally {
    rmSync(live, { recursive: true, force: true });
  }
});

test('tlsCert without tlsKey, or unreadable files, is invalid_config at construction (never a silent plain-HTTP broker)', () => {
  if (!certificates) return;
  const codeOf = (make: () => unknown): string | undefined => {
    try {
      make();
      return undefined;
    } catch (error) {
      return (error as EventwireError).code;
    }
  };
  assert.is(codeOf(() => new EventBrokerServer({ port: 0, tlsCert: certificates.a.cert })), 'invalid_config');
  assert.is(codeOf(() => new EventBrokerServer({ port: 0, tlsCert: certificates.a.cert, tlsKey: join(certificates.dir, 'missing.key') })), 'invalid_config');
  assert.is(codeOf(() => new EventBrokerServer({ port: 0, tlsCert: certificates.a.cert, tlsKey: certificates.b.key })), 'invalid_config');
});

test.run();
