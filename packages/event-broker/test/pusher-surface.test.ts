// The Pusher surface's edges: hooks on what Pusher clients and the HTTP API
// publish, the client-event rate limit (4301), terminate_connections (4009,
// not retried), the auth endpoint mounted in an HTTP server of one's own
// (Node listener and fetch handler), Echo's 'reverb' broadcaster, and the
// connection counts by surface.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Echo from 'laravel-echo';
import PusherServer from 'pusher';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signChannel, type PusherAppOptions } from '../src/index.js';
import { Pusher, pusherClient } from './pusher-js.js';
import { pusherSocket, startBroker, until, within, type TestBroker } from './helpers.js';


const app: PusherAppOptions = { id: 'edge', key: 'edge-key', secret: 'edge-secret-0123456789', maxClientEventsPerSecond: 3 };
const test = suite<{ server: TestBroker<never>; origins: string[] }>('pusher surface: hooks, limits, terminate, auth handlers');

test.before(async (context) => {
  context.origins = [];
  context.server = (await startBroker(
    {
      pusher: { apps: [app] },
      allowAnonymous: true,
      authenticate: ({ token }) => (token ? { id: token } : undefined),
    },
    (broker) => {
      broker.channel('private-team.{team}', (user) => user !== undefined);
      broker.channel('private-encrypted-team.{team}', (user) => user !== undefined);
      broker.intercept('orders', (event, context) => {
        if ((event.data as { total?: number }).total === 0) context.reject('total must be positive');
      });
    },
  )) as never;
  context.server.broker.observe('#', (_event, hook) => void context.origins.push(hook.origin.surface));
});
test.after(async (context) => {
  await context.server.stop();
});

const library = (server: TestBroker<never>): PusherServer =>
  new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(server.port), useTLS: false });

test('hooks see Pusher publishes: an intercept refusal fails the HTTP trigger with its code; client events are origin "pusher"', async ({ server, origins }) => {
  const refused = await library(server)
    .trigger('orders', 'OrderPlaced', { total: 0 })
    .then(
      () => undefined,
      (error: { status: number; body: string }) => error,
    );
  assert.is(refused?.status, 403);
  assert.match(refused!.body, /rejected/);
  assert.match(refused!.body, /total must be positive/);
  await library(server).trigger('orders', 'OrderPlaced', { total: 5 });
  await until(() => origins.includes('http'), 'the HTTP publish observed');

  const { client, socketId } = await pusherSocket(server, app.key);
  try {
    client.send({ event: 'pusher:subscribe', data: { channel: 'private-team.x', auth: signChannel(app.key, app.secret, socketId, 'private-team.x') } });
    await client.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
    client.send({ event: 'client-ping', channel: 'private-team.x', data: { n: 1 } });
    await until(() => origins.includes('pusher'), 'the client event observed with origin pusher');
  } finally {
    client.socket.close();
  }
});

test('client events past the app\'s rate get pusher:error 4301; the connection stays and later ones pass again', async ({ server }) => {
  const sender = await pusherSocket(server, app.key);
  const receiver = await pusherSocket(server, app.key);
  try {
    for (const { client, socketId } of [sender, receiver]) {
      client.send({ event: 'pusher:subscribe', data: { channel: 'private-team.rate', auth: signChannel(app.key, app.secret, socketId, 'private-team.rate') } });
      await client.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
    }
    for (let n = 1; n <= 5; n++) sender.client.send({ event: 'client-tick', channel: 'private-team.rate', data: { n } });
    const error = await sender.client.next((frame) => frame['event'] === 'pusher:error');
    assert.is((error['data'] as { code: number }).code, 4301);
    sender.client.send({ event: 'pusher:ping', data: {} });
    await sender.client.next((frame) => frame['event'] === 'pusher:pong');
    await until(() => receiver.client.received.filter((frame) => frame['event'] === 'client-tick').length === 3, 'the three within the burst');
    const ticks = receiver.client.received.filter((frame) => frame['event'] === 'client-tick').map((frame) => JSON.parse(frame['data'] as string).n);
    assert.equal(ticks, [1, 2, 3]);
    assert.ok(server.broker.stats().refused.rate_limited >= 2, 'counted as refusals');
  } finally {
    sender.client.socket.close();
    receiver.client.socket.close();
  }
});

test('terminate_connections closes the user\'s sockets with 4009, which pusher-js does not retry', async ({ server }) => {
  const pusher = pusherClient(server, app.key, 'zed');
  try {
    pusher.signin();
    await until(() => Boolean((pusher.user as unknown as { user_data: unknown }).user_data), 'signed in as zed');
    const states: string[] = [];
    pusher.connection.bind('state_change', (change: { current: string }) => states.push(change.current));
    await library(server).terminateUserConnections('zed');
    await until(() => states.includes('disconnected') || states.includes('failed'), 'pusher-js to be disconnected');
    assert.not.ok(states.includes('connecting'), `not retried: ${states.join(' → ')}`);
  } finally {
    pusher.disconnect();
  }
});

test('the auth endpoint in an HTTP server of your own: the Node listener and the fetch handler run the broker\'s rules', async ({ server }) => {
  const listener = server.broker.pusherAuthHandler();
  const own = createServer((request, response) => void listener(request, response));
  await new Promise<void>((resolve) => own.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(own.address() as AddressInfo).port}/broadcasting/auth`;
    const form = new URLSearchParams({ socket_id: '1.2', channel_name: 'private-team.blue' });
    const allowed = await fetch(url, { method: 'POST', body: form, headers: { authorization: 'Bearer kim' } });
    assert.is(allowed.status, 200);
    assert.equal(await allowed.json(), { auth: signChannel(app.key, app.secret, '1.2', 'private-team.blue') });
    const anonymous = await fetch(url, { method: 'POST', body: form });
    assert.is(anonymous.status, 403);
    const json = await fetch(url, { method: 'POST', body: JSON.stringify({ socket_id: 'nope', channel_name: 'private-team.blue' }), headers: { 'content-type': 'application/json' } });
    assert.is(json.status, 400);
    assert.is(((await json.json()) as { error: { code: string } }).error.code, 'invalid_payload');
  } finally {
    await new Promise((resolve) => own.close(resolve));
  }
  const handle = server.broker.pusherAuthFetch();
  const answer = await handle(
    new Request('http://app.example/broadcasting/auth', {
      method: 'POST',
      body: new URLSearchParams({ socket_id: '3.4', channel_name: 'private-team.green' }),
      headers: { authorization: 'Bearer kim' },
    }),
    '203.0.113.9',
  );
  assert.is(answer.status, 200);
  assert.equal(await answer.json(), { auth: signChannel(app.key, app.secret, '3.4', 'private-team.green') });
});

test('encrypted channels: without a master key the broker\'s auth endpoint refuses them; client events on them are refused as on Pusher', async ({ server }) => {
  const form = new URLSearchParams({ socket_id: '5.6', channel_name: 'private-encrypted-team.x' });
  const refused = await fetch(`${server.httpUrl}/broadcasting/auth`, { method: 'POST', body: form, headers: { authorization: 'Bearer kim' } });
  assert.is(refused.status, 400);
  assert.match(((await refused.json()) as { error: { message: string } }).error.message, /encryptionMasterKey/);
  const { client, socketId } = await pusherSocket(server, app.key);
  try {
    // Signed as Laravel's endpoint would (it holds the master key, the broker need not).
    client.send({ event: 'pusher:subscribe', data: { channel: 'private-encrypted-team.x', auth: signChannel(app.key, app.secret, socketId, 'private-encrypted-team.x') } });
    await client.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
    client.send({ event: 'client-note', channel: 'private-encrypted-team.x', data: {} });
    const error = await client.next((frame) => frame['event'] === 'pusher:error');
    assert.match((error['data'] as { message: string }).message, /not supported on encrypted channels/);
  } finally {
    client.socket.close();
  }
});

test('oversized input is refused with payload_too_large, on the socket (which stays up) and over the HTTP API (413)', async () => {
  const small = (await startBroker({ pusher: { apps: [app] }, maxPayloadBytes: 1024 })) as unknown as TestBroker<never>;
  try {
    const { client } = await pusherSocket(small, app.key);
    try {
      client.send({ event: 'client-big', channel: 'private-team.x', data: { text: 'x'.repeat(2000) } });
      const error = await client.next((frame) => frame['event'] === 'pusher:error');
      assert.is((error['data'] as { error_code: string }).error_code, 'payload_too_large');
      client.send({ event: 'pusher:ping', data: {} });
      await client.next((frame) => frame['event'] === 'pusher:pong');
    } finally {
      client.socket.close();
    }
    const refused = await library(small)
      .trigger('orders', 'Big', { text: 'x'.repeat(2000) })
      .then(
        () => undefined,
        (failure: { status: number; body: string }) => failure,
      );
    assert.is(refused?.status, 413);
    assert.match(refused!.body, /payload_too_large/);
  } finally {
    await small.stop();
  }
});

test("Echo's 'reverb' broadcaster connects unchanged; /stats counts Pusher connections by surface", async ({ server }) => {
  const echo = new Echo({
    broadcaster: 'reverb',
    key: app.key,
    wsHost: '127.0.0.1',
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    Pusher: Pusher as never,
  });
  try {
    const got: unknown[] = [];
    const channel = echo.channel('reverb.news').listen('.story', (data: unknown) => got.push(data));
    await within(new Promise<void>((resolve) => channel.subscribed(() => resolve())), 5000, 'subscribed through the reverb connector');
    assert.ok(server.broker.stats().connections.pusher >= 1);
    await library(server).trigger('reverb.news', 'story', { id: 1 });
    await until(() => got.length === 1, 'the story');
    assert.equal(got, [{ id: 1 }]);
  } finally {
    echo.disconnect();
  }
});

test('a broker restart closes Pusher sockets with 4200 (reconnect now): pusher-js comes back and resubscribes; a slow-consumer cut is 4100 (back off)', async () => {
  const restarting = await startBroker({ pusher: true });
  const pusher = new Pusher('app-key', { cluster: 'eventwire', wsHost: '127.0.0.1', wsPort: restarting.port, forceTLS: false, enabledTransports: ['ws'] });
  try {
    const got: unknown[] = [];
    const channel = pusher.subscribe('status');
    channel.bind('status', (data: unknown) => got.push(data));
    await within(new Promise((resolve) => channel.bind('pusher:subscription_succeeded', resolve)), 5000, 'subscribed');
    // pusher-js reports a close with a Pusher code (not 1000/1001) as an error carrying it.
    const codes: unknown[] = [];
    pusher.connection.bind('error', (error: { error?: { data?: { code?: number } } }) => codes.push(error.error?.data?.code));
    await restarting.restart();
    // pusher-js retries at once on 4200; when that lands in the moment the
    // port is closed, its Node build waits out its 15 s strategy timeout.
    await until(() => restarting.broker.stats().subscriptions === 1, 'pusher-js back and resubscribed', 20_000);
    await restarting.broker.publish('status' as never, { after: 'restart' } as never);
    await until(() => got.length === 1, 'an event after the restart');
    assert.equal(got, [{ after: 'restart' }]);
    assert.equal(codes.filter((code) => code !== undefined), [4200], "the close code pusher-js saw (connect errors while the broker was down carry none)");
  } finally {
    pusher.disconnect();
    await restarting.stop();
  }
  const { pusherCloseCode } = await import('../src/surfaces/pusher/pusher-session.js');
  assert.equal([1001, 4008, 4001, 4009].map(pusherCloseCode), [4200, 4100, 4009, 4009]);
});

test.run();
