// The parts of Socket.IO's server API a ported server reaches for beyond
// rooms and broadcasts, through `broker.socketio`, against socket.io-client
// v4 unchanged over real sockets: `disconnect(true)` as socket.io does it.
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventMap } from '@eventwire/event-channel';
import type { SocketIoSocket } from '../src/index.js';
import { startBroker, within, type TestBroker } from './helpers.js';

const test = suite('broker.socketio: the server API beyond rooms');

type Transports = ('polling' | 'websocket')[];

function connect(server: TestBroker<EventMap>, options: { nsp?: string; transports?: Transports; reconnection?: boolean; manager?: ClientSocket } = {}): ClientSocket {
  if (options.manager) return options.manager.io.socket(options.nsp ?? '/');
  return io(`${server.httpUrl}${options.nsp ?? ''}`, {
    transports: options.transports ?? ['websocket'],
    reconnection: options.reconnection ?? false,
    forceNew: true,
  });
}

function once<T = unknown>(socket: ClientSocket, event: string): Promise<T[]> {
  return within(new Promise<T[]>((resolve) => socket.once(event, (...args: T[]) => resolve(args))), 5000, `"${event}" on the client`);
}

/** The next value `wait` hands over, within 5 s. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = within(new Promise<T>((done) => (resolve = done)), 5000, 'a server-side event');
  return { promise, resolve };
}

const opts = { socketio: { pingInterval: 300, pingTimeout: 200 } } as const;

for (const transports of [['polling'], ['websocket']] as const) {
  test(`disconnect(true) over ${transports[0]}: every namespace is told 41 (io server disconnect), then the connection closes`, async () => {
    const reasons: string[] = [];
    const kicked = deferred<void>();
    let adminSocket: SocketIoSocket | undefined;
    await using server = await startBroker(opts, (broker) => {
      const io = broker.socketio!;
      io.of('/admin').on('connection', (socket) => {
        adminSocket = socket;
        socket.on('disconnect', (reason) => {
          if (reasons.push(`/admin ${reason}`) === 2) kicked.resolve();
        });
      });
      io.on('connection', (socket) => {
        socket.on('disconnect', (reason) => {
          if (reasons.push(`/ ${reason}`) === 2) kicked.resolve();
        });
        socket.on('kick-me', () => socket.disconnect(true));
      });
    });
    const root = connect(server, { transports: [...transports], reconnection: true });
    const admin = connect(server, { nsp: '/admin', manager: root });
    try {
      await Promise.all([once(root, 'connect'), once(admin, 'connect')]);
      assert.ok(adminSocket);
      const rootGone = once<string>(root, 'disconnect').then(([reason]) => reason);
      const adminGone = once<string>(admin, 'disconnect').then(([reason]) => reason);
      root.emit('kick-me');
      assert.is(await rootGone, 'io server disconnect', 'the client is told, so it does not reconnect');
      assert.is(await adminGone, 'io server disconnect');
      await kicked.promise;
      assert.equal(reasons.sort(), ['/ server namespace disconnect', '/admin server namespace disconnect']);
      assert.is(root.active, false, 'socket.io-client does not reconnect after io server disconnect');
    } finally {
      root.close();
      admin.close();
    }
  });
}

test.run();
