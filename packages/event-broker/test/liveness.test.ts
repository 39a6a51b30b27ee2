// Dead peers on both sides, and clients that never greet.
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket, { WebSocketServer } from 'ws';
import { EventChannel, type ChannelStatus } from '@eventwire/event-channel';
import { RawClient, startBroker, until, upgradeRefusal, within } from './helpers.js';

const test = suite('liveness and greeting');

test('the broker drops a client that stops answering pings', async () => {
  const server = await startBroker({ heartbeatMs: 40 });
  try {
    // autoPong: false makes this client a dead peer for the broker's pings.
    const socket = new WebSocket(server.url, { autoPong: false });
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(JSON.stringify({ type: 'hello', protocol: 1 }));
    await within(closed, 3000, 'broker to drop the dead peer');
    assert.ok(server.broker.stats().heartbeatTimeouts >= 1);
    assert.ok(server.logs.some((line) => /dead: no pong/.test(line)));
  } finally {
    await server.stop();
  }
});

test('a live client that answers pings is kept across many heartbeats', async () => {
  const server = await startBroker({ heartbeatMs: 20 });
  try {
    const client = await RawClient.native(server.url);
    // Ten heartbeat periods, measured by the broker's own pings being answered.
    let pings = 0;
    client.socket.on('ping', () => pings++);
    await until(() => pings >= 10, 'ten pings', 3000);
    client.send({ type: 'ping', id: 'alive' });
    assert.equal(await client.next(), { type: 'pong', id: 'alive' });
    assert.is(server.broker.stats().heartbeatTimeouts, 0);
    client.close();
  } finally {
    await server.stop();
  }
});

test('the channel reconnects when the broker stops answering its pings', async () => {
  // A fake broker: welcomes, then ignores every frame (a hung process). It owns
  // an explicit HTTP server so cleanup can cut half-open upgrades too: a
  // WebSocketServer that owns its server waits for every connection to end,
  // and a reconnect caught mid-handshake is in none of its lists.
  const http = createServer();
  const fake = new WebSocketServer({ server: http });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  let connections = 0;
  fake.on('connection', (socket) => {
    connections++;
    socket.once('message', () =>
      socket.send(JSON.stringify({ type: 'welcome', protocol: 1, connectionId: `c${connections}`, heartbeatMs: 30, maxPayloadBytes: 1024 })),
    );
  });
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const channel = new EventChannel({ url, ws: { backoff: () => 0, closeTimeoutMs: 200 } });
  try {
    const reconnecting = await within(
      new Promise<ChannelStatus>((resolve) => channel.onStatus((s) => s.state === 'reconnecting' && resolve(s))),
      3000,
      'reconnecting after missed pongs',
    );
    assert.is(reconnecting.state === 'reconnecting' && reconnecting.error?.code, 'connection_closed');
    assert.match(String(reconnecting.state === 'reconnecting' && reconnecting.error?.message), /4009/);
    await until(() => connections >= 2, 'a second connection', 3000);
  } finally {
    // The fake never answers the close barrier either: close() is bounded by closeTimeoutMs.
    const closing = Date.now();
    await within(channel.close(), 5000, 'channel.close() against a hung broker');
    assert.ok(Date.now() - closing < 5000, `close took ${Date.now() - closing} ms`);
    for (const client of fake.clients) client.terminate();
    fake.close();
    http.closeAllConnections();
    await within(new Promise((resolve) => http.close(resolve)), 5000, 'the fake broker to close');
  }
});

test('a native client that never says hello is closed with 4000', async () => {
  const server = await startBroker({ helloTimeoutMs: 50 });
  try {
    const client = await RawClient.open(server.url);
    const error = await client.next();
    assert.equal([error['type'], error['code']], ['error', 'timeout']);
    assert.is((await within(client.closed, 3000, 'close')).code, 4000);
  } finally {
    await server.stop();
  }
});

test('Synap subscribers obey the per-connection subscription limit', async () => {
  const server = await startBroker({ maxSubscriptionsPerConnection: 2 });
  try {
    const refused = await upgradeRefusal(`${server.url}/pubsub/ws?topics=a,b,c`);
    assert.is(refused.status, 429);
    assert.is((refused.body as { error: { code: string } }).error.code, 'limit_exceeded');
  } finally {
    await server.stop();
  }
});

test.run();
