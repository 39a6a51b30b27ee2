// The Socket.IO surface across a broker cluster: two brokers on one real
// nats-server, socket.io-client sockets on each. A room is one audience
// whichever broker a socket is on: a broadcast operator on broker A reaches
// sockets on B, `except(sid)` leaves out a socket connected to the other
// broker, a multi-room emit still arrives once per socket, `to(sid)` reaches
// one socket on the other broker, and a client's emit relayed by a handler
// on A reaches a room member on B.
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import type { EventBrokerServer } from '../src/server.js';
import { startClusterBroker, untilRouted } from './cluster-helpers.js';
import { until, within, type TestBroker } from './helpers.js';

const WAIT = 5000;

const test = suite<{ nats: NatsServer; brokers: TestBroker<never>[]; clients: ClientSocket[] }>('socketio surface across a broker cluster');

function setup(broker: EventBrokerServer<never>): void {
  const io = broker.socketio!;
  io.on('connection', (socket) => {
    const rooms = String(socket.handshake.query['rooms'] ?? '').split(',').filter(Boolean);
    void socket.join(rooms).then(() => socket.emit('ready', socket.id));
    // A client's emit, relayed to a room by the handler on the broker it reached.
    socket.on('say', (room: unknown, text: unknown) => socket.to(String(room)).emit('said', text));
  });
}

/** A socket on `broker` in `rooms`, resolved with its id once it has joined them. */
async function member(context: { clients: ClientSocket[] }, broker: TestBroker<never>, rooms: string[]): Promise<{ socket: ClientSocket; id: string; got: unknown[][] }> {
  const socket = io(broker.httpUrl, { transports: ['websocket'], query: { rooms: rooms.join(',') }, reconnection: false, forceNew: true });
  context.clients.push(socket);
  const got: unknown[][] = [];
  socket.onAny((event: string, ...args: unknown[]) => event !== 'ready' && got.push([event, ...args]));
  const [id] = await within(new Promise<string[]>((resolve) => socket.once('ready', (...args: string[]) => resolve(args))), WAIT, 'the socket to join its rooms');
  return { socket, id: id!, got };
}

if (!natsServerAvailable()) {
  test.skip('(nats-server not installed: the Socket.IO cluster tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.nats = await startNatsServer();
    context.clients = [];
    context.brokers = [];
    for (const node of ['sio-a', 'sio-b']) {
      context.brokers.push(
        await startClusterBroker<never>(node, { socketio: true, cluster: { url: context.nats.url, node, reconnectTimeWaitMs: 50 } }, setup),
      );
    }
  });
  test.after.each((context) => {
    for (const socket of context.clients.splice(0)) socket.close();
  });
  test.after(async (context) => {
    await Promise.all(context.brokers.map((broker) => broker.stop()));
    await context.nats.stop();
  });

  test('io.to(room) on broker A reaches sockets on B; except(sid) leaves out a socket on the other broker; a multi-room emit arrives once', async (context) => {
    const [a, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    const onA = await member(context, a, ['chat.7']);
    const onB = await member(context, b, ['chat.7', 'chat.8']);
    const skipped = await member(context, b, ['chat.7']);
    const ioA = a.broker.socketio!;
    // B's interest in chat.7 reaches A through the cluster before the first real emit counts.
    await untilRouted(() => void ioA.to('chat.7').emit('probe'), () => onB.got.some(([event]) => event === 'probe'), 'chat.7 from A to B');
    for (const socket of [onA, onB, skipped]) socket.got.length = 0;

    for (let n = 1; n <= 5; n++) ioA.to(['chat.7', 'chat.8']).except(skipped.id).emit('UpdateChat', { n });
    const five = (got: unknown[][]) => got.filter(([event]) => event === 'UpdateChat').length >= 5;
    await until(() => five(onA.got) && five(onB.got), 'five updates on both brokers', WAIT);
    const expected = [1, 2, 3, 4, 5].map((n) => ['UpdateChat', { n }]);
    assert.equal(onA.got, expected, 'the socket on A: each once, in order');
    assert.equal(onB.got, expected, 'the socket on B in both rooms: each once, in order');
    // A marker after the updates: once it arrives, the skipped socket has had every chance to receive them.
    ioA.to('chat.7').emit('marker');
    await until(() => skipped.got.some(([event]) => event === 'marker'), 'the marker on the skipped socket', WAIT);
    assert.equal(skipped.got, [['marker']], 'except(sid) left the socket on B out of every update');
  });

  test('to(sid) reaches one socket on the other broker; a client emit relayed by a handler on A reaches a member on B, not the sender', async (context) => {
    const [a, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    const sender = await member(context, a, ['room.x']);
    const listener = await member(context, b, ['room.x']);
    const other = await member(context, b, []);
    const ioA = a.broker.socketio!;
    await untilRouted(() => void ioA.to(listener.id).emit('probe'), () => listener.got.some(([event]) => event === 'probe'), 'the socket room from A to B');
    listener.got.length = 0;

    ioA.to(listener.id).emit('direct', 'for you');
    await until(() => listener.got.length > 0, 'the direct emit', WAIT);
    assert.equal(listener.got, [['direct', 'for you']]);

    sender.socket.emit('say', 'room.x', 'hello from A');
    await until(() => listener.got.length > 1, 'the relayed emit', WAIT);
    assert.equal(listener.got[1], ['said', 'hello from A']);
    ioA.to('room.x').emit('marker');
    await until(() => sender.got.some(([event]) => event === 'marker'), 'the marker on the sender', WAIT);
    assert.equal(sender.got, [['marker']], 'socket.to(room) leaves the sender out');
    assert.equal(other.got, [], 'a socket in no room got nothing');
  });
}

test.run();
