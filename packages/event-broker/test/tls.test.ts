// TLS certificates on the broker: a renewed one reaches new connections
// (reloadTls(), as SIGHUP does, and by itself when the files change) while
// open ones keep theirs; a bad pair is invalid_config. Every surface over
// TLS, and the CLI's SIGHUP: tls-clients.test.ts.
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { PeerCertificate } from 'node:tls';
import { EventwireError } from '@eventwire/event-channel';
import { EventBrokerServer } from '../src/index.js';
import { createEchoSurface } from '../examples/echo-surface.js';
import { RawClient, errorCodeOf, startBroker, until } from './helpers.js';
import { fingerprintOf, httpsJson, makeCertificates, opensslAvailable, peerCertificate } from './tls-certificates.js';

const test = suite('TLS');
const available = opensslAvailable();
const certificates = available ? makeCertificates() : undefined;
test.after(() => {
  if (certificates) rmSync(certificates.dir, { recursive: true, force: true });
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
    renameSync(`${cert}.new`, cert);
    renameSync(`${key}.new`, key);
    await until(async () => (await peerCertificate(server.port, certificates.ca)).fingerprint256 === a, 'the renewed files served', 10_000);
    assert.ok(server.logs.some((line) => line.includes('TLS certificate reloaded')));
    open.socket.close();
  } finally {
    rmSync(live, { recursive: true, force: true });
  }
});

test('under TLS every 426 hint names wss:// (native, Synap, broadcasting, a custom surface without a hint) and tells pusher-js forceTLS: never ws://', async () => {
  if (!certificates) return;
  await using server = await startBroker({
    tlsCert: certificates.a.cert,
    tlsKey: certificates.a.key,
    pusher: { apps: [{ id: 'tls', key: 'tls-key', secret: 'tls-secret-0123456789' }] },
    // The example's custom surface without its hint: the broker's fallback follows the listener's scheme too.
    surfaces: [
      (host) => {
        const { upgradeHint: _, ...surface } = createEchoSurface(host);
        return surface;
      },
    ],
  });
  const ca = readFileSync(certificates.ca);
  const host = `127.0.0.1:${server.port}`;
  for (const [path, hint] of [
    ['/', `open a WebSocket to wss://${host}/ (eventwire protocol; EventChannel({ url: 'wss://${host}' })`],
    ['/pubsub/ws', `wss://${host}/pubsub/ws?topics=`],
    ['/api/v1/broadcasting/ws', `wss://${host}/api/v1/broadcasting/ws?token=`],
    ['/echo', `open a WebSocket to wss://${host}/echo`],
    ['/app/tls-key', 'forceTLS: true'],
  ] as const) {
    const answer = await httpsJson(`${server.httpUrl}${path}`, ca);
    assert.is(answer.status, 426, path);
    const error = answer.json['error'] as { code: string; message: string };
    assert.is(error.code, 'upgrade_required', path);
    assert.ok(error.message.includes(hint), `${path}: ${error.message}`);
    assert.not.ok(error.message.includes('ws://'), `${path}: ${error.message}`);
  }
});

test('tlsCert without tlsKey, or unreadable files, is invalid_config at construction (never a silent plain-HTTP broker)', () => {
  if (!certificates) return;
  assert.is(errorCodeOf(() => new EventBrokerServer({ port: 0, tlsCert: certificates.a.cert })), 'invalid_config');
  assert.is(errorCodeOf(() => new EventBrokerServer({ port: 0, tlsCert: certificates.a.cert, tlsKey: join(certificates.dir, 'missing.key') })), 'invalid_config');
  assert.is(errorCodeOf(() => new EventBrokerServer({ port: 0, tlsCert: certificates.a.cert, tlsKey: certificates.b.key })), 'invalid_config');
});

test.run();
