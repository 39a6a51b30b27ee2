// The Pusher signatures against a published vector (a Pusher engineer's
// gist, mloughran/376898), round trips, and the official `pusher` server
// library: its channel auth equals ours, and a request it signs and sends
// to a real HTTP server passes our check.
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pusher from 'pusher';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventwireError } from '@eventwire/event-channel';
import { requestStringToSign, signChannel, signRequest, verifyChannelAuth, verifyRequest } from '../src/auth/pusher-signature.js';

const secret = '7ad3773142a6692b25b8';
const key = '278d425bdf160c739803';

test('the HTTP API string to sign and its signature match the published vector', () => {
  const query = { auth_key: key, auth_timestamp: '1272044395', auth_version: '1.0', body_md5: '7b3d404f5cde4a0b9b8fb4789a0098cb', name: 'foo' };
  const path = '/apps/3/channels/test_channel/events';
  assert.is(requestStringToSign('POST', path, query), `POST\n${path}\nauth_key=${key}&auth_timestamp=1272044395&auth_version=1.0&body_md5=7b3d404f5cde4a0b9b8fb4789a0098cb&name=foo`);
  assert.is(signRequest(secret, 'POST', path, query), '309fc4be20f04e53e011b00744642d3fe66c2c7c5686f35ed6cd2af6f202e445');
});

test('verifyRequest: a well-signed request passes; a wrong signature, key, version, body or a stale timestamp is unauthorized', () => {
  const body = JSON.stringify({ name: 'e', channel: 'c', data: '{}' });
  const now = 1_800_000_000;
  const signed = (query: Record<string, string>) => ({ ...query, auth_signature: signRequest(secret, 'POST', '/apps/1/events', query) });
  const base = { auth_key: key, auth_timestamp: String(now), auth_version: '1.0', body_md5: createHash('md5').update(body).digest('hex') };
  verifyRequest({ method: 'POST', path: '/apps/1/events', query: signed(base), body }, key, secret, now);
  const refusals: Array<[string, Parameters<typeof verifyRequest>[0], RegExp]> = [
    ['signature', { method: 'POST', path: '/apps/1/events', query: { ...signed(base), auth_signature: '0'.repeat(64) }, body }, /auth_signature/],
    ['path', { method: 'POST', path: '/apps/2/events', query: signed(base), body }, /auth_signature/],
    ['key', { method: 'POST', path: '/apps/1/events', query: signed({ ...base, auth_key: 'other' }), body }, /auth_key/],
    ['version', { method: 'POST', path: '/apps/1/events', query: signed({ ...base, auth_version: '2.0' }), body }, /auth_version/],
    ['stale', { method: 'POST', path: '/apps/1/events', query: signed({ ...base, auth_timestamp: String(now - 601) }), body }, /auth_timestamp/],
    ['body', { method: 'POST', path: '/apps/1/events', query: signed(base), body: `${body} ` }, /body_md5/],
  ];
  for (const [what, request, message] of refusals) {
    try {
      verifyRequest(request, key, secret, now);
      assert.unreachable(what);
    } catch (error) {
      assert.instance(error, EventwireError, what);
      assert.is((error as EventwireError).code, 'unauthorized', what);
      assert.match((error as EventwireError).message, message, what);
    }
  }
});

test('channel auth: key:signature over socket_id:channel[:channel_data], verified; another socket or channel data fails', () => {
  const auth = signChannel(key, secret, '1234.1234', 'private-foobar');
  assert.match(auth, new RegExp(`^${key}:[0-9a-f]{64}$`));
  assert.ok(verifyChannelAuth(auth, key, secret, '1234.1234', 'private-foobar'));
  assert.not.ok(verifyChannelAuth(auth, key, secret, '1234.1235', 'private-foobar'));
  const data = JSON.stringify({ user_id: '10', user_info: { name: 'Mr. Channels' } });
  const presence = signChannel(key, secret, '1234.1234', 'presence-foobar', data);
  assert.ok(verifyChannelAuth(presence, key, secret, '1234.1234', 'presence-foobar', data));
  assert.not.ok(verifyChannelAuth(presence, key, secret, '1234.1234', 'presence-foobar', data.replace('10', '11')));
  assert.not.ok(verifyChannelAuth(`${key}:short`, key, secret, '1234.1234', 'private-foobar'));
});

test('the official pusher library: its channel auth is ours, and the requests it signs pass verifyRequest', async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const pusher = new Pusher({ appId: '7', key, secret, host: '127.0.0.1', port: String(port), useTLS: false });
  try {
    assert.is(pusher.authorizeChannel('123.456', 'private-a').auth, signChannel(key, secret, '123.456', 'private-a'));
    const presence = pusher.authorizeChannel('123.456', 'presence-a', { user_id: 'u1', user_info: { name: 'Ada' } });
    assert.ok(verifyChannelAuth(presence.auth, key, secret, '123.456', 'presence-a', presence.channel_data));
    const seen: Array<Parameters<typeof verifyRequest>[0]> = [];
    server.on('request', (request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const url = new URL(request.url!, 'http://x');
        seen.push({ method: request.method!, path: url.pathname, query: Object.fromEntries(url.searchParams), body });
        response.setHeader('content-type', 'application/json');
        response.end('{}');
      });
    });
    await pusher.trigger('orders', 'order-created', { id: 1 });
    await pusher.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    assert.is(seen.length, 2);
    assert.is(seen[0]!.path, '/apps/7/events');
    for (const request of seen) verifyRequest(request, key, secret);
  } finally {
    server.close();
  }
});

test.run();
