// The reverse-proxy setup docs/DEPLOY.md gives, through a real nginx running
// deploy/nginx.conf as written: WebSocket upgrades pass (native and Synap
// sockets, both ways), the HTTP API answers, and the broker counts the
// client's address (X-Forwarded-For) only because nginx's is in
// trustedProxies — a forged header from the client is not believed.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { nginxAvailable, startNginx } from '../../../scripts/testing/nginx.js';
import { RawClient, startBroker } from './helpers.js';

const site = fileURLToPath(new URL('../../../deploy/nginx.conf', import.meta.url));
const test = suite('behind nginx (deploy/nginx.conf)');

async function brokerSeeing(trustedProxies: string[]) {
  const seen: string[] = [];
  const server = await startBroker({
    trustedProxies,
    allowUnknownTopics: true,
    authenticate: ({ remoteAddress }) => {
      seen.push(remoteAddress ?? '');
      return { id: 'anyone' };
    },
  });
  return { server, seen };
}

test('upgrades pass both ways; the client address is the forwarded one from a trusted proxy, its own header not believed', async () => {
  if (!nginxAvailable()) return;
  const { server, seen } = await brokerSeeing(['127.0.0.1']);
  await using _broker = server;
  await using nginx = await startNginx(site, server.port);
  const proxied = `ws://127.0.0.1:${nginx.port}`;
  // From 127.0.0.2 (another loopback address), with a forged hop in front.
  const synap = await RawClient.open(`${proxied}/pubsub/ws?topics=proxy.*&token=t`, { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '203.0.113.9' } });
  assert.is((await synap.next())['type'], 'connected');
  assert.equal(seen, ['127.0.0.2']);
  await server.broker.publish('proxy.out', { n: 1 });
  const message = await synap.next();
  assert.is(message['topic'], 'proxy.out');
  synap.socket.close();
  // The native protocol's handshake and a publish the other way, through the proxy.
  const native = await RawClient.native(`${proxied}/?token=t`);
  assert.ok(native.received.length > 0);
  native.socket.close();
  const health = await fetch(`http://127.0.0.1:${nginx.port}/readyz`);
  assert.is(health.status, 200);
});

test('without trustedProxies the broker sees nginx, not the client (the header alone proves nothing)', async () => {
  if (!nginxAvailable()) return;
  const { server, seen } = await brokerSeeing([]);
  await using _broker = server;
  await using nginx = await startNginx(site, server.port);
  const synap = await RawClient.open(`ws://127.0.0.1:${nginx.port}/pubsub/ws?topics=proxy.*&token=t`, { localAddress: '127.0.0.2' });
  assert.is((await synap.next())['type'], 'connected');
  assert.equal(seen, ['127.0.0.1']);
  synap.socket.close();
});

test.run();
