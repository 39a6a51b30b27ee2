// The typed client API of presence channels (#13) against a real broker:
// channel.presence(name, { member }) with members(), onJoin, onLeave,
// onSync; the list replaced (and the difference reported) after a
// reconnect; member info checked by its schema; refusals and transports
// without member lists.
import { EventChannel, EventwireError, type PresenceMember, type WebSocketConstructor } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { z } from 'zod';
import { startBroker, until, within, type TestBroker } from './helpers.js';

const test = suite('presence, client API');

const member = z.object({ name: z.string() });

async function presenceBroker(): Promise<TestBroker<never>> {
  return (await startBroker({ authenticate: ({ token }) => (token ? { id: token } : undefined) }, (broker) => {
    broker.channel('presence-room.{roomId}', (user) => (user ? { name: user.id.toUpperCase() } : false));
    // Returns info that does not fit the client's member schema.
    broker.channel('presence-odd', (user) => (user ? { name: 42 } : false));
    broker.channel('presence-staff', () => false);
  })) as unknown as TestBroker<never>;
}

/** A WebSocket the test can cut, and keep from reconnecting until it says so. */
function cuttableSockets(): { WebSocket: WebSocketConstructor; cut(): void; allow(): void } {
  const state = { allowed: true, last: undefined as WebSocket | undefined };
  class Cuttable extends WebSocket {
    constructor(url: string) {
      // Refused at once while cut: port 1 has no listener.
      super(state.allowed ? url : url.replace(/:\d+\//, ':1/'));
      state.last = this;
    }
  }
  return {
    WebSocket: Cuttable,
    cut() {
      state.allowed = false;
      state.last?.terminate();
    },
    allow() {
      state.allowed = true;
    },
  };
}

const names = (members: readonly PresenceMember<{ name: string }>[]): string[] => members.map((m) => m.info.name);

test('members on joining, onJoin and onLeave as others come and go, typed by the member schema', async () => {
  const server = await presenceBroker();
  const ada = new EventChannel({ url: `${server.url}/?token=ada` });
  const bob = new EventChannel({ url: `${server.url}/?token=bob` });
  try {
    const room = ada.presence('presence-room.7', { member });
    const synced: string[][] = [];
    room.onSync((members) => synced.push(names(members)));
    const joined: string[] = [];
    const left: string[] = [];
    room.onJoin((m) => joined.push(m.info.name));
    room.onLeave((m) => left.push(m.info.name));
    await within(room.ready, 3000, 'ada has the list');
    assert.equal(room.members(), [{ id: 'ada', info: { name: 'ADA' } }]);
    assert.equal(synced, [['ADA']]);

    const bobRoom = bob.presence('presence-room.7', { member });
    await bobRoom.ready;
    assert.equal(names(bobRoom.members()), ['ADA', 'BOB'], 'bob sees ada and himself');
    await until(() => joined.length === 1, 'ada told bob joined');
    assert.equal(joined, ['BOB']);
    assert.is(room.count, 2);
    assert.equal(room.get('bob'), { id: 'bob', info: { name: 'BOB' } });

    bobRoom.leave();
    await until(() => left.length === 1, 'ada told bob left');
    assert.equal(left, ['BOB']);
    assert.equal(names(room.members()), ['ADA']);
    assert.equal(joined, ['BOB'], 'no join reported twice');
  } finally {
    await Promise.all([ada.close(), bob.close()]);
    await server.stop();
  }
});

test('after a reconnect the list is replaced: who left and who came while away are reported as leaves and joins', async () => {
  const server = await presenceBroker();
  const sockets = cuttableSockets();
  const ada = new EventChannel({ url: `${server.url}/?token=ada`, ws: { WebSocket: sockets.WebSocket, backoff: () => 10 } });
  const bob = new EventChannel({ url: `${server.url}/?token=bob` });
  const carol = new EventChannel({ url: `${server.url}/?token=carol` });
  try {
    const room = ada.presence('presence-room.7', { member });
    const events: string[] = [];
    let syncs = 0;
    room.onJoin((m) => events.push(`join:${m.id}`));
    room.onLeave((m) => events.push(`leave:${m.id}`));
    room.onSync(() => syncs++);
    await room.ready;
    const bobRoom = bob.presence('presence-room.7', { member });
    await bobRoom.ready;
    await until(() => room.count === 2, 'ada sees bob');
    events.length = 0;

    const reconnecting = new Promise<void>((resolve) => ada.onStatus((status) => status.state === 'reconnecting' && resolve()));
    sockets.cut();
    await within(reconnecting, 3000, 'ada reconnecting');
    // While ada is away: bob leaves, carol comes.
    const bobLeft = new Promise<void>((resolve) => bobRoom.onLeave((m) => m.id === 'ada' && resolve()));
    await within(bobLeft, 3000, 'the broker saw ada go');
    bobRoom.leave();
    const carolRoom = carol.presence('presence-room.7', { member });
    await carolRoom.ready;
    assert.equal(names(carolRoom.members()), ['CAROL'], 'ada and bob are gone for the broker');
    assert.equal(names(room.members()), ['ADA', 'BOB'], 'ada still shows the list it had');

    sockets.allow();
    await until(() => syncs === 2, 'ada resubscribed and got the new list');
    assert.equal(events.sort(), ['join:carol', 'leave:bob']);
    assert.equal(names(room.members()), ['CAROL', 'ADA']);
  } finally {
    await Promise.all([ada.close(), bob.close(), carol.close()]);
    await server.stop();
  }
});

test('a member whose info fails the schema is left out and reported; a view on an existing subscription starts from its list', async () => {
  const server = await presenceBroker();
  const errors: EventwireError[] = [];
  const ada = new EventChannel({ url: `${server.url}/?token=ada`, onError: (error) => errors.push(error) });
  try {
    const odd = ada.presence('presence-odd', { member });
    await odd.ready;
    assert.equal(odd.members(), []);
    assert.is(errors[0]?.code, 'invalid_payload');
    assert.match(errors[0]!.message, /presence-odd/);

    // Subscribed with on() first (for its messages), then presence(): no second subscribe, the same list.
    await ada.on('presence-room.9', () => {}).ready;
    const untyped = ada.presence('presence-room.9');
    await within(untyped.ready, 3000, 'the list from the existing subscription');
    assert.equal(untyped.members(), [{ id: 'ada', info: { name: 'ADA' } }]);
  } finally {
    await ada.close();
    await server.stop();
  }
});

test('refusals: a rule that says no, not a presence name, a transport with no member lists, a closed channel', async () => {
  const server = await presenceBroker();
  const ada = new EventChannel({ url: `${server.url}/?token=ada`, onError: () => {} });
  const local = new EventChannel({ url: 'memory://presence-test' });
  try {
    const refused = ada.presence('presence-staff');
    const failure = await refused.ready.then(() => undefined, (error: EventwireError) => error);
    assert.is(failure?.code, 'forbidden');
    assert.equal(refused.members(), []);

    assert.throws(() => ada.presence('room.7' as `presence-${string}`), (error: EventwireError) => error.code === 'invalid_topic');
    assert.throws(() => ada.presence('presence-room.*'), (error: EventwireError) => error.code === 'invalid_topic');
    assert.throws(() => local.presence('presence-room.7'), (error: EventwireError) => error.code === 'unsupported_transport');

    // Closed right after asking: the close drains what is in flight, so the
    // list may still arrive; either way `ready` settles, it never hangs.
    const pending = ada.presence('presence-room.8');
    await ada.close();
    const outcome = await within(pending.ready.then(() => 'synced', (error: EventwireError) => error.code), 3000, 'ready settled');
    assert.ok(outcome === 'synced' || outcome === 'channel_closed', outcome);
    assert.throws(() => ada.presence('presence-room.7'), (error: EventwireError) => error.code === 'channel_closed');
  } finally {
    await Promise.all([ada.close(), local.close()]);
    await server.stop();
  }
});

test.run();
