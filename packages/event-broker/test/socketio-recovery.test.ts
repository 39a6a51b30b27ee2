// Socket.IO connection state recovery (socketio.recovery) with socket.io-client
// v4, unchanged, reconnecting by itself: a socket's connection is cut (a TCP
// relay drops it, as a network failure, or only its client's side: half-open),
// the broker publishes to its rooms meanwhile, and the client comes back with
// the same socket id and rooms (`recovered` true on both sides) and every
// missed event once and in order before the live ones — counted per
// subscriber. Beyond what history keeps (trimmed, a room without history, away
// longer than maxDisconnectionDuration, past maxSessions) or after leaving on
// purpose, the client gets a fresh socket and nothing is replayed.
import { connect, createServer, type Socket as TcpSocket } from 'node:net';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventMap } from '@eventwire/event-channel';
import type { EventBrokerServer } from '../src/server.js';
import type { Socket } from '../src/surfaces/socketio/server-api.js';
import { startBroker, until, within, type TestBroker } from './helpers.js';

const test = suite('socketio connection state recovery');

/** What the server saw: each `connection` (id, recovered) and the sockets themselves. */
interface Seen {
  readonly connections: Array<{ id: string; recovered: boolean }>;
  readonly sockets: Socket[];
  readonly disconnected: string[];
}

function setup(seen: Seen): (broker: EventBrokerServer) => void {
  return (broker) => {
    broker.socketio!.on('connection', (socket) => {
      seen.connections.push({ id: socket.id, recovered: socket.recovered });
      seen.sockets.push(socket);
      socket.on('disconnect', () => seen.disconnected.push(socket.id));
      // Socket.IO's documented pattern: a recovered socket is already in its rooms.
      if (!socket.recovered) void socket.join(['chat.7', 'chat.8']).then(() => socket.emit('joined'));
    });
  };
}

/**
 * A TCP relay in front of the broker: `cut()` drops every connection through
 * it at once, both ends, as a network failure does — the broker's side sees
 * its connection die, not a close it asked for.
 */
async function relay(server: TestBroker<EventMap>): Promise<{ url: string; cut(): void; dropClientSide(): void; down(): void; up(): void } & AsyncDisposable> {
  const sockets = new Set<TcpSocket>();
  const pairs: Array<{ downstream: TcpSocket; upstream: TcpSocket }> = [];
  let refusing = false;
  const tcp = createServer((downstream) => {
    if (refusing) return void downstream.destroy();
    const upstream = connect(server.port, '127.0.0.1');
    pairs.push({ downstream, upstream });
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const { port } = tcp.address() as { port: number };
  const cut = (): void => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    cut,
    // The network is down (every connection cut, new ones refused) until up().
    down: () => {
      refusing = true;
      cut();
    },
    up: () => {
      refusing = false;
    },
    // The client's side goes, the broker's stays open and silent: a half-open
    // connection the broker has not noticed yet when the client comes back.
    dropClientSide: () => {
      for (const { downstream, upstream } of pairs.splice(0)) {
        upstream.unpipe(downstream);
        downstream.unpipe(upstream);
        downstream.destroy();
      }
    },
    async [Symbol.asyncDispose]() {
      cut();
      await new Promise((resolve) => tcp.close(resolve));
    },
  };
}

/** A socket.io-client that reconnects by itself, quickly; records every `news` it gets (numbers, and the offsets after them). */
function client(server: { readonly url: string } | TestBroker<EventMap>, transports: Array<'polling' | 'websocket'> = ['websocket']): { socket: ClientSocket; news: number[]; offsets: unknown[] } {
  const socket = io('httpUrl' in server ? server.httpUrl : server.url, { transports, forceNew: true, reconnectionDelay: 20, reconnectionDelayMax: 50 });
  const news: number[] = [];
  const offsets: unknown[] = [];
  socket.on('news', (n: number, offset: unknown) => {
    news.push(n);
    offsets.push(offset);
  });
  return { socket, news, offsets };
}

function event(socket: ClientSocket, name: string): Promise<void> {
  return within(new Promise<void>((resolve) => socket.once(name, () => resolve())), 5000, `"${name}" on the client`);
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const transports of [['websocket'], ['polling']] as const) test(`${transports[0]}: the connection is cut, events are published meanwhile: the client recovers its socket and gets them once, in order, then live ones`, async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  await using server = await startBroker({ socketio: { recovery: true }, history: [{ pattern: '#' }] }, setup(seen));
  await using net = await relay(server);
  const io = server.broker.socketio!;
  const { socket, news, offsets } = client(net, [...transports]);
  try {
    await event(socket, 'joined');
    const sid = socket.id;
    // One emit to both rooms (the socket is in both: once), then one per room.
    io.to(['chat.7', 'chat.8']).emit('news', 1);
    io.to('chat.7').emit('news', 2);
    io.to('chat.8').emit('news', 3);
    await until(() => news.length === 3, 'three live events');
    assert.ok(offsets.every((offset) => typeof offset === 'string' && /^[0-9A-Z]+:\d+$/.test(offset)), 'each carries its offset last');

    // Long-polling notices only when a request fails: the network stays down
    // until the client has seen it. The broker may or may not have noticed
    // by then (a WebSocket's close, a poll that failed); recovery is the same.
    const gone = within(new Promise<void>((resolve) => socket.once('disconnect', () => resolve())), 5000, 'the client saw the network go');
    net.down();
    await gone;
    io.to(['chat.7', 'chat.8']).emit('news', 4);
    io.to('chat.7').emit('news', 5);
    io.to('chat.8').emit('news', 6);
    io.to('chat.7').volatile.emit('news', 99); // volatile: never replayed
    net.up();

    await until(() => seen.connections.length === 2 && socket.connected, 'the client back');
    assert.equal(seen.connections[1], { id: sid, recovered: true }, 'the server side: same socket id, recovered');
    assert.is(socket.recovered, true, 'the client side: recovered');
    assert.is(socket.id, sid);
    await until(() => news.length >= 6, 'the missed events');
    assert.equal(seen.sockets[1]!.rooms, new Set([sid, 'chat.7', 'chat.8']), 'its rooms are back');

    io.to('chat.7').emit('news', 7);
    await until(() => news.length >= 7, 'a live event after the recovery');
    assert.equal(news, range(1, 7), 'every event once, in order (missed ones before live ones)');
    assert.is(server.broker.stats().connections.socketio, 1);
  } finally {
    socket.close();
  }
});

test('the client comes back before the broker saw its old connection die (half-open): it takes its socket over, recovered', async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  await using server = await startBroker({ socketio: { recovery: true }, history: [{ pattern: '#' }] }, setup(seen));
  await using net = await relay(server);
  const io = server.broker.socketio!;
  const { socket, news } = client(net);
  try {
    await event(socket, 'joined');
    const sid = socket.id;
    io.to('chat.7').emit('news', 1);
    await until(() => news.length === 1, 'a live event');
    net.dropClientSide();
    io.to('chat.7').emit('news', 2); // into the old connection, which nobody reads any more
    await until(() => seen.connections.length === 2 && socket.connected, 'the client back');
    assert.equal(seen.connections[1], { id: sid, recovered: true });
    assert.equal(seen.disconnected, [sid], 'the old socket was dropped');
    io.to('chat.7').emit('news', 3);
    await until(() => news.length >= 3, 'the missed and the live event');
    assert.equal(news, [1, 2, 3]);
    await until(() => server.broker.stats().connections.socketio === 1, 'the old connection gone');
  } finally {
    socket.close();
  }
});

test('a room joined after the last event the client saw: what it had before the join is not replayed, what came after is', async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  await using server = await startBroker({ socketio: { recovery: true }, history: [{ pattern: '#' }] }, setup(seen));
  await using net = await relay(server);
  const io = server.broker.socketio!;
  const { socket, news } = client(net);
  try {
    await event(socket, 'joined');
    io.to('chat.9').emit('news', 100); // before the socket is in chat.9: never its
    await seen.sockets[0]!.join('chat.9');
    net.cut();
    await until(() => seen.disconnected.length === 1, 'the server saw the socket go');
    io.to('chat.9').emit('news', 1);
    await until(() => seen.connections.length === 2 && socket.connected, 'the client back');
    assert.is(socket.recovered, true);
    io.to('chat.9').emit('news', 2);
    await until(() => news.length >= 2, 'the missed and the live event');
    assert.equal(news, [1, 2]);
  } finally {
    socket.close();
  }
});

test('maxSessions: past it, a new socket is not recoverable (a fresh one when it comes back)', async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  await using server = await startBroker({ socketio: { recovery: { maxSessions: 1 } }, history: [{ pattern: '#' }] }, setup(seen));
  await using net = await relay(server);
  const first = client(net);
  try {
    await event(first.socket, 'joined');
    const second = client(net);
    try {
      await event(second.socket, 'joined');
      const rejoined = event(second.socket, 'joined');
      net.cut();
      await rejoined;
      assert.is(second.socket.recovered, false, 'its session was never kept');
      assert.ok(server.logs.some((line) => line.includes('recovery.maxSessions')), 'logged');
    } finally {
      second.socket.close();
    }
  } finally {
    first.socket.close();
  }
});

test('a socket the server disconnected (or that left) on purpose is not recoverable: its client comes back fresh', async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  await using server = await startBroker({ socketio: { recovery: true }, history: [{ pattern: '#' }] }, setup(seen));
  const { socket } = client(server);
  try {
    await event(socket, 'joined');
    const sid = socket.id;
    const reason = within(new Promise<string>((resolve) => socket.once('disconnect', resolve)), 5000, 'disconnect');
    seen.sockets[0]!.disconnect(); // 41: kicked out of the namespace
    assert.is(await reason, 'io server disconnect');
    const rejoined = event(socket, 'joined');
    socket.connect(); // sends its pid and offset again
    await rejoined;
    assert.equal(seen.connections.map((each) => each.recovered), [false, false]);
    assert.is(socket.recovered, false);
    assert.is.not(socket.id, sid);
  } finally {
    socket.close();
  }
});

for (const skipMiddlewares of [true, false]) {
  test(`skipMiddlewares ${skipMiddlewares}: a recovered socket ${skipMiddlewares ? 'skips' : 'goes through'} the CONNECT middleware`, async () => {
    const seen: Seen = { connections: [], sockets: [], disconnected: [] };
    const middleware: boolean[] = [];
    await using server = await startBroker({ socketio: { recovery: { skipMiddlewares } }, history: [{ pattern: '#' }] }, (broker) => {
      broker.socketio!.use((socket, next) => {
        middleware.push(socket.recovered);
        next();
      });
      setup(seen)(broker);
    });
    await using net = await relay(server);
    const { socket } = client(net);
    try {
      await event(socket, 'joined');
      net.cut();
      await until(() => seen.connections.length === 2 && socket.connected, 'the client back');
      assert.is(socket.recovered, true);
      assert.equal(middleware, skipMiddlewares ? [false] : [false, true]);
    } finally {
      socket.close();
    }
  });
}

test('with recovery on, CONNECT answers a pid; the pid and offset are not in socket.handshake.auth', async () => {
  const auths: unknown[] = [];
  let cut = (): void => {};
  await using server = await startBroker({ socketio: { recovery: true }, history: [{ pattern: '#' }] }, (broker) =>
    broker.socketio!.on('connection', (socket) => {
      auths.push(socket.handshake.auth);
      if (!socket.recovered) setImmediate(cut);
    }),
  );
  await using net = await relay(server);
  cut = () => net.cut();
  const socket = io(net.url, { transports: ['websocket'], forceNew: true, auth: { token: 'x', extra: 1 }, reconnectionDelay: 20, reconnectionDelayMax: 50 });
  try {
    await until(() => auths.length === 2, 'the second CONNECT (with the pid)');
    assert.equal(auths, [{ token: 'x', extra: 1 }, { token: 'x', extra: 1 }]);
  } finally {
    socket.close();
  }
});

test('an offset history no longer has (trimmed): a fresh socket, recovered false, nothing replayed', async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  await using server = await startBroker({ socketio: { recovery: true }, history: [{ pattern: '#', maxEvents: 2 }] }, setup(seen));
  await using net = await relay(server);
  const io = server.broker.socketio!;
  const { socket, news } = client(net);
  try {
    await event(socket, 'joined');
    const rejoined = event(socket, 'joined');
    const sid = socket.id;
    io.to('chat.7').emit('news', 1);
    await until(() => news.length === 1, 'a live event');
    const away = seen.sockets[0]!;
    net.cut();
    await until(() => seen.disconnected.includes(away.id), 'the server saw the socket go');
    for (const n of range(2, 6)) io.to('chat.7').emit('news', n); // chat.7 keeps 2: 2..4 are gone
    await rejoined;
    assert.is(seen.connections.length, 2);
    assert.is(seen.connections[1]!.recovered, false);
    assert.is(socket.recovered, false);
    assert.is.not(socket.id, sid, 'a fresh socket id');
    io.to('chat.7').emit('news', 7);
    await until(() => news.length >= 2, 'a live event on the fresh socket');
    assert.equal(news, [1, 7], 'nothing of the gap replayed, nothing twice');
  } finally {
    socket.close();
  }
});

test('missed events past the outbound budget (maxOutboundBytes, as the native resume): a fresh socket, recovered false, none of them replayed; a small miss still recovers', async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  const maxOutboundBytes = 65_536;
  await using server = await startBroker({ socketio: { recovery: true }, history: [{ pattern: '#' }], maxOutboundBytes }, setup(seen));
  await using net = await relay(server);
  const io = server.broker.socketio!;
  const { socket, news } = client(net);
  let big = 0;
  socket.on('big', () => big++);
  try {
    await event(socket, 'joined');
    const sid = socket.id;
    io.to('chat.7').emit('news', 1);
    await until(() => news.length === 1, 'a live event');
    // 8 × 16 KB missed: twice the budget, within maxReplayEvents.
    let gone = event(socket, 'disconnect');
    net.down();
    await gone;
    for (let i = 0; i < 8; i++) io.to('chat.7').emit('big', 'x'.repeat(16_000));
    const rejoined = event(socket, 'joined');
    net.up();
    await until(() => seen.connections.length === 2 && socket.connected, 'the client back');
    assert.equal(seen.connections.map((each) => each.recovered), [false, false], 'the server side: a fresh socket');
    assert.is(socket.recovered, false, 'the client side: not recovered');
    assert.is.not(socket.id, sid);
    await rejoined;
    io.to('chat.7').emit('news', 2);
    await until(() => news.length >= 2, 'a live event on the fresh socket');
    assert.is(big, 0, 'no partial replay');
    assert.equal(news, [1, 2]);

    // A miss within the budget recovers, as before.
    const again = socket.id;
    gone = event(socket, 'disconnect');
    net.down();
    await gone;
    io.to('chat.7').emit('big', 'x'.repeat(16_000));
    io.to('chat.7').emit('news', 3);
    net.up();
    await until(() => seen.connections.length === 3 && socket.connected, 'the client back');
    assert.equal(seen.connections[2], { id: again, recovered: true });
    assert.is(socket.recovered, true);
    await until(() => news.length >= 3, 'the small miss replayed');
    assert.is(big, 1);
    assert.equal(news, [1, 2, 3]);
  } finally {
    socket.close();
  }
});

test('away longer than maxDisconnectionDuration: a fresh socket, recovered false, nothing replayed', async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  await using server = await startBroker({ socketio: { recovery: { maxDisconnectionDuration: 50 } }, history: [{ pattern: '#' }] }, setup(seen));
  await using net = await relay(server);
  const io = server.broker.socketio!;
  // Comes back 400 ms later at the earliest: well past the 50 ms the session is kept.
  const socket = io_(net, { reconnectionDelay: 400, reconnectionDelayMax: 400, randomizationFactor: 0 });
  const news: number[] = [];
  socket.on('news', (n: number) => news.push(n));
  try {
    await event(socket, 'joined');
    const rejoined = event(socket, 'joined');
    const sid = socket.id;
    io.to('chat.7').emit('news', 1);
    await until(() => news.length === 1, 'a live event');
    net.cut();
    await until(() => seen.disconnected.length === 1, 'the server saw the socket go');
    io.to('chat.7').emit('news', 2);
    await rejoined;
    assert.equal(seen.connections.map((each) => each.recovered), [false, false]);
    assert.is(socket.recovered, false);
    assert.is.not(socket.id, sid);
    io.to('chat.7').emit('news', 3);
    await until(() => news.length >= 2, 'a live event on the fresh socket');
    assert.equal(news, [1, 3]);
  } finally {
    socket.close();
  }
});

test('a room without history: the socket is not recoverable (fresh socket), rather than recovered with a silent hole', async () => {
  const seen: Seen = { connections: [], sockets: [], disconnected: [] };
  // chat.8 keeps no history.
  await using server = await startBroker({ socketio: { recovery: true }, history: [{ pattern: '$nsp' }, { pattern: '$sid.#' }, { pattern: 'chat.7' }] }, setup(seen));
  await using net = await relay(server);
  const io = server.broker.socketio!;
  const { socket, news } = client(net);
  try {
    await event(socket, 'joined');
    const rejoined = event(socket, 'joined');
    net.cut();
    await until(() => seen.disconnected.length === 1, 'the server saw the socket go');
    io.to('chat.8').emit('news', 1);
    await rejoined;
    assert.equal(seen.connections.map((each) => each.recovered), [false, false]);
    assert.equal(news, []);
  } finally {
    socket.close();
  }
});

test('recovery off (the default): CONNECT answers the sid alone and events carry no offset', async () => {
  await using server = await startBroker({ socketio: true, history: [{ pattern: '#' }] }, (broker) => broker.socketio!.on('connection', (socket) => void socket.join('chat.7').then(() => socket.emit('joined'))));
  const socket = io(server.httpUrl, { transports: ['websocket'], forceNew: true, reconnection: false });
  const got: unknown[][] = [];
  socket.on('news', (...args: unknown[]) => got.push(args));
  try {
    await event(socket, 'joined');
    server.broker.socketio!.to('chat.7').emit('news', 1);
    await until(() => got.length === 1, 'the event');
    assert.equal(got, [[1]]);
  } finally {
    socket.close();
  }
});

function io_(net: { readonly url: string }, options: { reconnectionDelay: number; reconnectionDelayMax: number; randomizationFactor: number }): ClientSocket {
  return io(net.url, { transports: ['websocket'], forceNew: true, ...options });
}

test.run();
