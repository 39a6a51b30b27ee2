// Socket.IO connection state recovery across brokers: two brokers on one
// nats-server with JetStream, sharing the cluster's history. A socket.io-client
// v4, unchanged and reconnecting by itself, dials a TCP relay that leads to
// broker A; the network goes down (both ends cut: A sees its connection die),
// events are published to the socket's room on A and on B meanwhile, and the
// relay comes back leading to broker B — the same URL for the client, another
// broker behind it, as a load balancer does after a failover. The client gets
// its socket back on B (`recovered` true on both sides, the same id and room),
// the missed events once and in order before the live ones, counted per
// subscriber. The session A saved must be readable on B, and its offset must
// mean the same on B: one stream, one epoch for the cluster.
//
// Without shared history (each broker its own store) the other broker has
// neither the session nor the offset's epoch: a fresh socket, nothing replayed.
import { connect, createServer, type Socket as TcpSocket } from 'node:net';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventMap } from '@eventwire/event-channel';
import { MemoryHistoryStore } from '@eventwire/event-channel/protocol';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import type { EventBrokerServer } from '../src/server.js';
import { startClusterBroker } from './cluster-helpers.js';
import { until, within, type TestBroker } from './helpers.js';

const WAIT = 10_000;
const HISTORY = [{ pattern: '$nsp' }, { pattern: '$sid.#' }, { pattern: 'chat.#' }];

const test = suite<{ nats: NatsServer }>('socketio connection state recovery across a broker cluster');

/** What a broker's server side saw: each `connection` (id, recovered). */
type Connections = Array<{ id: string; recovered: boolean }>;

function setup(connections: Connections): (broker: EventBrokerServer<EventMap>) => void {
  return (broker) => {
    broker.socketio!.on('connection', (socket) => {
      connections.push({ id: socket.id, recovered: socket.recovered });
      if (!socket.recovered) void socket.join('chat.7').then(() => socket.emit('joined'));
      socket.on('join', (room: unknown, ack: unknown) => void socket.join(String(room)).then(() => (ack as () => void)()));
    });
  };
}

/**
 * A TCP relay with one URL whose target can be switched: `down()` cuts every
 * connection through it (both ends, a network failure) and refuses new ones;
 * `up(port)` lets them through again, to `port`. `halfDown()` cuts only the
 * clients' side and leaves the broker's connections open and silent (a
 * half-open connection: the broker has not noticed yet); `cutBrokerSide()`
 * then closes those (only those).
 */
async function relay(
  target: number,
): Promise<{ url: string; down(): void; halfDown(): void; cutBrokerSide(): void; up(port: number): void } & AsyncDisposable> {
  const sockets = new Set<TcpSocket>();
  const brokerSide = new Set<TcpSocket>();
  const halfOpen = new Set<TcpSocket>();
  let refusing = false;
  const tcp = createServer((downstream) => {
    if (refusing) return void downstream.destroy();
    const upstream = connect(target, '127.0.0.1');
    brokerSide.add(upstream);
    for (const socket of [downstream, upstream]) {
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        brokerSide.delete(socket);
      });
      socket.on('error', () => {});
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const { port } = tcp.address() as { port: number };
  // Half-open connections stay so until cutBrokerSide (or the relay closes).
  const cut = (): void => {
    for (const socket of sockets) if (!halfOpen.has(socket)) socket.destroy();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    down: () => {
      refusing = true;
      cut();
    },
    halfDown: () => {
      refusing = true;
      for (const socket of sockets) {
        if (brokerSide.has(socket)) {
          // Kept open, but nothing more reaches it: what the client sends is dropped.
          socket.unpipe();
          halfOpen.add(socket);
          continue;
        }
        socket.unpipe();
        socket.destroy();
      }
    },
    cutBrokerSide: () => {
      for (const socket of halfOpen) socket.destroy();
      halfOpen.clear();
    },
    up: (next) => {
      target = next;
      refusing = false;
    },
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => tcp.close(resolve));
    },
  };
}

/** A socket.io-client that records every `news` number it gets. */
function client(url: string, reconnection = true): { socket: ClientSocket; news: number[] } {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection, reconnectionDelay: 20, reconnectionDelayMax: 50 });
  const news: number[] = [];
  socket.on('news', (n: number) => news.push(n));
  return { socket, news };
}

function event(socket: ClientSocket, name: string): Promise<void> {
  return within(new Promise<void>((resolve) => socket.once(name, () => resolve())), WAIT, `"${name}" on the client`);
}

async function disposable(broker: TestBroker<EventMap>): Promise<TestBroker<EventMap> & AsyncDisposable> {
  return Object.assign(broker, { [Symbol.asyncDispose]: () => broker.stop() });
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

if (!natsServerAvailable()) {
  test.skip('(nats-server not installed: the Socket.IO recovery cluster tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.nats = await startNatsServer({ jetstream: true });
  });
  test.after(async (context) => {
    await context.nats?.stop();
  });

  test('shared (JetStream) history: cut from broker A, back through the same URL to broker B — recovered, the missed events (published on A and on B) once and in order, then live ones', async ({ nats }) => {
    const stream = `SIO_RECOVERY_${process.pid}`;
    const onA: Connections = [];
    const onB: Connections = [];
    const options = (node: string) => ({ socketio: { recovery: true }, history: HISTORY, cluster: { url: nats.url, node, reconnectTimeWaitMs: 50, history: { stream } } });
    await using a = await disposable(await startClusterBroker<EventMap>('sio-rec-a', options('sio-rec-a'), setup(onA)));
    await using b = await disposable(await startClusterBroker<EventMap>('sio-rec-b', options('sio-rec-b'), setup(onB)));
    assert.is(a.broker.stats().history?.kind, 'jetstream');
    await using net = await relay(a.port);
    const ioA = a.broker.socketio!;
    const ioB = b.broker.socketio!;
    const { socket, news } = client(net.url);
    // A witness on B, in the same room: once it has an event, B's mirror of the stream has it (and all before it).
    const witness = client(b.httpUrl, false);
    try {
      await Promise.all([event(socket, 'joined'), event(witness.socket, 'joined')]);
      const sid = socket.id;
      ioA.to('chat.7').emit('news', 1);
      await until(() => news.length === 1 && witness.news.length === 1, 'a live event on both', WAIT);

      const gone = event(socket, 'disconnect');
      net.down();
      await gone;
      for (const n of [2, 3, 4]) ioA.to('chat.7').emit('news', n);
      await until(() => witness.news.length === 4, 'the events published on A, on B', WAIT);
      for (const n of [5, 6]) ioB.to('chat.7').emit('news', n);
      await until(() => witness.news.length === 6, 'the events published on B', WAIT);
      net.up(b.port);

      await until(() => onB.length === 2 && socket.connected, 'the client back, on B', WAIT);
      assert.equal(onB[1], { id: sid, recovered: true }, 'B: the same socket id, recovered');
      assert.is(socket.recovered, true, 'the client side: recovered');
      assert.is(socket.id, sid);
      assert.is(onA.length, 1, 'A saw no second connection');
      await until(() => news.length >= 6, 'the missed events', WAIT);
      ioB.to('chat.7').emit('news', 7);
      await until(() => news.length >= 7, 'a live event from B', WAIT);
      ioA.to('chat.7').emit('news', 8);
      await until(() => news.length >= 8 && witness.news.length >= 8, 'a live event from A', WAIT);
      assert.equal(news, range(1, 8), 'the recovered socket: every event once, in order');
      assert.equal(witness.news, range(1, 8), 'the witness: every event once, in order');
    } finally {
      socket.close();
      witness.socket.close();
    }
  });

  test('a half-open connection on A does not overwrite the session its client recovered on B: a room joined on B is still there at the next recovery', async () => {
    // A nats-server of its own: the first test's stream captures the same subjects.
    await using nats = Object.assign(await startNatsServer({ jetstream: true }), { [Symbol.asyncDispose]: function (this: NatsServer) { return this.stop(); } });
    const stream = `SIO_HALF_${process.pid}`;
    const onA: Connections = [];
    const onB: Connections = [];
    const options = (node: string) => ({ socketio: { recovery: true }, history: HISTORY, cluster: { url: nats.url, node, reconnectTimeWaitMs: 50, history: { stream } } });
    await using a = await disposable(await startClusterBroker<EventMap>('sio-half-a', options('sio-half-a'), setup(onA)));
    await using b = await disposable(await startClusterBroker<EventMap>('sio-half-b', options('sio-half-b'), setup(onB)));
    await using net = await relay(a.port);
    const ioA = a.broker.socketio!;
    const ioB = b.broker.socketio!;
    const { socket, news } = client(net.url);
    // Witnesses in chat.7 on each broker: an event one of them got means that broker's copy of the stream has all before it.
    const atA = client(a.httpUrl, false);
    const atB = client(b.httpUrl, false);
    try {
      await Promise.all([event(socket, 'joined'), event(atA.socket, 'joined'), event(atB.socket, 'joined')]);
      ioA.to('chat.7').emit('news', 1);
      await until(() => news.length === 1 && atA.news.length === 1 && atB.news.length === 1, 'a live event everywhere', WAIT);

      // The client's side goes; A still holds its connection, open and silent.
      const gone = event(socket, 'disconnect');
      net.halfDown();
      await gone;
      net.up(b.port);
      await until(() => onB.length === 2 && socket.connected, 'the client recovered on B', WAIT);
      assert.is(socket.recovered, true);
      assert.is(a.broker.stats().connections.socketio, 2, 'A has not noticed: the old connection and its witness');
      await within(socket.timeout(WAIT).emitWithAck('join', 'chat.9'), WAIT, 'join chat.9 on B');
      // Away again, from B, which sees it at once and saves the session: chat.7 and chat.9.
      const awayAgain = event(socket, 'disconnect');
      net.down();
      await awayAgain;
      await until(() => b.broker.stats().connections.socketio === 1, 'B sees the client go', WAIT);
      assert.is(a.broker.stats().connections.socketio, 2, 'A still has not noticed');
      ioB.to('chat.7').emit('news', 2);
      await until(() => atA.news.length === 2, "B's session record, on A", WAIT);

      // Only now does A notice its old connection is gone: that socket's record is stale (no chat.9).
      net.cutBrokerSide();
      await until(() => a.broker.stats().connections.socketio === 1, 'A sees the old connection close', WAIT);
      ioA.to('chat.7').emit('news', 3);
      await until(() => atB.news.length === 3, 'whatever A wrote, on B', WAIT);
      ioB.to('chat.9').emit('news', 4);
      ioB.to('chat.7').emit('news', 5);
      await until(() => atB.news.length === 4, 'the last event, on B', WAIT);
      net.up(b.port);
      await until(() => onB.length === 3 && socket.connected, 'recovered on B again', WAIT);
      assert.is(socket.recovered, true);
      await until(() => news.length >= 5, 'the missed events', WAIT);
      assert.equal(news, range(1, 5), 'the room joined on B survived A noticing late: every event once, in order');
    } finally {
      for (const each of [socket, atA.socket, atB.socket]) each.close();
    }
  });

  test("each broker its own history store: back on B, B has neither A's session nor its epoch — a fresh socket, recovered false, nothing replayed", async ({ nats }) => {
    const onA: Connections = [];
    const onB: Connections = [];
    const options = (node: string) => ({
      socketio: { recovery: true },
      history: HISTORY,
      historyStore: new MemoryHistoryStore(),
      cluster: { url: nats.url, node, reconnectTimeWaitMs: 50 },
    });
    await using a = await disposable(await startClusterBroker<EventMap>('sio-own-a', options('sio-own-a'), setup(onA)));
    await using b = await disposable(await startClusterBroker<EventMap>('sio-own-b', options('sio-own-b'), setup(onB)));
    await using net = await relay(a.port);
    const { socket, news } = client(net.url);
    try {
      await event(socket, 'joined');
      const sid = socket.id;
      a.broker.socketio!.to('chat.7').emit('news', 1);
      await until(() => news.length === 1, 'a live event', WAIT);
      const gone = event(socket, 'disconnect');
      net.down();
      await gone;
      a.broker.socketio!.to('chat.7').emit('news', 2);
      const joined = event(socket, 'joined');
      net.up(b.port);
      await joined;
      assert.is(onB[0]!.recovered, false, 'B: a fresh socket');
      assert.is.not(onB[0]!.id, sid);
      assert.is(socket.recovered, false, 'the client side: not recovered');
      b.broker.socketio!.to('chat.7').emit('news', 3);
      await until(() => news.length >= 2, 'a live event on B', WAIT);
      assert.equal(news, [1, 3], 'nothing replayed: the application is told by recovered false');
    } finally {
      socket.close();
    }
  });
}

test.run();
