// The broadcasting API's pusher driver (event-channel) against the broker's
// own Pusher surface, with pusher-js clients as Laravel pages run them: what
// the driver broadcasts arrives once, on the right channels (private ones
// too), toOthers leaves the named socket out, more than 100 channels reach
// each channel once, and the broker's refusals come back typed. Its signing
// is checked against the official `pusher` library's. The exact request and
// the mapping of Pusher's own answers: event-channel/test/pusher-driver.test.ts.
import { createBroadcaster, pusherDriver, signPusherRequest, type PusherDriverOptions } from '@eventwire/event-channel/broadcasting';
import { EventwireError } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { PusherAppOptions } from '../src/index.js';
import { pusherClient, socketIdOf, type PusherClient, subscribed } from './pusher-js.js';
import { startBroker, until, type TestBroker } from './helpers.js';
// pusher-http-node's own request signing (CommonJS, untyped).
// @ts-expect-error no declaration file for the library's internal module
import { createSignedQueryString } from 'pusher/lib/requests.js';
// @ts-expect-error no declaration file for the library's internal module
import Token from 'pusher/lib/token.js';

const app: PusherAppOptions = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789' };
const MAX_PAYLOAD = 16 * 1024;

interface Context {
  server: TestBroker<never>;
  clients: PusherClient[];
}
const test = suite<Context>('pusher driver → the broker Pusher surface');

test.before(async (context) => {
  context.clients = [];
  context.server = (await startBroker(
    {
      pusher: { apps: [app] },
      allowAnonymous: true,
      maxPayloadBytes: MAX_PAYLOAD,
      maxConnections: 100,
      authenticate: ({ token }) => (token ? { id: token } : undefined),
    },
    (broker) => {
      broker.channel('private-user.{id}', (user, { id }) => user?.id === id);
      broker.intercept('refunds', (_event, hook) => hook.reject('refunds are closed'));
    },
  )) as never;
});
test.after.each((context) => {
  for (const client of context.clients.splice(0)) client.disconnect();
});
test.after(async (context) => {
  await context.server.stop();
});

function pusherJs(context: Context, token?: string): PusherClient {
  const client = pusherClient(context.server, app.key, token);
  context.clients.push(client);
  return client;
}


/** Subscribes and records every `event` on each channel as `channel data`. */
async function listen(client: PusherClient, channels: readonly string[], event: string): Promise<string[]> {
  const received: string[] = [];
  await Promise.all(
    channels.map((name) => {
      const channel = client.subscribe(name);
      channel.bind(event, (data: unknown) => void received.push(`${name} ${JSON.stringify(data)}`));
      return subscribed(channel, `subscribed to ${name}`);
    }),
  );
  return received;
}

const driverOptions = (server: TestBroker<never>, more: Partial<PusherDriverOptions> = {}): PusherDriverOptions => ({
  appId: app.id,
  key: app.key,
  secret: app.secret,
  host: '127.0.0.1',
  port: server.port,
  useTLS: false,
  ...more,
});

test('pusher-js pages receive the broadcast once on each channel they are on, a private one included; toOthers leaves its socket out', async (context) => {
  const broadcast = createBroadcaster(pusherDriver(driverOptions(context.server)));
  const ada = pusherJs(context, 'ada');
  const bob = pusherJs(context);
  const adaGot = await listen(ada, ['orders', 'private-user.ada'], 'OrderShipped');
  const bobGot = await listen(bob, ['orders'], 'OrderShipped');
  const shipped = (id: string) => ({ broadcastOn: () => ['orders', 'private-user.ada'], broadcastAs: () => 'OrderShipped', broadcastWith: () => ({ id, carrier: 'DHL' }) });

  await broadcast(shipped('o1'));
  await until(() => adaGot.length === 2 && bobGot.length === 1, 'o1 everywhere');
  // ada's own action: her socket is left out, on both channels; bob still gets it.
  await broadcast(shipped('o2')).toOthers(await socketIdOf(ada));
  await broadcast(shipped('o3'));
  await until(() => bobGot.length === 3 && adaGot.length >= 4, 'o3 everywhere');
  assert.equal(adaGot.sort(), ['orders {"id":"o1","carrier":"DHL"}', 'orders {"id":"o3","carrier":"DHL"}', 'private-user.ada {"id":"o1","carrier":"DHL"}', 'private-user.ada {"id":"o3","carrier":"DHL"}']);
  assert.equal(bobGot, ['orders {"id":"o1","carrier":"DHL"}', 'orders {"id":"o2","carrier":"DHL"}', 'orders {"id":"o3","carrier":"DHL"}']);
});

test('250 channels: three signed requests the broker accepts, each channel reached once', async (context) => {
  let requests = 0;
  const counting: typeof fetch = (input, init) => {
    requests += 1;
    return fetch(input, init);
  };
  const channels = Array.from({ length: 250 }, (_, index) => `room.${index}`);
  const client = pusherJs(context);
  const received = await listen(client, channels, 'Tick');
  await createBroadcaster(pusherDriver(driverOptions(context.server, { fetch: counting })))({ broadcastOn: () => channels, broadcastAs: () => 'Tick', broadcastWith: () => ({ n: 1 }) });
  assert.is(requests, 3);
  await until(() => received.length >= 250, 'every channel');
  // A later event on the last channel marks the end: nothing more of the first broadcast can follow.
  await createBroadcaster(pusherDriver(driverOptions(context.server)))({ broadcastOn: () => 'room.249', broadcastAs: () => 'Tick', broadcastWith: () => ({ n: 2 }) });
  await until(() => received.includes('room.249 {"n":2}'), 'the marker');
  assert.equal(received.filter((line) => line.endsWith('{"n":1}')).sort(), channels.map((name) => `${name} {"n":1}`).sort());
});

test("the broker's refusals come back typed: a wrong secret, a hook's refusal, data over its maxPayloadBytes", async (context) => {
  const send = (options: Partial<PusherDriverOptions>, on: string, data: unknown) =>
    createBroadcaster(pusherDriver(driverOptions(context.server, options)))({ broadcastOn: () => on, broadcastAs: () => 'E', broadcastWith: () => data });
  const codeOf = async (promise: PromiseLike<void>): Promise<string> => {
    try {
      await promise;
    } catch (error) {
      assert.instance(error, EventwireError);
      return (error as EventwireError).code;
    }
    return 'sent';
  };
  assert.is(await codeOf(send({ secret: 'not-the-secret' }, 'orders', {})), 'unauthorized');
  assert.is(await codeOf(send({ key: 'not-the-key' }, 'orders', {})), 'unauthorized');
  assert.is(await codeOf(send({ appId: 'nope' }, 'orders', {})), 'not_found');
  assert.is(await codeOf(send({}, 'refunds', { id: 'r1' })), 'rejected');
  // The driver's own bound raised past the broker's: the broker's 413 comes back as its code.
  assert.is(await codeOf(send({ maxDataBytes: 64 * 1024 }, 'orders', { text: 'x'.repeat(MAX_PAYLOAD) })), 'payload_too_large');
  assert.is(await codeOf(send({}, 'orders', { ok: true })), 'sent');
});

test("the driver's signature is the official pusher library's, for the same request and second", () => {
  const realNow = Date.now;
  Date.now = () => 1_700_000_000_123;
  try {
    const body = JSON.stringify({ name: 'OrderShipped', data: '{"id":"o1"}', channels: ['orders', 'private-user.ada'], socket_id: '1.2' });
    const theirs = createSignedQueryString(new Token(app.key, app.secret), { method: 'POST', path: '/apps/shop/events', body }) as string;
    const ours = signPusherRequest(app, { method: 'POST', path: '/apps/shop/events', body });
    assert.equal(Object.fromEntries(new URLSearchParams(theirs)), ours);
  } finally {
    Date.now = realNow;
  }
});

test.run();
