// The parts of Socket.IO's server API a ported server reaches for beyond
// rooms and broadcasts, through `broker.socketio`, against socket.io-client
// v4 unchanged over real sockets: `disconnect(true)` as socket.io does it,
// acks the server asks for (with and without a deadline, one socket or a
// broadcast's every socket), fetchSockets, dynamic namespaces, onAny and
// per-socket middleware, volatile and compress.
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventMap, EventwireError } from '@eventwire/event-channel';
import type { SocketIoSocket } from '../src/index.js';
import { startBroker, until, within, type TestBroker } from './helpers.js';

const test = suite('broker.socketio: the server API beyond rooms');

type Transports = ('polling' | 'websocket')[];

function connect(
  server: TestBroker<EventMap>,
  options: { nsp?: string; transports?: Transports; reconnection?: boolean; manager?: ClientSocket; auth?: Record<string, unknown> } = {},
): ClientSocket {
  if (options.manager) return options.manager.io.socket(options.nsp ?? '/');
  return io(`${server.httpUrl}${options.nsp ?? ''}`, {
    transports: options.transports ?? ['websocket'],
    reconnection: options.reconnection ?? false,
    auth: options.auth ?? {},
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

/** A broker whose sockets are kept by id as they connect, and left out as they go. */
async function brokerWithSockets(): Promise<{ server: TestBroker<EventMap>; sockets: Map<string, SocketIoSocket> }> {
  const sockets = new Map<string, SocketIoSocket>();
  const server = await startBroker(opts, (broker) => {
    broker.socketio!.on('connection', (socket) => {
      sockets.set(socket.id, socket);
      socket.on('disconnect', () => sockets.delete(socket.id));
      socket.on('join', (room, ack) => void socket.join(String(room)).then(() => (ack as () => void)()));
    });
  });
  return { server, sockets };
}

async function connected(server: TestBroker<EventMap>, sockets: Map<string, SocketIoSocket>): Promise<{ client: ClientSocket; socket: SocketIoSocket }> {
  const client = connect(server);
  await once(client, 'connect');
  const socket = sockets.get(client.id!);
  assert.ok(socket, 'the server has the socket once the client is connected');
  return { client, socket };
}

function codeOf(error: unknown): string | undefined {
  return (error as EventwireError | null)?.code;
}

test('socket acks: timeout(ms).emit gets (null, …answer) or timeout once; emitWithAck resolves, rejects timeout, rejects connection_closed', async () => {
  const { server, sockets } = await brokerWithSockets();
  await using _server = server;
  const { client, socket } = await connected(server, sockets);
  try {
    client.on('double', (n: number, ack: (...answer: unknown[]) => void) => ack(n * 2, 'extra'));
    let late: ((answer: unknown) => void) | undefined;
    client.on('hold', (ack: (answer: unknown) => void) => (late = ack));

    const answered = deferred<unknown[]>();
    socket.timeout(5000).emit('double', 21, (error: EventwireError | null, ...answer: unknown[]) => answered.resolve([error, ...answer]));
    assert.equal(await answered.promise, [null, 42, 'extra']);
    assert.is(await socket.emitWithAck('double', 4), 8, 'emitWithAck resolves with the first ack argument');
    assert.is(await socket.timeout(5000).emitWithAck('double', 5), 10);

    const calls: unknown[][] = [];
    const timedOut = deferred<void>();
    socket.timeout(100).emit('hold', (error: EventwireError | null, ...answer: unknown[]) => {
      calls.push([codeOf(error), ...answer]);
      timedOut.resolve();
    });
    await timedOut.promise;
    assert.equal(calls, [['timeout']]);
    assert.ok(late, 'the client got the event');
    late('too late');
    // The late ACK is handled before this round trip's answer: the callback must not run again.
    assert.is(await socket.emitWithAck('double', 1), 2);
    assert.equal(calls, [['timeout']], 'an ack settles once');

    const rejected = await socket.timeout(50).emitWithAck('hold').then(() => 'resolved', codeOf);
    assert.is(rejected, 'timeout');

    const pending = socket.emitWithAck('hold').then(() => 'resolved', codeOf);
    const timedPending = deferred<string | undefined>();
    socket.timeout(60_000).emit('hold', (error: EventwireError | null) => timedPending.resolve(codeOf(error)));
    await once(client, 'hold');
    client.disconnect();
    assert.is(await within(pending, 5000, 'emitWithAck to settle'), 'connection_closed', 'an ack the client can no longer send rejects');
    assert.is(await timedPending.promise, 'connection_closed', 'a timed ack settles when the socket leaves, before its deadline');
    assert.is(await socket.timeout(1000).emitWithAck('double', 1).then(() => 'resolved', codeOf), 'connection_closed', 'a socket already gone settles at once');
    assert.throws(() => socket.timeout(-1), (error: EventwireError) => error.code === 'invalid_payload');
    assert.throws(() => socket.timeout(1.5), (error: EventwireError) => error.code === 'invalid_payload');
  } finally {
    client.close();
  }
});

test('broadcast acks: io.to(room).timeout(ms) collects every matched local socket\'s answer, or timeout with those that came', async () => {
  const { server, sockets } = await brokerWithSockets();
  await using _server = server;
  const a = await connected(server, sockets);
  const b = await connected(server, sockets);
  const outside = await connected(server, sockets);
  try {
    for (const { client } of [a, b]) await client.timeout(5000).emitWithAck('join', 'poll.room');
    a.client.on('vote', (question: string, ack: (answer: unknown) => void) => ack(`a:${question}`));
    b.client.on('vote', (question: string, ack: (answer: unknown) => void) => ack(`b:${question}`));
    let outsideAsked = false;
    outside.client.on('vote', () => (outsideAsked = true));
    const io = server.broker.socketio!;

    const responses = (await io.to('poll.room').timeout(5000).emitWithAck('vote', 'q1')) as string[];
    assert.equal(responses.sort(), ['a:q1', 'b:q1']);
    const viaCallback = deferred<[string | undefined, unknown[]]>();
    io.to('poll.room').except(b.socket.id).timeout(5000).emit('vote', 'q2', (error: EventwireError | null, answers: unknown[]) => viaCallback.resolve([codeOf(error), answers]));
    assert.equal(await viaCallback.promise, [undefined, ['a:q2']]);
    assert.equal(await io.to('nobody.here').timeout(5000).emitWithAck('vote', 'q3'), [], 'no matched socket: answered at once, empty');
    assert.is(outsideAsked, false, 'a socket outside the room is not asked');

    b.client.off('vote');
    b.client.on('vote', () => {});
    const partial = deferred<[string | undefined, unknown[]]>();
    io.to('poll.room').timeout(100).emit('vote', 'q4', (error: EventwireError | null, answers: unknown[]) => partial.resolve([codeOf(error), answers]));
    assert.equal(await partial.promise, ['timeout', ['a:q4']], 'the deadline settles it with the answers that came');
    assert.is(await io.timeout(100).emitWithAck('vote', 'q5').then(() => 'resolved', codeOf), 'timeout');

    assert.throws(() => io.to('poll.room').emit('vote', 'q', () => {}), (error: EventwireError) => error.code === 'invalid_payload', 'a broadcast ack needs timeout(ms)');
    assert.throws(() => io.timeout(Number.NaN), (error: EventwireError) => error.code === 'invalid_payload');
    assert.is(io.to('poll.room').timeout(1000).emit('plain', 'no ack'), true, 'without a callback it is an ordinary broadcast');
  } finally {
    for (const { client } of [a, b, outside]) client.close();
  }
});

test('fetchSockets: the matched sockets of this broker, by room and except, each usable as Socket.IO\'s RemoteSocket', async () => {
  const { server, sockets } = await brokerWithSockets();
  await using _server = server;
  const a = await connected(server, sockets);
  const b = await connected(server, sockets);
  const c = await connected(server, sockets);
  try {
    for (const { client } of [a, b]) await client.timeout(5000).emitWithAck('join', 'team.red');
    a.socket.data['name'] = 'ann';
    const io = server.broker.socketio!;
    const ids = async (found: Promise<readonly { id: string }[]>): Promise<string[]> => (await found).map(({ id }) => id).sort();
    assert.equal(await ids(io.fetchSockets()), [a.socket.id, b.socket.id, c.socket.id].sort());
    assert.equal(await ids(io.in('team.red').fetchSockets()), [a.socket.id, b.socket.id].sort());
    assert.equal(await ids(io.in('team.red').except(b.socket.id).fetchSockets()), [a.socket.id]);
    assert.equal(await ids(io.to(c.socket.id).fetchSockets()), [c.socket.id], 'a socket id is a room');
    assert.equal(await ids(io.of('/').in('nobody').fetchSockets()), []);

    const [remote] = await io.in('team.red').except(b.socket.id).fetchSockets();
    assert.ok(remote);
    assert.is(remote.data['name'], 'ann');
    assert.ok(remote.rooms.has('team.red') && remote.rooms.has(remote.id));
    assert.type(remote.handshake.address, 'string');
    const hello = once(a.client, 'hello');
    remote.emit('hello', 1);
    assert.equal(await hello, [1]);
    await remote.join('team.blue');
    assert.equal(await ids(io.in('team.blue').fetchSockets()), [a.socket.id]);
    const gone = once<string>(a.client, 'disconnect');
    remote.disconnect();
    assert.is((await gone)[0], 'io server disconnect');
    assert.equal(await ids(io.in('team.red').fetchSockets()), [b.socket.id], 'a socket that left is not fetched');
  } finally {
    for (const { client } of [a, b, c]) client.close();
  }
});

test('dynamic namespaces: of(regex) and of(function) create children on CONNECT with the parent\'s middleware and listeners; the parent broadcasts to every child', async () => {
  const order: string[] = [];
  let tenants: import('../src/index.js').SocketIoParentNamespace | undefined;
  await using server = await startBroker(opts, (broker) => {
    const io = broker.socketio!;
    tenants = io.of(/^\/tenant-\d+$/);
    tenants.use((socket, next) => {
      order.push(`parent ${socket.nsp.name}`);
      next(socket.handshake.auth['bad'] === true ? Object.assign(new Error('not this tenant'), { data: { code: 'forbidden' } }) : undefined);
    });
    tenants.on('connection', (socket) => socket.emit('where', socket.nsp.name));
    io.of((name, auth, next) => {
      if (name === '/broken') return next(new Error('matcher failed'));
      next(null, name === '/keyed' && auth['key'] === 'k');
    }).on('connection', (socket) => socket.emit('where', socket.nsp.name));
  });
  const t7 = connect(server, { nsp: '/tenant-7' });
  const t8 = connect(server, { nsp: '/tenant-8' });
  const clients = [t7, t8];
  const attempt = async (nsp: string, auth: Record<string, unknown> = {}): Promise<unknown> => {
    const client = connect(server, { nsp, auth });
    clients.push(client);
    const [outcome] = await Promise.race([once(client, 'where'), once<{ message: string; data?: unknown }>(client, 'connect_error').then(([error]) => [error?.message])]);
    return outcome;
  };
  try {
    assert.equal(await once(t7, 'where'), ['/tenant-7'], 'socket.nsp is the child');
    assert.equal(await once(t8, 'where'), ['/tenant-8']);
    assert.equal(order.sort(), ['parent /tenant-7', 'parent /tenant-8'], 'the parent\'s middleware runs for every child');
    assert.ok(tenants);
    assert.equal([...tenants.children].map(({ name }) => name).sort(), ['/tenant-7', '/tenant-8']);
    assert.is(await attempt('/tenant-x'), 'Invalid namespace', 'a name the RegExp does not match');
    assert.is(await attempt('/tenant-9', { bad: true }), 'not this tenant', 'the parent\'s middleware refuses');
    assert.is(await attempt('/keyed', { key: 'nope' }), 'Invalid namespace');
    assert.is(await attempt('/keyed', { key: 'k' }), '/keyed', 'a function matcher sees the auth payload');
    // As Socket.IO: once made, a child is a namespace like any other — the matcher is not asked again (middleware is per connection).
    assert.is(await attempt('/keyed', { key: 'nope' }), '/keyed');
    assert.is(await attempt('/broken'), 'Invalid namespace', 'next(error) refuses');
    assert.equal([...tenants.children].map(({ name }) => name).sort(), ['/tenant-7', '/tenant-8'], 'a child whose CONNECT was refused is not kept');

    const at7 = once(t7, 'news');
    const at8 = once(t8, 'news');
    tenants.emit('news', 'all tenants');
    assert.equal(await Promise.all([at7, at8]), [['all tenants'], ['all tenants']]);
    const only8: string[] = [];
    t7.on('solo', () => only8.push('t7'));
    const got8 = once(t8, 'solo');
    server.broker.socketio!.of('/tenant-8').emit('solo');
    await got8;
    for (const [name, client] of [['t7', t7], ['t8', t8]] as const) client.on('ping', (ack: (answer: string) => void) => ack(name));
    // A round trip to both after the emit: t7 would have had 'solo' before its ping.
    assert.equal(((await tenants.timeout(5000).emitWithAck('ping')) as string[]).sort(), ['t7', 't8'], 'a broadcast ack on the parent asks every child\'s sockets');
    assert.equal(only8, [], 'a child\'s emit stays in the child');
    assert.is((await tenants.fetchSockets()).length, 2);
    assert.is((await tenants.in(t7.id!).fetchSockets()).length, 1);
  } finally {
    for (const client of clients) client.close();
  }
});

test('dynamic namespaces stay bounded: children clients CONNECT to and are refused, or leave, are forgotten; the next CONNECT makes the child again, through the parent\'s middleware', async () => {
  let tenants: import('../src/index.js').SocketIoParentNamespace | undefined;
  const admitted: string[] = [];
  await using server = await startBroker(opts, (broker) => {
    tenants = broker.socketio!.of(/^\/tenant-\d+$/);
    tenants.use((socket, next) => {
      if (socket.handshake.auth['ok'] !== true) return next(new Error('no'));
      admitted.push(socket.nsp.name);
      next();
    });
  });
  // 300 names on one connection (one Manager), every CONNECT refused by the middleware.
  const first = connect(server, { nsp: '/tenant-0', auth: { ok: true } });
  const clients = [first];
  try {
    await once(first, 'connect');
    const refusals = [];
    for (let n = 1; n <= 300; n++) {
      const socket = first.io.socket(`/tenant-${n}`, { auth: {} });
      clients.push(socket);
      socket.connect();
      refusals.push(once(socket, 'connect_error'));
    }
    await Promise.all(refusals);
    assert.ok(tenants);
    assert.equal([...tenants.children].map(({ name }) => name), ['/tenant-0'], 'only the child with a socket is kept');
    // The last socket of a child leaves: forgotten; coming back runs the parent's middleware again.
    const left = once(first, 'disconnect');
    first.disconnect();
    await left;
    await until(() => tenants!.children.size === 0, 'the empty child forgotten');
    const again = connect(server, { nsp: '/tenant-0', auth: { ok: true } });
    clients.push(again);
    await once(again, 'connect');
    assert.equal(admitted, ['/tenant-0', '/tenant-0'], 'the new child admits through the parent\'s middleware');
    assert.equal([...tenants.children].map(({ name }) => name), ['/tenant-0']);
  } finally {
    for (const client of clients) client.close();
  }
});

test('onAny / prependAny / offAny hear every accepted event first; socket.use middleware rewrites or refuses (the socket\'s error listeners hear it, the client is told nothing)', async () => {
  const seen: string[] = [];
  await using server = await startBroker(opts, (broker) => {
    broker.intercept('$emit.hooked-out', (_event, ctx) => ctx.reject('no'));
    broker.socketio!.on('connection', (socket) => {
      const counted = (event: string, ...args: unknown[]): void => void seen.push(`any ${event} ${args.map((arg) => (typeof arg === 'function' ? 'ack' : String(arg))).join(' ')}`);
      socket.onAny(counted);
      socket.prependAny((event) => seen.push(`first ${event}`));
      socket.use((packet, next) => {
        seen.push(`use ${String(packet[0])}`);
        if (packet[0] === 'blocked') return next(Object.assign(new Error('not allowed'), { data: 1 }));
        if (packet[0] === 'thrown') throw new Error('middleware threw');
        if (packet[0] === 'rewrite') packet[1] = 'rewritten';
        next();
      });
      socket.use((packet, next) => {
        seen.push(`use2 ${String(packet[0])}`);
        next();
      });
      socket.on('error', (error) => socket.emit('refused', error.message));
      for (const event of ['echo', 'rewrite', 'blocked', 'thrown']) {
        socket.on(event, (...args) => {
          seen.push(`handler ${event}`);
          const ack = args.at(-1);
          if (typeof ack === 'function') (ack as (value: unknown) => void)(args[0]);
        });
      }
      socket.on('stop-any', () => socket.offAny(counted));
      socket.on('stop-all', () => socket.offAny());
    });
  });
  const client = connect(server);
  try {
    await once(client, 'connect');
    assert.is(await client.timeout(5000).emitWithAck('echo', 'x'), 'x');
    assert.equal(seen.splice(0), ['first echo', 'any echo x ack', 'use echo', 'use2 echo', 'handler echo']);
    assert.is(await client.timeout(5000).emitWithAck('rewrite', 'original'), 'rewritten', 'the handlers get the packet as the middleware left it');
    seen.length = 0;
    const refused = once<string>(client, 'refused');
    client.emit('blocked', 1);
    assert.equal(await refused, ['not allowed']);
    assert.equal(seen.splice(0), ['first blocked', 'any blocked 1', 'use blocked'], 'a refusal stops the chain and the handlers');
    const thrown = once<string>(client, 'refused');
    client.emit('thrown');
    assert.equal(await thrown, ['middleware threw'], 'a throw is a refusal');
    seen.length = 0;
    const echoed = await client.timeout(5000).emitWithAck('hooked-out', 'y');
    assert.equal(echoed, { error: { code: 'rejected', message: 'no' } }, 'what the hooks refuse never reaches onAny');
    assert.equal(seen.splice(0), []);
    client.emit('stop-any');
    await client.timeout(5000).emitWithAck('echo', 'z');
    assert.equal(seen.splice(0).filter((line) => line.includes(' z') || line.startsWith('first echo')), ['first echo'], 'offAny(listener) removes that one');
    client.emit('stop-all');
    await client.timeout(5000).emitWithAck('echo', 'w');
    assert.equal(seen.splice(0).filter((line) => line.startsWith('first') || line.startsWith('any')), ['first stop-all'], 'offAny() removes all');
  } finally {
    client.close();
  }
});

test('socket.volatile.emit is not kept for recovery (no offset); compress(bool) is accepted and changes nothing', async () => {
  const sockets = new Map<string, SocketIoSocket>();
  await using server = await startBroker({ ...opts, socketio: { ...opts.socketio, recovery: true }, history: [{ pattern: '#' }] }, (broker) => {
    broker.socketio!.on('connection', (socket) => void sockets.set(socket.id, socket));
  });
  const client = connect(server);
  const got: unknown[][] = [];
  client.on('news', (...args: unknown[]) => got.push(args));
  try {
    await once(client, 'connect');
    const socket = sockets.get(client.id!)!;
    socket.emit('news', 1);
    socket.volatile.emit('news', 2);
    socket.compress(false).emit('news', 3);
    const io = server.broker.socketio!;
    io.to(socket.id).compress(true).volatile.emit('news', 4);
    const last = once(client, 'last');
    io.compress(false).emit('last');
    await last;
    assert.equal(got.map(([n]) => n), [1, 2, 3, 4]);
    assert.equal(got.map(([, offset]) => typeof offset), ['string', 'undefined', 'string', 'undefined'], 'a volatile emit carries no offset: it is never replayed');
  } finally {
    client.close();
  }
});

test.run();
