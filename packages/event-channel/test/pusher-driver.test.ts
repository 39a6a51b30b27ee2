// The pusher broadcasting driver against a recording HTTP server: the exact
// request Pusher's API expects (path, query, signature recomputed here by
// hand, body), the signing against Pusher's published vectors, chunks of 100
// channels, the checks made before anything is sent, and how refusals map to
// codes. Against the broker's own Pusher surface with pusher-js clients:
// event-broker/test/pusher-driver.test.ts.
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { defineEvents } from '../src/index.js';
import { createBroadcaster, pusherDriver, pusherStringToSign, signPusherRequest } from '../src/broadcasting/index.js';
import { expectCode } from './helpers.js';

interface Recorded {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

const credentials = { appId: '42', key: 'app-key', secret: 'app-secret' };

/** A server recording every request and answering what `answer` says (200 `{}` by default). */
async function recordingServer(answer: (request: Recorded, response: ServerResponse) => void = (_, response) => void response.end('{}')) {
  const requests: Recorded[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const recorded = { method: request.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      answer(recorded, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { requests, port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const test = suite('pusher driver');

test('the signature matches Pusher published vectors (the REST API worked example and the gist)', () => {
  // pusher.com/docs/channels/library_auth_reference/rest-api "Worked authentication example".
  const body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
  const signed = signPusherRequest({ key: '278d425bdf160c739803', secret: '7ad3773142a6692b25b8' }, { method: 'POST', path: '/apps/3/events', body }, 1353088179);
  assert.equal(signed, {
    auth_key: '278d425bdf160c739803',
    auth_timestamp: '1353088179',
    auth_version: '1.0',
    body_md5: 'ec365a775a4cd0599faeb73354201b6f',
    auth_signature: 'da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c',
  });
  // The gist the broker's verifier is tested against (mloughran/376898): an extra parameter, sorted in.
  const query = { name: 'foo', auth_version: '1.0', auth_key: '278d425bdf160c739803', auth_timestamp: '1272044395', body_md5: '7b3d404f5cde4a0b9b8fb4789a0098cb' };
  const path = '/apps/3/channels/test_channel/events';
  assert.is(pusherStringToSign('POST', path, query), `POST\n${path}\nauth_key=278d425bdf160c739803&auth_timestamp=1272044395&auth_version=1.0&body_md5=7b3d404f5cde4a0b9b8fb4789a0098cb&name=foo`);
  assert.is(createHmac('sha256', '7ad3773142a6692b25b8').update(pusherStringToSign('POST', path, query)).digest('hex'), '309fc4be20f04e53e011b00744642d3fe66c2c7c5686f35ed6cd2af6f202e445');
});

test('one broadcast is one signed POST /apps/{id}/events: name, data as JSON text, channels, socket_id', async () => {
  const server = await recordingServer();
  try {
    const broadcast = createBroadcaster(pusherDriver({ ...credentials, host: '127.0.0.1', port: server.port, useTLS: false }));
    await broadcast({ broadcastOn: () => ['orders', 'private-user.7'], broadcastAs: () => 'OrderShipped', broadcastWith: () => ({ id: 'o1', note: 'é' }) }).toOthers('123.456');
    assert.is(server.requests.length, 1);
    const [request] = server.requests;
    assert.is(request!.method, 'POST');
    assert.is(request!.path, '/apps/42/events');
    assert.is(request!.headers['content-type'], 'application/json');
    assert.equal(JSON.parse(request!.body), { name: 'OrderShipped', data: '{"id":"o1","note":"é"}', channels: ['orders', 'private-user.7'], socket_id: '123.456' });
    // Recomputed here, independently of the driver's code.
    const { auth_signature: signature, ...params } = request!.query;
    assert.equal(Object.keys(params).sort(), ['auth_key', 'auth_timestamp', 'auth_version', 'body_md5']);
    assert.is(params['auth_key'], 'app-key');
    assert.is(params['auth_version'], '1.0');
    assert.ok(Math.abs(Number(params['auth_timestamp']) - Date.now() / 1000) < 5);
    assert.is(params['body_md5'], createHash('md5').update(request!.body).digest('hex'));
    const sorted = Object.keys(params).sort().map((name) => `${name}=${params[name]}`).join('&');
    assert.is(signature, createHmac('sha256', 'app-secret').update(`POST\n/apps/42/events\n${sorted}`).digest('hex'));
    // Without toOthers, no socket_id.
    await broadcast({ broadcastOn: () => 'orders', broadcastAs: () => 'OrderShipped', broadcastWith: () => 'plain' });
    assert.equal(JSON.parse(server.requests[1]!.body), { name: 'OrderShipped', data: '"plain"', channels: ['orders'] });
  } finally {
    await server.close();
  }
});

test('250 channels go as requests of 100, 100 and 50, each channel once, one after the other', async () => {
  const server = await recordingServer();
  try {
    const channels = Array.from({ length: 250 }, (_, index) => `room.${index}`);
    await createBroadcaster(pusherDriver({ ...credentials, host: '127.0.0.1', port: server.port, useTLS: false }))({ broadcastOn: () => channels, broadcastAs: () => 'Tick', broadcastWith: () => ({}) });
    const sent = server.requests.map((request) => (JSON.parse(request.body) as { channels: string[] }).channels);
    assert.equal(sent.map((chunk) => chunk.length), [100, 100, 50]);
    assert.equal(sent.flat(), channels);
  } finally {
    await server.close();
  }
});

test('checked before anything is sent: data over maxDataBytes, event map, names, socket id, encrypted channels', async () => {
  const server = await recordingServer();
  try {
    const events = defineEvents({ 'order.shipped': z.object({ id: z.string() }) });
    const options = { ...credentials, host: '127.0.0.1', port: server.port, useTLS: false };
    const typed = createBroadcaster(pusherDriver({ ...options, events }));
    const plain = createBroadcaster(pusherDriver(options));
    const send = (broadcast: typeof plain, on: string, data: unknown, socketId?: string) => () => broadcast({ broadcastOn: () => on, broadcastAs: () => 'E', broadcastWith: () => data }).toOthers(socketId);
    await expectCode(send(plain, 'orders', { text: 'x'.repeat(10_240) }), 'payload_too_large');
    await expectCode(send(typed, 'order.created', { id: 'o1' }), 'unknown_event');
    await expectCode(send(typed, 'order.shipped', { id: 1 }), 'invalid_payload');
    await expectCode(send(plain, 'orders:eu', {}), 'invalid_topic');
    await expectCode(send(plain, 'x'.repeat(201), {}), 'invalid_topic');
    await expectCode(send(plain, 'private-encrypted-user.1', {}), 'invalid_topic');
    await expectCode(send(plain, 'orders', {}, 'conn-7f3a'), 'invalid_payload');
    await expectCode(() => plain({ broadcastOn: () => 'orders', broadcastAs: () => 'E'.repeat(201), broadcastWith: () => ({}) }), 'invalid_payload');
    assert.is(server.requests.length, 0);
    // Just under the limit is sent; a larger limit lets more through.
    await send(plain, 'orders', 'x'.repeat(10_240 - 2))();
    await createBroadcaster(pusherDriver({ ...options, maxDataBytes: 20_000 }))({ broadcastOn: () => 'orders', broadcastWith: () => ({ text: 'x'.repeat(10_240) }) });
    await send(typed, 'order.shipped', { id: 'o1' })();
    assert.is(server.requests.length, 3);
  } finally {
    await server.close();
  }
});

test('refusals map to codes: 401, 403, 413, 500, the broker error body, an unreachable host, a timeout', async () => {
  let status = 401;
  let body = 'Invalid signature';
  let hold = false;
  const server = await recordingServer((_, response) => {
    if (hold) return; // never answers: the driver's timeout
    response.writeHead(status, { 'content-type': 'text/plain' }).end(body);
  });
  try {
    const options = { ...credentials, host: '127.0.0.1', port: server.port, useTLS: false };
    const broadcast = createBroadcaster(pusherDriver(options));
    const send = () => broadcast({ broadcastOn: () => Array.from({ length: 150 }, (_, index) => `c${index}`), broadcastWith: () => ({}) });
    await expectCode(send, 'unauthorized');
    assert.is(server.requests.length, 1, 'a refusal stops the remaining chunks');
    for (const [code, expected] of [[403, 'forbidden'], [413, 'payload_too_large'], [400, 'invalid_payload'], [500, 'unavailable'], [503, 'unavailable'], [418, 'internal']] as const) {
      status = code;
      await expectCode(send, expected);
    }
    // The eventwire broker's typed body wins over the status.
    status = 403;
    body = JSON.stringify({ error: { code: 'rejected', message: 'refused by a hook' } });
    await expectCode(send, 'rejected');
    hold = true;
    await expectCode(() => createBroadcaster(pusherDriver({ ...options, timeoutMs: 100 }))({ broadcastOn: () => 'c', broadcastWith: () => ({}) }), 'timeout');
  } finally {
    await server.close();
  }
  // The port is closed now: nothing listens.
  await expectCode(() => createBroadcaster(pusherDriver({ ...credentials, host: '127.0.0.1', port: server.port, useTLS: false }))({ broadcastOn: () => 'c', broadcastWith: () => ({}) }), 'unavailable');
});

test('the host: cluster, host, port and useTLS as Pusher server libraries read them', async () => {
  const urls: string[] = [];
  const fetch = (async (url: string | URL | Request) => {
    urls.push(String(url).split('?')[0]!);
    return new Response('{}');
  }) as typeof globalThis.fetch;
  const send = (options: Partial<Parameters<typeof pusherDriver>[0]>) => createBroadcaster(pusherDriver({ ...credentials, fetch, ...options }))({ broadcastOn: () => 'c', broadcastWith: () => ({}) });
  await send({});
  await send({ cluster: 'eu' });
  await send({ cluster: 'eu', host: 'soketi.internal', port: 6001, useTLS: false });
  await send({ host: 'reverb.example.com' });
  assert.equal(urls, ['https://api.pusherapp.com/apps/42/events', 'https://api-eu.pusher.com/apps/42/events', 'http://soketi.internal:6001/apps/42/events', 'https://reverb.example.com/apps/42/events']);
});

test.run();
