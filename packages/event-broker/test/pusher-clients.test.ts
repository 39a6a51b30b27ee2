// The Pusher surface against the real third-party clients, unchanged:
// pusher-js (its Node build), Laravel Echo with the pusher connector, and the
// official `pusher` server library signing HTTP API calls. Plus raw sockets
// for what those clients never do (an abrupt close, malformed frames).
import { EventChannel } from '@eventwire/event-channel';
import Echo from 'laravel-echo';
import PusherServer from 'pusher';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { signChannel, type BrokerUser, type PusherAppOptions } from '../src/index.js';
import { Pusher, echoClient, pusherClient, socketIdOf, type PusherClient, subscribed } from './pusher-js.js';
import { RawClient, startBroker, until, within, type TestBroker } from './helpers.js';

const app: PusherAppOptions = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789' };
const other: PusherAppOptions = { id: 'blog', key: 'blog-key', secret: 'blog-secret-0123456789' };
const tokens: Record<string, BrokerUser> = { 'alice-token': { id: 'alice' }, 'bob-token': { id: 'bob' }, 'carol-token': { id: 'carol' } };

const test = suite<{ server: TestBroker<never>; clients: Array<{ disconnect(): void }> }>('pusher surface: pusher-js, laravel-echo, pusher server library');

test.before(async (context) => {
  context.clients = [];
  context.server = (await startBroker(
    {
      pusher: { apps: [app, other] },
      allowAnonymous: true,
      maxConnections: 200,
      authenticate: ({ token }) => {
        const user = token === undefined ? undefined : tokens[token];
        if (token !== undefined && !user) throw new Error('unknown token');
        return user;
      },
    },
    (broker) => {
      broker.channel('private-user.{id}', (user, { id }) => user?.id === id);
      broker.channel('private-team.{team}', (user) => user !== undefined);
      broker.channel('presence-room.{room}', (user) => (user ? { name: user.id.toUpperCase() } : false));
    },
  )) as never;
});
test.after.each((context) => {
  for (const client of context.clients.splice(0)) client.disconnect();
});
test.after(async (context) => {
  await context.server.stop();
});

function pusherJs(context: { server: TestBroker<never>; clients: Array<{ disconnect(): void }> }, options: { key?: string; token?: string } = {}): PusherClient {
  const client = pusherClient(context.server, options.key ?? app.key, options.token);
  context.clients.push(client);
  return client;
}

function echo(context: { server: TestBroker<never>; clients: Array<{ disconnect(): void }> }, token?: string): Echo<'pusher'> {
  const instance = echoClient(context.server, app.key, token);
  context.clients.push(instance);
  return instance;
}

function serverLibrary(context: { server: TestBroker<never> }, overrides: Partial<{ secret: string; appId: string }> = {}): PusherServer {
  return new PusherServer({
    appId: overrides.appId ?? app.id,
    key: app.key,
    secret: overrides.secret ?? app.secret,
    host: '127.0.0.1',
    port: String(context.server.port),
    useTLS: false,
  });
}

/** Resolves on an Echo channel's subscription; pusher-js does not say twice, so bind before subscribing completes. */
const echoSubscribed = (channel: { subscribed(callback: () => void): unknown }, what: string): Promise<void> =>
  within(new Promise<void>((resolve) => channel.subscribed(() => resolve())), 5000, what);

test('public channel: pusher-js receives what a native channel publishes, and the native channel what the official server library triggers', async (context) => {
  const client = pusherJs(context);
  const channel = client.subscribe('orders');
  const received: unknown[] = [];
  channel.bind('OrderShipped', (data: unknown) => received.push(data));
  channel.bind('orders', (data: unknown) => received.push({ unnamed: data }));
  await subscribed(channel, 'orders subscribed');
  const native = new EventChannel({ url: context.server.url });
  const heard: unknown[] = [];
  native.on('orders', (data) => void heard.push(data));
  await native.ready();
  try {
    // A native emit carries no Pusher event name: it arrives under the topic's name.
    await native.emit('orders', { id: 1 }, { ack: true });
    await serverLibrary(context).trigger('orders', 'OrderShipped', { id: 2, items: ['a'] });
    await until(() => received.length === 2 && heard.length === 2, 'both sides to receive both events');
    assert.equal(received, [{ unnamed: { id: 1 } }, { id: 2, items: ['a'] }]);
    assert.equal(heard, [{ id: 1 }, { id: 2, items: ['a'] }]);
  } finally {
    await native.close();
  }
});

test('private channel through the auth endpoint with a bearer token (Laravel Echo); another user is refused with the status', async (context) => {
  const alice = echo(context, 'alice-token');
  const got: unknown[] = [];
  const channel = alice.private('user.alice').listen('.InvoicePaid', (data: unknown) => got.push(data));
  await echoSubscribed(channel, 'alice on private-user.alice');
  await context.server.broker.publish('private-user.alice' as never, { invoice: 7 } as never);
  // broker.publish has no Pusher event name; a server-library trigger does.
  await serverLibrary(context).trigger('private-user.alice', 'InvoicePaid', { invoice: 8 });
  await until(() => got.length === 1, 'the named event');
  assert.equal(got, [{ invoice: 8 }]);

  const bob = echo(context, 'bob-token');
  const refused = await within(
    new Promise<{ status?: number; type?: string }>((resolve) => bob.private('user.alice').error((error: { status?: number; type?: string }) => resolve(error))),
    5000,
    "bob's refusal",
  );
  assert.is(refused.type, 'AuthError');
  assert.is(refused.status, 403);

  // A forged signature never gets past the broker either.
  const forger = await RawClient.open(`${context.server.url}/app/${app.key}?protocol=7`);
  try {
    const established = await forger.next((frame) => frame['event'] === 'pusher:connection_established');
    const socketId = (JSON.parse(established['data'] as string) as { socket_id: string }).socket_id;
    forger.send({ event: 'pusher:subscribe', data: { channel: 'private-user.alice', auth: signChannel(app.key, 'wrong-secret', socketId, 'private-user.alice') } });
    const error = await forger.next((frame) => frame['event'] === 'pusher:subscription_error');
    assert.is((error['data'] as { status: number }).status, 401);
  } finally {
    forger.socket.close();
  }
});

test('presence: here, joining and leaving with Laravel Echo, including a connection dropped without a close', async (context) => {
  const alice = echo(context, 'alice-token');
  const here: unknown[][] = [];
  const joined: unknown[] = [];
  const left: unknown[] = [];
  alice
    .join('room.1')
    .here((members: unknown[]) => here.push(members))
    .joining((member: unknown) => joined.push(member))
    .leaving((member: unknown) => left.push(member));
  await until(() => here.length === 1, 'alice to see who is here');
  assert.equal(here[0], [{ name: 'ALICE' }]);

  // Bob joins from a raw socket, signed by the broker's auth endpoint, then drops without a close frame.
  const bob = await RawClient.open(`${context.server.url}/app/${app.key}?protocol=7`);
  const established = await bob.next((frame) => frame['event'] === 'pusher:connection_established');
  const socketId = (JSON.parse(established['data'] as string) as { socket_id: string }).socket_id;
  const auth = await fetch(`${context.server.httpUrl}/broadcasting/auth`, {
    method: 'POST',
    headers: { authorization: 'Bearer bob-token', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ socket_id: socketId, channel_name: 'presence-room.1' }),
  });
  assert.is(auth.status, 200);
  const signed = (await auth.json()) as { auth: string; channel_data: string };
  assert.equal(JSON.parse(signed.channel_data), { user_id: 'bob', user_info: { name: 'BOB' } });
  bob.send({ event: 'pusher:subscribe', data: { channel: 'presence-room.1', ...signed } });
  const succeeded = await bob.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
  const presence = (JSON.parse(succeeded['data'] as string) as { presence: { ids: string[]; hash: Record<string, unknown>; count: number } }).presence;
  assert.equal({ ids: [...presence.ids].sort(), count: presence.count }, { ids: ['alice', 'bob'], count: 2 });
  assert.equal(presence.hash['alice'], { name: 'ALICE' });
  await until(() => joined.length === 1, 'alice to see bob join');
  assert.equal(joined, [{ name: 'BOB' }]);
  const members = (await (await serverLibrary(context).get({ path: '/channels/presence-room.1/users' })).json()) as { users: Array<{ id: string }> };
  assert.equal(members.users.map((user) => user.id).sort(), ['alice', 'bob']);

  bob.socket.terminate(); // the tab closed abruptly: no close frame
  await until(() => left.length === 1, 'alice to see bob leave');
  assert.equal(left, [{ name: 'BOB' }]);

  // Carol joins and leaves through Echo's own leave().
  const carol = echo(context, 'carol-token');
  carol.join('room.1');
  await until(() => joined.length === 2, 'alice to see carol join');
  carol.leave('room.1');
  await until(() => left.length === 2, 'alice to see carol leave');
  assert.equal(left[1], { name: 'CAROL' });
});

test('whisper (client events) reaches the others on the channel, never the sender; public channels refuse them', async (context) => {
  const alice = echo(context, 'alice-token');
  const bob = echo(context, 'bob-token');
  const aliceHeard: unknown[] = [];
  const bobHeard: unknown[] = [];
  const aliceChannel = alice.private('team.red').listenForWhisper('typing', (data: unknown) => aliceHeard.push(data));
  const bobChannel = bob.private('team.red').listenForWhisper('typing', (data: unknown) => bobHeard.push(data));
  const afterwards: unknown[] = [];
  aliceChannel.listen('.afterwards', (data: unknown) => afterwards.push(data));
  await Promise.all([echoSubscribed(aliceChannel, 'alice on team.red'), echoSubscribed(bobChannel, 'bob on team.red')]);
  aliceChannel.whisper('typing', { who: 'alice' });
  await until(() => bobHeard.length === 1, 'bob to hear the whisper');
  assert.equal(bobHeard, [{ who: 'alice' }]);
  // An event after the whisper reaches alice in order: had the whisper come back, it would be there first.
  await serverLibrary(context).trigger('private-team.red', 'afterwards', { n: 1 });
  await until(() => afterwards.length === 1, 'alice to get the later event');
  assert.equal(aliceHeard, []);

  const raw = await RawClient.open(`${context.server.url}/app/${app.key}?protocol=7`);
  try {
    await raw.next((frame) => frame['event'] === 'pusher:connection_established');
    raw.send({ event: 'pusher:subscribe', data: { channel: 'lobby' } });
    await raw.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
    raw.send({ event: 'client-typing', channel: 'lobby', data: {} });
    const error = await raw.next((frame) => frame['event'] === 'pusher:error');
    assert.is((error['data'] as { error_code: string }).error_code, 'forbidden');
  } finally {
    raw.socket.close();
  }
});

test('toOthers: X-Socket-ID on an HTTP publish and socket_id from the server library leave the sender out', async (context) => {
  const sender = echo(context);
  const receiver = echo(context);
  const senderGot: unknown[] = [];
  const receiverGot: unknown[] = [];
  const senderChannel = sender.channel('chat.1').listen('.message', (data: unknown) => senderGot.push(data));
  const receiverChannel = receiver.channel('chat.1').listen('.message', (data: unknown) => receiverGot.push(data));
  await Promise.all([echoSubscribed(senderChannel, 'sender'), echoSubscribed(receiverChannel, 'receiver')]);
  const socketId = sender.socketId()!;
  assert.match(socketId, /^\d+\.\d+$/);

  // What Laravel's toOthers() sends to the app, and the broker's own HTTP publish honours.
  const response = await fetch(`${context.server.httpUrl}/pubsub/chat.1/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-socket-id': socketId },
    body: JSON.stringify({ payload: { text: 'via X-Socket-ID' }, metadata: { event: 'message' } }),
  });
  assert.is(response.status, 200);
  await serverLibrary(context).trigger('chat.1', 'message', { text: 'via socket_id' }, { socket_id: socketId });
  await serverLibrary(context).trigger('chat.1', 'message', { text: 'to all' });
  await until(() => receiverGot.length === 3 && senderGot.length === 1, 'the events to arrive');
  assert.equal(senderGot, [{ text: 'to all' }]);
  assert.equal(receiverGot, [{ text: 'via X-Socket-ID' }, { text: 'via socket_id' }, { text: 'to all' }]);
});

test('the official server library: batch, channel info, channel list with user counts, send to a signed-in user', async (context) => {
  const library = serverLibrary(context);
  const client = pusherJs(context, { token: 'alice-token' });
  const a = client.subscribe('news.a');
  const b = client.subscribe('news.b');
  const room = client.subscribe('presence-room.9');
  await Promise.all([subscribed(a, 'news.a'), subscribed(b, 'news.b'), subscribed(room, 'presence-room.9')]);
  const got: string[] = [];
  a.bind('headline', (data: { n: number }) => got.push(`a${data.n}`));
  b.bind('headline', (data: { n: number }) => got.push(`b${data.n}`));
  const batch = await library.triggerBatch([
    { channel: 'news.a', name: 'headline', data: { n: 1 } },
    { channel: 'news.b', name: 'headline', data: { n: 2 }, info: 'subscription_count' },
  ]);
  assert.equal(await batch.json(), { batch: [{}, { subscription_count: 1 }] });
  const multi = await library.trigger(['news.a', 'news.b'], 'headline', { n: 3 }, { info: 'subscription_count' });
  assert.equal(await multi.json(), { channels: { 'news.a': { subscription_count: 1 }, 'news.b': { subscription_count: 1 } } });
  await until(() => got.length === 4, 'four headlines');
  assert.equal(got, ['a1', 'b2', 'a3', 'b3']);

  const info = (await (await library.get({ path: '/channels/presence-room.9', params: { info: 'user_count,subscription_count' } })).json()) as Record<string, unknown>;
  assert.equal(info, { occupied: true, subscription_count: 1, user_count: 1 });
  const empty = (await (await library.get({ path: '/channels/nobody-here' })).json()) as Record<string, unknown>;
  assert.equal(empty, { occupied: false });
  const list = (await (await library.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } })).json()) as {
    channels: Record<string, unknown>;
  };
  assert.equal(list.channels['presence-room.9'], { user_count: 1 });
  assert.ok(Object.keys(list.channels).every((name) => name.startsWith('presence-')));

  // pusher:signin through the user-auth endpoint, then sendToUser.
  const notices: unknown[] = [];
  client.user.bind('notice', (data: unknown) => notices.push(data));
  client.signin();
  await until(() => (client.user as unknown as { user_data: unknown }).user_data !== null && (client.user as unknown as { user_data: unknown }).user_data !== undefined, 'signin');
  const userChannel = (client.user as unknown as { serverToUserChannel: { subscribed: boolean } }).serverToUserChannel;
  await until(() => userChannel.subscribed, 'the user channel');
  await library.sendToUser('alice', 'notice', { text: 'hello alice' });
  await until(() => notices.length === 1, 'the notice');
  assert.equal(notices, [{ text: 'hello alice' }]);
});

test('refusals in the protocol\'s terms: a bad signature, a stale timestamp, an unknown app id (HTTP); a wrong app key (4001) and over capacity (4100) for sockets', async (context) => {
  const badSecret = await serverLibrary(context, { secret: 'not-the-secret' })
    .trigger('orders', 'x', {})
    .then(
      () => undefined,
      (error: { status: number; body: string }) => error,
    );
  assert.is(badSecret?.status, 401);
  assert.match(badSecret!.body, /auth_signature/);

  const unknownApp = await serverLibrary(context, { appId: 'nope' })
    .trigger('orders', 'x', {})
    .then(
      () => undefined,
      (error: { status: number }) => error,
    );
  assert.is(unknownApp?.status, 404);

  // A request signed correctly but 11 minutes ago.
  const { signRequest } = await import('../src/auth/pusher-signature.js');
  const { createHash } = await import('node:crypto');
  const body = JSON.stringify({ name: 'x', channels: ['orders'], data: '{}' });
  const query: Record<string, string> = {
    auth_key: app.key,
    auth_timestamp: String(Math.floor(Date.now() / 1000) - 660),
    auth_version: '1.0',
    body_md5: createHash('md5').update(body).digest('hex'),
  };
  query['auth_signature'] = signRequest(app.secret, 'POST', `/apps/${app.id}/events`, query);
  const stale = await fetch(`${context.server.httpUrl}/apps/${app.id}/events?${new URLSearchParams(query)}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  assert.is(stale.status, 401);
  assert.match(await stale.text(), /auth_timestamp/);

  const wrongKey = pusherJs(context, { key: 'no-such-key' });
  // pusher-js wraps the server's pusher:error in its WebSocketError.
  const error = await within(
    new Promise<{ error?: { data?: { code?: number } } }>((resolve) => wrongKey.connection.bind('error', resolve)),
    5000,
    'the wrong key to be refused',
  );
  assert.is(error.error?.data?.code, 4001);
  await until(() => wrongKey.connection.state === 'failed' || wrongKey.connection.state === 'disconnected', 'pusher-js to give up, not retry');
});

test('over capacity: a Pusher client past maxConnections gets 4100 (pusher-js backs off rather than giving up)', async () => {
  const small = await startBroker({ pusher: true, maxConnections: 1 });
  const clients: PusherClient[] = [];
  try {
    const make = () => {
      const client = new Pusher('app-key', { cluster: 'eventwire', wsHost: '127.0.0.1', wsPort: small.port, forceTLS: false, enabledTransports: ['ws'] });
      clients.push(client);
      return client;
    };
    await socketIdOf(make());
    const second = make();
    const error = await within(new Promise<{ error?: { data?: { code?: number } } }>((resolve) => second.connection.bind('error', resolve)), 5000, 'the refusal');
    assert.is(error.error?.data?.code, 4100);
  } finally {
    for (const client of clients) client.disconnect();
    await small.stop();
  }
});

test('apps are isolated: the same channel name in two apps is two channels; native clients reach the second app under its namespace', async (context) => {
  const shop = pusherJs(context);
  const blog = pusherJs(context, { key: other.key });
  const shopGot: unknown[] = [];
  const blogGot: unknown[] = [];
  const shopChannel = shop.subscribe('news');
  const blogChannel = blog.subscribe('news');
  shopChannel.bind('post', (data: unknown) => shopGot.push(data));
  blogChannel.bind('post', (data: unknown) => blogGot.push(data));
  await Promise.all([subscribed(shopChannel, 'shop news'), subscribed(blogChannel, 'blog news')]);
  await serverLibrary(context).trigger('news', 'post', { app: 'shop' });
  const blogLibrary = new PusherServer({ appId: other.id, key: other.key, secret: other.secret, host: '127.0.0.1', port: String(context.server.port), useTLS: false });
  await blogLibrary.trigger('news', 'post', { app: 'blog' });
  const native = new EventChannel({ url: context.server.url });
  await native.ready();
  try {
    await until(() => shopGot.length === 1 && blogGot.length === 1, 'each app its own events');
    assert.equal(shopGot, [{ app: 'shop' }]);
    assert.equal(blogGot, [{ app: 'blog' }]);
    // A native emit (no Pusher event name) arrives under the app's channel name, not the namespaced topic.
    const blogAll: Array<[string, unknown]> = [];
    blogChannel.bind_global((event: string, data: unknown) => blogAll.push([event, data]));
    await native.emit('blog:news', { from: 'native' }, { ack: true });
    await until(() => blogAll.some(([event]) => event === 'news'), 'the native event under the channel name');
    assert.equal(blogAll.find(([event]) => event === 'news')![1], { from: 'native' });
    assert.equal(shopGot, [{ app: 'shop' }]);
  } finally {
    await native.close();
  }
  // The blog app's secret cannot sign for the shop app.
  const crossed = await new PusherServer({ appId: app.id, key: app.key, secret: other.secret, host: '127.0.0.1', port: String(context.server.port), useTLS: false })
    .trigger('news', 'post', {})
    .then(
      () => 200,
      (error: { status: number }) => error.status,
    );
  assert.is(crossed, 401);
});

test('bad input on a Pusher socket gets pusher:error with a code and loses nothing else; the connect needs a protocol version', async (context) => {
  const raw = await RawClient.open(`${context.server.url}/app/${app.key}?protocol=7&client=js&version=8.4.0`);
  try {
    await raw.next((frame) => frame['event'] === 'pusher:connection_established');
    raw.send({ event: 'pusher:subscribe', data: { channel: 'feed' } });
    await raw.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
    raw.socket.send('{not json');
    assert.is(((await raw.next((frame) => frame['event'] === 'pusher:error'))['data'] as { error_code: string }).error_code, 'invalid_frame');
    raw.send({ event: 'pusher:subscribe', data: { channel: 'bad channel!' } });
    const refused = await raw.next((frame) => frame['event'] === 'pusher:subscription_error');
    assert.is((refused['data'] as { error_code: string }).error_code, 'invalid_topic');
    raw.send({ event: 'pusher:subscribe', data: { channel: 'a..b' } });
    await raw.next((frame) => frame['event'] === 'pusher:subscription_error' && frame['channel'] === 'a..b');
    raw.send({ event: 'pusher:ping', data: {} });
    await raw.next((frame) => frame['event'] === 'pusher:pong');
    // Still subscribed and delivered to.
    await context.server.broker.publish('feed' as never, { still: 'here' } as never);
    const event = await raw.next((frame) => frame['event'] === 'feed');
    assert.equal(JSON.parse(event['data'] as string), { still: 'here' });
  } finally {
    raw.socket.close();
  }

  const noVersion = await RawClient.open(`${context.server.url}/app/${app.key}`);
  const error = await noVersion.next((frame) => frame['event'] === 'pusher:error');
  assert.is((error['data'] as { code: number }).code, 4008);
  assert.is((await noVersion.closed).code, 4008);
});

test.run();
