// TLS on the broker, every surface: wss:// and https:// addresses, the HTTP
// API and a raw Synap socket (ws's `ca`), an EventChannel and pusher-js in a
// Node child trusting the test CA through NODE_EXTRA_CA_CERTS (what a user
// does), headless Chromium told to ignore the private CA, and the CLI's
// --tls-cert/--tls-key with SIGHUP reloading them.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { RawClient, runBrokerCli, startBroker, until, waitForOutput, within } from './helpers.js';
import { fingerprintOf, httpsJson, makeCertificates, opensslAvailable, peerCertificate } from './tls-certificates.js';

const test = suite('TLS clients');
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

test.run();
