// The simple broadcasting WebSocket surface (#13): the minimal client that
// FastAPI "Laravel-like broadcasting" projects ship, used unchanged — a raw
// WebSocket on /api/v1/broadcasting/ws?token=…, {"event":"subscribe"} frames
// in, {"event","channel","data"} broadcasts out — under the same
// authentication and channel rules as every other surface.
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { createJwtAuthenticator } from '../src/index.js';
import { startBroker, until, upgradeRefusal, within, type TestBroker } from './helpers.js';

const SECRET = 'broadcasting-surface-secret-0123';
const test = suite<{ server: TestBroker<never> }>('broadcasting surface');

test.before(async (context) => {
  context.server = (await startBroker(
    { authenticate: createJwtAuthenticator({ secret: SECRET }) },
    (broker) => void broker.channel('private-user.{id}', (user, { id }) => user?.id === id),
  )) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

const token = (sub: string) => new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

/** The client as those projects' docs write it: no library, the browser's WebSocket API. */
async function minimalClient(url: string): Promise<{ socket: WebSocket; received: Array<Record<string, unknown>>; next: (event: string) => Promise<Record<string, unknown>> }> {
  const socket = new WebSocket(url);
  const received: Array<Record<string, unknown>> = [];
  socket.onmessage = (event) => void received.push(JSON.parse(String(event.data)) as Record<string, unknown>);
  await within(new Promise((resolve, reject) => ((socket.onopen = resolve), (socket.onerror = reject))), 2000, 'open');
  let cursor = 0;
  const next = async (event: string) => {
    let found: Record<string, unknown> | undefined;
    await until(() => {
      while (cursor < received.length) {
        const frame = received[cursor++]!;
        if (frame['event'] === event) return Boolean((found = frame));
      }
      return false;
    }, `a "${event}" frame`);
    return found!;
  };
  return { socket, received, next };
}

const publish = (server: TestBroker<never>, topic: string, body: Record<string, unknown>, sub = 'backend') =>
  token(sub).then((jwt) =>
    fetch(`${server.httpUrl}/pubsub/${topic}/publish`, { method: 'POST', headers: { authorization: `Bearer ${jwt}` }, body: JSON.stringify(body) }),
  );

test('the minimal client, unchanged: subscribe to "users", receive {event: "UserCreated", channel, data}', async ({ server }) => {
  const client = await minimalClient(`${server.url}/api/v1/broadcasting/ws?token=${await token('ada')}`);
  try {
    const connected = await client.next('connected');
    assert.type(connected['socket_id'], 'string');
    client.socket.send(JSON.stringify({ event: 'subscribe', channel: 'users' }));
    assert.equal(await client.next('subscribed'), { event: 'subscribed', channel: 'users' });
    // A Laravel-like backend names the event in the metadata; without a name the topic is the name.
    assert.is((await publish(server, 'users', { payload: { id: 7, name: 'Ada' }, metadata: { event: 'UserCreated' } })).status, 200);
    assert.equal(await client.next('UserCreated'), { event: 'UserCreated', channel: 'users', data: { id: 7, name: 'Ada' } });
    assert.is((await publish(server, 'users', { payload: 'plain' })).status, 200);
    assert.equal(await client.next('users'), { event: 'users', channel: 'users', data: 'plain' });
    client.socket.send(JSON.stringify({ event: 'unsubscribe', channel: 'users' }));
    await client.next('unsubscribed');
    assert.equal(server.broker.stats().connections.broadcasting, 1);
  } finally {
    client.socket.close();
  }
});

test('same authentication and channel rules: no or a wrong token is refused at the upgrade; a foreign private channel is refused and never delivered', async ({ server }) => {
  assert.is((await upgradeRefusal(`${server.url}/api/v1/broadcasting/ws`)).status, 401, 'no token');
  assert.is((await upgradeRefusal(`${server.url}/api/v1/broadcasting/ws?token=forged`)).status, 401, 'a wrong token');
  const ada = await minimalClient(`${server.url}/api/v1/broadcasting/ws?token=${await token('ada')}`);
  try {
    ada.socket.send(JSON.stringify({ event: 'subscribe', channel: 'private-user.bob' }));
    const refused = await ada.next('error');
    assert.equal([refused['channel'], refused['code']], ['private-user.bob', 'forbidden']);
    ada.socket.send(JSON.stringify({ event: 'subscribe', channel: 'private-user.ada' }));
    await ada.next('subscribed');
    ada.socket.send(JSON.stringify({ event: 'subscribe', channel: '#' }));
    await ada.next('subscribed');
    await publish(server, 'private-user.bob', { payload: 'for bob', metadata: { event: 'Secret' } }, 'bob');
    await publish(server, 'private-user.ada', { payload: 'for ada', metadata: { event: 'Note' } }, 'ada');
    assert.equal((await ada.next('Note'))['data'], 'for ada');
    ada.socket.send(JSON.stringify({ event: 'ping' }));
    await ada.next('pong');
    assert.not.ok(ada.received.some((frame) => frame['event'] === 'Secret'), 'no foreign private event, not even through #');
  } finally {
    ada.socket.close();
  }
});

test('bad input gets an error event and costs nothing else: not JSON, an unknown event, a bad channel', async ({ server }) => {
  const client = await minimalClient(`${server.url}/api/v1/broadcasting/ws?token=${await token('ada')}`);
  try {
    for (const [frame, code] of [
      ['not json', 'invalid_frame'],
      [JSON.stringify({ event: 'publish', channel: 'users' }), 'invalid_frame'],
      [JSON.stringify({ event: 'subscribe' }), 'invalid_pattern'],
      [JSON.stringify({ event: 'subscribe', channel: 'a..b' }), 'invalid_pattern'],
    ] as const) {
      client.socket.send(frame);
      assert.is((await client.next('error'))['code'], code, frame);
    }
    client.socket.send(JSON.stringify({ event: 'ping' }));
    await client.next('pong');
    // A plain HTTP request to the path says how to connect.
    const plain = await fetch(`${server.httpUrl}/api/v1/broadcasting/ws`);
    assert.is(plain.status, 426);
  } finally {
    client.socket.close();
  }
});

test.run();
