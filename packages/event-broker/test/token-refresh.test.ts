// Credentials refreshed on a live connection (#12): the EventChannel asks
// getToken() ahead of expiry and re-authenticates without reconnecting, and
// the races users of other brokers report — a refresh during a reconnect,
// two refreshes at once, expiry during a subscribe — each end with the
// subscriptions live and one getToken call where one was needed.
import { EventChannel, type ChannelStatus } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BrokerOptions } from '../src/index.js';
import { deferred, RawClient, startBroker, until, within, type TestBroker } from './helpers.js';

const test = suite('token refresh');

/**
 * Tokens here read `<user>:<validForMs>:<n>`: the authenticator under test is
 * the broker's handling of expiry, not a token format.
 */
const shortLived: BrokerOptions['authenticate'] = ({ token }) => {
  const [id = '', validForMs = '0'] = (token ?? '').split(':');
  if (id === '' || id === 'nobody') throw new Error('refused');
  return { id, expiresAt: Date.now() + Number(validForMs) };
};

const opened = (server: TestBroker<never>) => server.logs.filter((line) => / open native /.test(line)).length;

test('refreshes ahead of expiry on the live connection: no reconnect, no 4001, events keep flowing', async () => {
  const server = (await startBroker({ authenticate: shortLived })) as TestBroker<never>;
  let asked = 0;
  const statuses: ChannelStatus['state'][] = [];
  const channel = new EventChannel({ url: server.url, getToken: () => `ada:600:${++asked}` });
  channel.onStatus((status) => statuses.push(status.state));
  const got: unknown[] = [];
  channel.on('t.x', (data) => void got.push(data));
  try {
    await within(channel.ready(), 5000, 'connected');
    // 600 ms tokens are refreshed after 480 ms: three tokens outlive two expiries.
    await until(() => asked >= 4, 'three refreshes', 5000);
    await server.broker.publish('t.x' as never, 'after refreshes' as never);
    await until(() => got.length === 1, 'an event after the refreshes');
    assert.is(opened(server), 1, 'one connection all along');
    assert.not.ok(server.logs.some((line) => line.includes('closed 4001')), server.logs.join('\n'));
    assert.not.ok(statuses.includes('reconnecting'), statuses.join());
  } finally {
    await channel.close();
    await server.stop();
  }
});

test('a refresh in flight when the connection drops is shared by the reconnect (one getToken call), and the channel resumes', async () => {
  const server = (await startBroker({ authenticate: shortLived })) as TestBroker<never>;
  let asked = 0;
  let gate: { promise: Promise<string>; resolve: (token: string) => void } | undefined;
  const channel = new EventChannel({
    url: server.url,
    ws: { backoff: () => 10 },
    getToken: () => {
      asked++;
      return gate ? gate.promise : `ada:600:${asked}`;
    },
  });
  const got: unknown[] = [];
  channel.on('t.y', (data) => void got.push(data));
  try {
    await within(channel.ready(), 5000, 'connected');
    gate = deferred<string>();
    await until(() => asked === 2, 'the refresh is asking', 5000);
    // The broker goes away while the refresh waits; the reconnect needs a token too.
    await server.restart();
    await until(() => opened(server) === 2, 'the new connection waits for its hello');
    assert.is(asked, 2, 'the reconnect shares the refresh in flight: two refreshes at once are one request');
    gate.resolve('ada:60000:fresh');
    gate = undefined;
    await within(channel.ready(), 5000, 'resumed with the shared token');
    await server.broker.publish('t.y' as never, 'live again' as never);
    await until(() => got.length === 1, 'subscription live on the new connection');
    assert.is(asked, 2, 'no extra request after the welcome');
    assert.is(channel.status.state, 'open');
  } finally {
    await channel.close();
    await server.stop();
  }
});

test('expiry during a subscribe: the broker closes 4001, the channel reconnects with a fresh token and the subscription completes', async () => {
  const ruleGate = deferred<void>();
  let ruleStarted = 0;
  const server = (await startBroker({ authenticate: shortLived, interceptTimeoutMs: 5000 }, (broker) => {
    broker.channel('private-room.{id}', async (user) => {
      ruleStarted++;
      await ruleGate.promise;
      return user?.id === 'ada';
    });
  })) as TestBroker<never>;
  let asked = 0;
  const tokenGate = deferred<string>();
  const statuses: ChannelStatus['state'][] = [];
  const channel = new EventChannel({
    url: server.url,
    ws: { backoff: () => 10 },
    // The first token lives 400 ms; its refresh is held until after it expired.
    getToken: () => {
      return ++asked === 1 ? 'ada:400:1' : tokenGate.promise;
    },
  });
  channel.onStatus((status) => statuses.push(status.state));
  const got: unknown[] = [];
  try {
    await within(channel.ready(), 5000, 'connected');
    channel.on('private-room.1', (data) => void got.push(data));
    await until(() => ruleStarted === 1, 'the subscribe is being decided');
    await until(() => server.logs.some((line) => line.includes('closed 4001')), 'closed at expiry', 5000);
    ruleGate.resolve();
    tokenGate.resolve('ada:60000:2');
    await within(channel.ready(), 5000, 'subscribed after reconnecting');
    await server.broker.publish('private-room.1' as never, 'for ada' as never);
    await until(() => got.length === 1, 'the private event');
    assert.is(asked, 2, 'one refresh request, shared by the reconnect');
    assert.ok(statuses.includes('reconnecting'), statuses.join());
    assert.is(channel.status.state, 'open');
  } finally {
    await channel.close();
    await server.stop();
  }
});

test('raw protocol: auth renews expiry (ack with expiresAt/expiresInMs); a token for another user or a bad one is refused and the old one stays until it expires', async () => {
  const server = (await startBroker({ authenticate: shortLived })) as TestBroker<never>;
  try {
    const open = async (token: string) => {
      const client = await RawClient.open(`${server.url}/?token=${encodeURIComponent(token)}`);
      client.send({ type: 'hello', protocol: 1 });
      return { client, welcome: await client.next((frame) => frame['type'] === 'welcome') };
    };
    const { client, welcome } = await open('ada:300:1');
    // The same credentials, opened later (so expiring later), never renewed: the control.
    const { client: control } = await open('ada:300:2');
    const user = welcome['user'] as { id: string; expiresAt: number; expiresInMs: number };
    assert.is(user.id, 'ada');
    assert.ok(user.expiresInMs > 0 && user.expiresInMs <= 300, String(user.expiresInMs));
    client.send({ type: 'auth', id: 1, token: 'bob:60000:1' });
    assert.is((await client.next((frame) => frame['id'] === 1))['code'], 'forbidden', 'another user');
    client.send({ type: 'auth', id: 2, token: 'nobody' });
    assert.is((await client.next((frame) => frame['id'] === 2))['code'], 'unauthorized', 'refused credentials');
    client.send({ type: 'auth', id: 3, token: 'ada:60000:3' });
    const renewed = await client.next((frame) => frame['id'] === 3);
    assert.is(renewed['type'], 'ack');
    assert.ok(Number(renewed['expiresInMs']) > 50_000, JSON.stringify(renewed));
    // A refused renewal leaves the old credentials in force: the control ends at their expiry…
    control.send({ type: 'auth', id: 4, token: 'nobody' });
    await control.next((frame) => frame['id'] === 4);
    assert.equal(await within(control.closed, 3000, 'the control closed at expiry'), { code: 4001, reason: 'token expired' });
    // …by which time the renewed connection's first credentials had expired too; it still answers.
    client.send({ type: 'ping', id: 'still' });
    assert.is((await client.next((frame) => frame['id'] === 'still'))['type'], 'pong');
    client.close();
  } finally {
    await server.stop();
  }
});

test('credentials refused at the hello stay terminal even with a token function (no reconnect loop)', async () => {
  const server = (await startBroker({ authenticate: shortLived })) as TestBroker<never>;
  let asked = 0;
  const channel = new EventChannel({ url: server.url, ws: { backoff: () => 10 }, getToken: () => (asked++, 'nobody'), onError: () => {} });
  try {
    await until(() => channel.status.state === 'closed', 'closed after the refusal');
    assert.is(asked, 1);
    const status = channel.status;
    assert.is(status.state === 'closed' ? status.error?.code : status.state, 'unauthorized');
  } finally {
    await channel.close();
    await server.stop();
  }
});

test.run();
