// engine.io-client v6 (the transport under socket.io-client v4), unchanged,
// from Node against the broker's own Engine.IO layer (an echo surface
// registered through BrokerOptions.surfaces): long-polling only, WebSocket
// only, polling upgraded to WebSocket, binary both ways, the broker closing.
// Beside it, what the official suite does not check: connections born from
// HTTP go through the broker's admission (caps, authentication), the
// broker's heartbeat leaves a session that keeps its own liveness alone,
// CORS, and the POST size bound.
import { Socket, type SocketOptions } from 'engine.io-client';
import { WebSocket } from 'ws';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventwireError } from '@eventwire/event-channel';
import type { BrokerOptions } from '../src/index.js';
import { engineEchoSurface } from './conformance/engine-echo-surface.js';
import { startBroker, until, within } from './helpers.js';

const test = suite('Engine.IO: engine.io-client and the HTTP-born connection');

/** Quick pings, so a session that stopped answering is gone in well under a second. */
const timing = { pingInterval: 300, pingTimeout: 200 } as const;

interface Client {
  readonly socket: Socket;
  /** The next message the client receives (text as a string, binary as a Buffer). */
  next(): Promise<string | Buffer>;
  /** Resolves with the close reason. */
  readonly closed: Promise<string>;
}

async function openClient(url: string, options: Partial<SocketOptions>): Promise<Client> {
  const socket = new Socket(url, { path: '/engine.io/', ...options });
  const received: Array<string | Buffer> = [];
  const waiting: Array<(message: string | Buffer) => void> = [];
  socket.on('message', (data) => {
    const message = typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer);
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else received.push(message);
  });
  const closed = new Promise<string>((resolve) => socket.on('close', (reason) => resolve(reason)));
  await within(new Promise<void>((resolve, reject) => {
    socket.on('open', () => resolve());
    socket.on('error', (error) => reject(error));
  }), 5000, 'the client opened');
  return {
    socket,
    closed,
    next: () => within(received.length > 0 ? Promise.resolve(received.shift()!) : new Promise((resolve) => waiting.push(resolve)), 5000, 'a message'),
  };
}

async function echoBroker(options: BrokerOptions = {}, engine: Parameters<typeof engineEchoSurface>[0] = timing) {
  return startBroker({ surfaces: [engineEchoSurface(engine)], ...options });
}

test('long-polling only: text and binary echo both ways', async () => {
  await using server = await echoBroker();
  const client = await openClient(server.httpUrl, { transports: ['polling'] });
  assert.is(client.socket.transport.name, 'polling');
  assert.is(server.broker.stats().connections['engine-echo'], 1, 'a connection of its surface');
  client.socket.send('hello');
  assert.is(await client.next(), 'hello');
  client.socket.send(Uint8Array.from([1, 2, 3, 250]));
  assert.equal(await client.next(), Buffer.from([1, 2, 3, 250]));
  // Past a few ping intervals the session lives on: the client answers the server's pings.
  await until(() => server.broker.stats().connections['engine-echo'] === 1 && client.socket.readyState === 'open', 'open');
  client.socket.close();
  await within(client.closed, 2000, 'closed');
  await until(() => server.broker.stats().connections['engine-echo'] === 0, 'the broker forgot it');
});

test('WebSocket only: text and binary echo both ways', async () => {
  await using server = await echoBroker();
  const client = await openClient(server.httpUrl, { transports: ['websocket'] });
  assert.is(client.socket.transport.name, 'websocket');
  client.socket.send('hello');
  assert.is(await client.next(), 'hello');
  client.socket.send(Uint8Array.from([9, 8, 7]));
  assert.equal(await client.next(), Buffer.from([9, 8, 7]));
  client.socket.close();
  await within(client.closed, 2000, 'closed');
});

test('long-polling upgraded to WebSocket: the messages sent across the switch arrive once and in order', async () => {
  await using server = await echoBroker();
  const client = await openClient(server.httpUrl, { transports: ['polling', 'websocket'] });
  const upgraded = new Promise<string>((resolve) => client.socket.on('upgrade', (transport) => resolve(transport.name)));
  const sent = Array.from({ length: 20 }, (_, index) => `m${index}`);
  for (const message of sent.slice(0, 10)) client.socket.send(message);
  assert.is(await within(upgraded, 5000, 'the upgrade'), 'websocket');
  for (const message of sent.slice(10)) client.socket.send(message);
  const received: Array<string | Buffer> = [];
  for (let index = 0; index < sent.length; index++) received.push(await client.next());
  assert.equal(received, sent);
  client.socket.send(Uint8Array.from([4, 2]));
  assert.equal(await client.next(), Buffer.from([4, 2]));
  assert.is(server.broker.stats().connections['engine-echo'], 1, 'one connection through the switch');
  client.socket.close();
  await within(client.closed, 2000, 'closed');
});

test('the broker closing closes every session: the client sees close on each transport', async () => {
  const server = await echoBroker();
  const polling = await openClient(server.httpUrl, { transports: ['polling'] });
  const websocket = await openClient(server.httpUrl, { transports: ['websocket'] });
  await server.broker.close();
  assert.ok(['transport close', 'transport error'].includes(await within(polling.closed, 3000, 'polling closed')));
  assert.is(await within(websocket.closed, 3000, 'websocket closed'), 'transport close');
});

test('a polling handshake is admitted like an upgrade: per-address caps and authentication', async () => {
  await using server = await echoBroker(
    {
      maxConnectionsPerIp: 1,
      authenticate: ({ token }) => {
        if (token === undefined) throw new EventwireError('unauthorized', 'a token is needed');
        return { id: token };
      },
    },
    { ...timing, credentials: 'required' },
  );
  const handshake = (query: string): Promise<Response> => fetch(`${server.httpUrl}/engine.io/?EIO=4&transport=polling${query}`);
  const anonymous = await handshake('');
  assert.is(anonymous.status, 401);
  assert.is(((await anonymous.json()) as { error: { code: string } }).error.code, 'unauthorized');
  const first = await handshake('&token=alice');
  assert.is(first.status, 200);
  assert.ok((await first.text()).startsWith('0{'));
  const second = await handshake('&token=alice');
  assert.is(second.status, 429, 'over the per-address cap');
  assert.is(((await second.json()) as { error: { code: string } }).error.code, 'rate_limited');
  // A WebSocket handshake goes through the same admission.
  const client = new Socket(server.httpUrl, { path: '/engine.io/', transports: ['websocket'], query: { token: 'alice' } });
  await within(new Promise<void>((resolve) => client.on('close', () => resolve())), 3000, 'refused');
  assert.is(server.broker.stats().connections['engine-echo'], 1);
});

test('the broker’s heartbeat leaves a session that keeps its own liveness alone', async () => {
  // A heartbeat tick much shorter than the session's pings: the tick must neither probe nor drop it.
  await using server = await echoBroker({ heartbeatMs: 50 }, { pingInterval: 5000, pingTimeout: 5000 });
  const client = await openClient(server.httpUrl, { transports: ['polling'] });
  // Absence over a bounded window: six ticks, where a wire the heartbeat watched is dropped at the second.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.is(server.broker.stats().heartbeatTimeouts, 0);
  client.socket.send('still here');
  assert.is(await client.next(), 'still here');
  client.socket.close();
});

test('CORS: a preflight is answered 204 for an allowed origin, and every answer carries the headers', async () => {
  await using server = await echoBroker({}, { ...timing, cors: { origin: ['https://app.example'], credentials: true } });
  const url = `${server.httpUrl}/engine.io/?EIO=4&transport=polling`;
  const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-headers': 'content-type' } });
  assert.is(preflight.status, 204);
  assert.is(preflight.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.is(preflight.headers.get('access-control-allow-credentials'), 'true');
  assert.is(preflight.headers.get('access-control-allow-headers'), 'content-type');
  const handshake = await fetch(url, { headers: { origin: 'https://app.example' } });
  assert.is(handshake.status, 200);
  assert.is(handshake.headers.get('access-control-allow-origin'), 'https://app.example');
  assert.is(handshake.headers.get('vary'), 'Origin');
  await handshake.text();
  const other = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://evil.example' } });
  assert.is(other.headers.get('access-control-allow-origin'), null, 'an origin not listed gets no grant');
});

test('an upgrade that does not complete within upgradeTimeout is dropped, and long-polling goes on', async () => {
  await using server = await echoBroker({}, { pingInterval: 5000, pingTimeout: 5000, upgradeTimeout: 200 });
  const base = `${server.httpUrl}/engine.io/?EIO=4&transport=polling`;
  const sid = (JSON.parse((await (await fetch(base)).text()).slice(1)) as { sid: string }).sid;
  const probe = new WebSocket(`${server.url}/engine.io/?EIO=4&transport=websocket&sid=${sid}`);
  const closed = new Promise<number>((resolve) => probe.on('close', (code) => resolve(code)));
  await within(new Promise((resolve) => probe.once('open', resolve)), 2000, 'the probe opened');
  const answered = new Promise<string>((resolve) => probe.once('message', (data: Buffer) => resolve(data.toString())));
  probe.send('2probe');
  assert.is(await within(answered, 2000, '3probe'), '3probe');
  // No `5`: the probe is dropped once upgradeTimeout passes.
  await within(closed, 2000, 'the probe dropped');
  assert.is((await fetch(`${base}&sid=${sid}`, { method: 'POST', body: '4after' })).status, 200);
  assert.is(await (await fetch(`${base}&sid=${sid}`)).text(), '4after');
  assert.is(server.broker.stats().connections['engine-echo'], 1, 'the session lives on');
});

test('a POST over maxPayload is answered 413 and closes the session', async () => {
  await using server = await echoBroker({}, { ...timing, maxPayload: 1000 });
  const base = `${server.httpUrl}/engine.io/?EIO=4&transport=polling`;
  const sid = (JSON.parse((await (await fetch(base)).text()).slice(1)) as { sid: string }).sid;
  const post = await fetch(`${base}&sid=${sid}`, { method: 'POST', body: `4${'x'.repeat(2000)}` });
  assert.is(post.status, 413);
  assert.is((await fetch(`${base}&sid=${sid}`)).status, 400, 'the session is gone');
  await until(() => server.broker.stats().connections['engine-echo'] === 0, 'the broker forgot it');
});

test.run();
