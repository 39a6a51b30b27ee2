// Presence channels (#13), broker side over the native protocol: who is here
// on join (with the info the presence rule returned), member_added /
// member_removed to the others, one member per user however many
// connections, leaving when the last goes — unsubscribed, closed, killed or
// dropped by the heartbeat — GET /channels/{name}/members, a member limit,
// and the same on the broadcasting surface.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startBroker, until, type TestBroker } from './helpers.js';

const test = suite('presence');

async function presenceBroker(options: { heartbeatMs?: number; maxPresenceMembers?: number } = {}): Promise<TestBroker<never>> {
  return (await startBroker(
    { authenticate: ({ token }) => (token ? { id: token } : undefined), ...options },
    (broker) =>
      void broker.channel('presence-room.{roomId}', (user) => (user ? { name: user.id.toUpperCase() } : false)),
  )) as unknown as TestBroker<never>;
}

let frameId = 0;
async function join(server: TestBroker<never>, user: string, channel = 'presence-room.1'): Promise<{ client: RawClient; members: unknown }> {
  const client = await RawClient.open(`${server.url}/?token=${user}`);
  client.send({ type: 'hello', protocol: 1 });
  await client.next((frame) => frame['type'] === 'welcome');
  const id = `j${++frameId}`;
  client.send({ type: 'subscribe', id, pattern: channel });
  const answer = await client.next((frame) => frame['id'] === id);
  if (answer['type'] !== 'ack') return { client, members: answer['code'] };
  const presence = await client.next((frame) => frame['type'] === 'presence');
  return { client, members: presence['members'] };
}

const memberEvents = (client: RawClient) =>
  client.received.filter((f) => f['type'] === 'member_added' || f['type'] === 'member_removed').map((f) => `${f['type']}:${(f['member'] as { id: string }).id}`);

test('join gets the members with their info; the others get member_added; a second connection of the same user is not a new member', async () => {
  const server = await presenceBroker();
  try {
    const ada = await join(server, 'ada');
    assert.equal(ada.members, [{ id: 'ada', info: { name: 'ADA' } }]);
    const bob = await join(server, 'bob');
    assert.equal(bob.members, [{ id: 'ada', info: { name: 'ADA' } }, { id: 'bob', info: { name: 'BOB' } }]);
    await until(() => memberEvents(ada.client).length === 1, 'ada told of bob');
    assert.equal(ada.client.received.find((f) => f['type'] === 'member_added'), { type: 'member_added', channel: 'presence-room.1', member: { id: 'bob', info: { name: 'BOB' } } });
    const adaAgain = await join(server, 'ada');
    assert.is((adaAgain.members as unknown[]).length, 2, 'still two members');
    const members = (await (await fetch(`${server.httpUrl}/channels/presence-room.1/members`, { headers: { authorization: 'Bearer bob' } })).json()) as { count: number; members: unknown[] };
    assert.is(members.count, 2);
    // The first of ada's connections leaves: ada is still here. The second leaves: ada is gone.
    ada.client.close();
    await until(() => server.logs.filter((line) => line.includes(' closed ')).length === 1, 'closed');
    adaAgain.client.send({ type: 'unsubscribe', id: 'u', pattern: 'presence-room.1' });
    await adaAgain.client.next((frame) => frame['id'] === 'u');
    await until(() => memberEvents(bob.client).includes('member_removed:ada'), 'bob told ada left');
    assert.equal(memberEvents(bob.client), ['member_removed:ada'], 'one removal, when the last connection left');
    bob.client.close();
    adaAgain.client.close();
  } finally {
    await server.stop();
  }
});

test('a connection killed abruptly, and one dropped by the heartbeat, leave the channel', async () => {
  const server = await presenceBroker({ heartbeatMs: 100 });
  try {
    const watcher = await join(server, 'watcher');
    const killed = await join(server, 'killed');
    const silent = await join(server, 'silent');
    await until(() => memberEvents(watcher.client).length === 2, 'two joined');
    killed.client.socket.terminate(); // no closing handshake
    await until(() => memberEvents(watcher.client).includes('member_removed:killed'), 'the killed one left');
    // Stops reading: it answers no ping, and the broker drops it.
    (silent.client.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => memberEvents(watcher.client).includes('member_removed:silent'), 'the silent one dropped', 5000);
    assert.ok(server.broker.stats().heartbeatTimeouts >= 1);
    const members = (await (await fetch(`${server.httpUrl}/channels/presence-room.1/members`, { headers: { authorization: 'Bearer watcher' } })).json()) as { members: Array<{ id: string }> };
    assert.equal(members.members.map((member) => member.id), ['watcher']);
    watcher.client.close();
    silent.client.socket.terminate();
  } finally {
    await server.stop();
  }
});

test('the member limit refuses a new user, not another connection of a member; anonymous and foreign callers are refused', async () => {
  const server = await presenceBroker({ maxPresenceMembers: 2 });
  try {
    const a = await join(server, 'a');
    const b = await join(server, 'b');
    assert.is((await join(server, 'c')).members, 'limit_exceeded');
    const aAgain = await join(server, 'a');
    assert.is((aAgain.members as unknown[]).length, 2);
    assert.is((await fetch(`${server.httpUrl}/channels/presence-room.1/members`)).status, 401, 'no credentials');
    assert.is((await fetch(`${server.httpUrl}/channels/orders/members`, { headers: { authorization: 'Bearer a' } })).status, 404, 'not a presence channel');
    for (const client of [a.client, b.client, aAgain.client]) client.close();
  } finally {
    await server.stop();
  }
});

test('the broadcasting surface: subscribed carries the members; member_added / member_removed arrive as {event, channel, data}; one member across surfaces', async () => {
  const server = await presenceBroker();
  try {
    const web = await RawClient.open(`${server.url}/api/v1/broadcasting/ws?token=ada`);
    await web.next((frame) => frame['event'] === 'connected');
    web.send({ event: 'subscribe', channel: 'presence-room.1' });
    const subscribed = await web.next((frame) => frame['event'] === 'subscribed');
    assert.equal(subscribed, { event: 'subscribed', channel: 'presence-room.1', members: [{ id: 'ada', info: { name: 'ADA' } }] });
    // The same user over the native protocol is the same member: nobody is told.
    const adaNative = await join(server, 'ada');
    assert.is((adaNative.members as unknown[]).length, 1);
    const bob = await join(server, 'bob');
    assert.equal(await web.next((frame) => frame['event'] === 'member_added'), { event: 'member_added', channel: 'presence-room.1', data: { id: 'bob', info: { name: 'BOB' } } });
    bob.client.close();
    assert.equal(await web.next((frame) => frame['event'] === 'member_removed'), { event: 'member_removed', channel: 'presence-room.1', data: { id: 'bob', info: { name: 'BOB' } } });
    // The web client unsubscribes: ada stays (her native connection); it goes, ada leaves.
    const watcher = await join(server, 'watcher');
    web.send({ event: 'unsubscribe', channel: 'presence-room.1' });
    await web.next((frame) => frame['event'] === 'unsubscribed');
    adaNative.client.socket.terminate();
    await until(() => memberEvents(watcher.client).includes('member_removed:ada'), 'ada left with her last connection');
    assert.equal(memberEvents(watcher.client), ['member_removed:ada']);
    // A broadcasting client that closes leaves too.
    const carol = await RawClient.open(`${server.url}/api/v1/broadcasting/ws?token=carol`);
    carol.send({ event: 'subscribe', channel: 'presence-room.1' });
    await carol.next((frame) => frame['event'] === 'subscribed');
    await until(() => memberEvents(watcher.client).includes('member_added:carol'), 'carol joined');
    carol.socket.terminate();
    await until(() => memberEvents(watcher.client).includes('member_removed:carol'), 'carol left');
    web.close();
    watcher.client.close();
  } finally {
    await server.stop();
  }
});

test.run();
