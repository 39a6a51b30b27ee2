// "Broadcast to everyone except me" (#13, to_others): a publish that leaves
// out the publishing connection — from the native protocol, the EventChannel
// API (ws:// and memory://), and HTTP with `socket_id` or `X-Socket-ID`, which
// is what Laravel's toOthers() sends.
import { EventChannel, MemoryHub } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startBroker, until, type TestBroker } from './helpers.js';

const test = suite<{ server: TestBroker<never> }>('to others');

test.before(async (context) => {
  context.server = (await startBroker()) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

const topicsOf = (client: RawClient) => client.received.filter((f) => f['type'] === 'event').map((f) => (f['event'] as { data: unknown }).data);

async function subscribed(server: TestBroker<never>, pattern: string): Promise<RawClient> {
  const client = await RawClient.native(server.url);
  client.send({ type: 'subscribe', id: 's', pattern });
  await client.next((frame) => frame['id'] === 's');
  return client;
}

async function barrier(client: RawClient): Promise<void> {
  client.send({ type: 'ping', id: 'barrier' });
  await client.next((frame) => frame['id'] === 'barrier');
}

test('native: toOthers leaves out the publisher, however it is subscribed; without it the publisher gets its own event', async ({ server }) => {
  const sender = await subscribed(server, 'room.#');
  const other = await subscribed(server, 'room.1');
  const event = (data: string) => ({ id: `e-${data}`, topic: 'room.1', source: 'test', time: new Date().toISOString(), data });
  sender.send({ type: 'publish', id: 'p1', event: event('to others'), toOthers: true });
  assert.is((await sender.next((frame) => frame['id'] === 'p1'))['type'], 'ack');
  sender.send({ type: 'publish', id: 'p2', event: event('to all') });
  await sender.next((frame) => frame['id'] === 'p2');
  await barrier(sender);
  await until(() => topicsOf(other).length === 2, 'the other connection got both');
  assert.equal(topicsOf(sender), ['to all']);
  assert.equal(topicsOf(other), ['to others', 'to all']);
  sender.close();
  other.close();
});

test('EventChannel over ws://: emit(…, { toOthers: true }) reaches other channels, not its own handlers; connectionId names it', async ({ server }) => {
  const alice = new EventChannel({ url: server.url });
  const bob = new EventChannel({ url: server.url });
  const aliceGot: unknown[] = [];
  const bobGot: unknown[] = [];
  alice.on('chat.*', (data) => void aliceGot.push(data));
  bob.on('chat.*', (data) => void bobGot.push(data));
  try {
    await Promise.all([alice.ready(), bob.ready()]);
    assert.type(alice.connectionId, 'string');
    assert.is.not(alice.connectionId, bob.connectionId);
    await alice.emit('chat.lobby', 'typed by alice', { toOthers: true, ack: true });
    await alice.emit('chat.lobby', 'for everyone', { ack: true });
    await until(() => bobGot.length === 2 && aliceGot.length === 1, 'deliveries');
    assert.equal(aliceGot, ['for everyone']);
    assert.equal(bobGot, ['typed by alice', 'for everyone']);
  } finally {
    await alice.close();
    await bob.close();
  }
});

test('memory://: the same option, the same meaning', async () => {
  const hub = new MemoryHub();
  const alice = new EventChannel({ url: 'memory://room', memoryHub: hub });
  const bob = new EventChannel({ url: 'memory://room', memoryHub: hub });
  const aliceGot: unknown[] = [];
  const bobGot: unknown[] = [];
  alice.on('chat.*', (data) => void aliceGot.push(data));
  bob.on('chat.*', (data) => void bobGot.push(data));
  await Promise.all([alice.ready(), bob.ready()]);
  await alice.emit('chat.lobby', 'to others', { toOthers: true });
  await alice.emit('chat.lobby', 'to all');
  await until(() => bobGot.length === 2 && aliceGot.length === 1, 'deliveries');
  assert.equal([aliceGot, bobGot], [['to all'], ['to others', 'to all']]);
  await alice.close();
  await bob.close();
});

test('HTTP: socket_id in the body or X-Socket-ID (Laravel toOthers()) leaves that connection out; a malformed one is refused', async ({ server }) => {
  const browser = new EventChannel({ url: server.url });
  const other = await subscribed(server, 'order.*');
  const got: unknown[] = [];
  browser.on('order.*', (data) => void got.push(data));
  try {
    await browser.ready();
    const socketId = browser.connectionId!;
    const post = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
      fetch(`${server.httpUrl}/pubsub/order.shipped/publish`, { method: 'POST', headers, body: JSON.stringify(body) });
    assert.is((await post({ payload: 'body socket_id', socket_id: socketId })).status, 200);
    assert.is((await post({ payload: 'header' }, { 'x-socket-id': socketId })).status, 200);
    assert.is((await post({ payload: 'to all' })).status, 200);
    const bad = await post({ payload: 'x', socket_id: 42 });
    assert.equal([bad.status, ((await bad.json()) as { error: { code: string } }).error.code], [400, 'invalid_payload']);
    await until(() => topicsOf(other).length === 3, 'the other connection got all three');
    // A barrier: anything meant for the browser has arrived by the time its ack does.
    await browser.emit('order.barrier', 'x', { ack: true });
    assert.equal(got.filter((data) => data !== 'x'), ['to all']);
  } finally {
    await browser.close();
    other.close();
  }
});

test.run();
