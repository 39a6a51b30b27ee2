// socket.io-client v4 from Node against the broker's socketio surface: the
// three transports' paths (polling only, WebSocket only, polling upgraded),
// namespaces, rooms that are topics (a broker.publish, a broadcast operator
// with several rooms and except), acks both ways, binary both ways, and the
// refusals an application branches on: auth (connect_error data.code), a
// private- room's channel rule, a hook rejecting a client emit.
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventBrokerServer } from '../src/server.js';
import { startBroker, within } from './helpers.js';
import { z } from 'zod';

const test = suite('socket.io-client against the socketio surface');

type Transports = ('polling' | 'websocket')[];

function connect(server: { readonly httpUrl: string }, options: { nsp?: string; transports?: Transports; auth?: Record<string, unknown> } = {}): ClientSocket {
  return io(`${server.httpUrl}${options.nsp ?? ''}`, {
    transports: options.transports ?? ['polling', 'websocket'],
    auth: options.auth ?? {},
    reconnection: false,
    forceNew: true,
  });
}

function once<T = unknown>(socket: ClientSocket, event: string): Promise<T[]> {
  return within(new Promise<T[]>((resolve) => socket.once(event, (...args: T[]) => resolve(args))), 5000, `"${event}" on the client`);
}

function setup(broker: EventBrokerServer): void {
  const io = broker.socketio!;
  io.on('connection', (socket) => {
    void socket.join(['chat.7', 'chat.8']);
    socket.emit('welcome', socket.id);
    socket.on('echo', (...args) => {
      const ack = args.pop() as (...answer: unknown[]) => void;
      ack(...args);
    });
    socket.on('ask-me', () => socket.emit('question', 'ready?', (answer: unknown) => socket.emit('answered', answer)));
    socket.on('join', (room, ack) => {
      socket.join(String(room)).then(
        () => (ack as (value: unknown) => void)({ ok: true }),
        (error: { code?: string }) => (ack as (value: unknown) => void)({ code: error.code }),
      );
    });
  });
  io.of('/admin').on('connection', (socket) => socket.emit('hello-admin', socket.nsp.name));
  broker.channel('private-room.{id}', (user, { id }) => id === 'open');
  broker.intercept('$emit.forbidden-emit', (_event, ctx) => ctx.reject('no'));
}

const opts = { socketio: { pingInterval: 300, pingTimeout: 200 } } as const;

for (const [name, transports] of [
  ['polling only', ['polling']],
  ['WebSocket only', ['websocket']],
  ['polling upgraded to WebSocket', ['polling', 'websocket']],
] as const) {
  test(`${name}: connect, welcome, acks both ways, binary round trip`, async () => {
    await using server = await startBroker(opts, setup);
    const client = connect(server, { transports: [...transports] });
    try {
      const [sid] = await once<string>(client, 'welcome');
      assert.is(sid, client.id);
      const echoed = await within(client.timeout(5000).emitWithAck('echo', 1, 'two', { three: [true] }), 5000, 'echo ack');
      assert.equal(echoed, 1, 'an ack answers with its first argument');
      const answered = once<string>(client, 'answered');
      client.once('question', (text: string, ack: (answer: string) => void) => ack(`${text} yes`));
      client.emit('ask-me');
      assert.equal(await answered, ['ready? yes']);
      const bytes = Buffer.from([1, 2, 3, 250]);
      const back = (await within(client.timeout(5000).emitWithAck('echo', { blob: bytes }), 5000, 'binary ack')) as { blob: Buffer };
      assert.equal(Buffer.from(back.blob), bytes);
      if (transports.length === 2) await until(() => client.io.engine.transport.name === 'websocket');
      assert.is(server.broker.stats().connections.socketio, 1);
    } finally {
      client.close();
    }
  });
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

test('rooms are topics: broker.publish, a multi-room emit once, except, namespaces apart', async () => {
  await using server = await startBroker(opts, setup);
  const a = connect(server, { transports: ['websocket'] });
  const b = connect(server, { transports: ['websocket'] });
  const admin = connect(server, { nsp: '/admin', transports: ['websocket'] });
  try {
    // Listening on all three before any greeting can arrive.
    const [[aId], , adminHello] = await Promise.all([once<string>(a, 'welcome'), once(b, 'welcome'), once(admin, 'hello-admin')]);
    assert.equal(adminHello, ['/admin']);
    const got: unknown[][] = [];
    a.onAny((event: string, ...args: unknown[]) => got.push([event, ...args]));
    const atB = once(b, 'chat.7');
    await server.broker.publish('chat.7', { text: 'hi' });
    assert.equal(await atB, [{ text: 'hi' }], 'an event without metadata.event is named after its topic');
    const multi = once(b, 'UpdateChat');
    server.broker.socketio!.to(['chat.7', 'chat.8']).except(aId!).emit('UpdateChat', { n: 1 }, 'x');
    assert.equal(await multi, [{ n: 1 }, 'x']);
    const last = once(b, 'done');
    server.broker.socketio!.to('chat.8').emit('done');
    await last;
    const bGot: string[] = [];
    b.onAny((event: string) => bGot.push(event));
    const twice = once(b, 'end');
    server.broker.socketio!.to(['chat.7', 'chat.8']).emit('once-only');
    server.broker.socketio!.emit('end');
    await twice;
    assert.equal(bGot, ['once-only', 'end'], 'a socket in both rooms receives the emit once');
    assert.equal(
      got.map(([event]) => event),
      ['chat.7', 'done', 'once-only', 'end'],
      'except(a) left a out of UpdateChat; everything else reached it',
    );
  } finally {
    for (const client of [a, b, admin]) client.close();
  }
});

test('refusals: auth → connect_error with data.code, a private room by its rule, a hook on a client emit, an unknown namespace', async () => {
  await using server = await startBroker(
    { ...opts, allowAnonymous: false, authenticate: ({ token }) => (token === 'good' ? { id: 'u1' } : undefined) },
    setup,
  );
  const refused = connect(server, { auth: { token: 'bad' } });
  const stranger = connect(server, { nsp: '/nowhere', auth: { token: 'good' } });
  const client = connect(server, { auth: { token: 'good' }, transports: ['websocket'] });
  const welcomed = once(client, 'welcome'); // listening before it can arrive
  try {
    const [error] = await once<Error & { data?: { code?: string } }>(refused, 'connect_error');
    assert.is(error!.data?.code, 'unauthorized');
    const [unknown] = await once<Error>(stranger, 'connect_error');
    assert.is(unknown!.message, 'Invalid namespace');
    await welcomed;
    assert.equal(await within(client.timeout(5000).emitWithAck('join', 'private-room.open'), 5000, 'join'), { ok: true });
    assert.equal(await within(client.timeout(5000).emitWithAck('join', 'private-room.shut'), 5000, 'join'), { code: 'forbidden' });
    const rejected = (await within(client.timeout(5000).emitWithAck('forbidden-emit', 1), 5000, 'rejected emit')) as { error: { code: string } };
    assert.is(rejected.error.code, 'rejected');
    const told = once<{ code: string }>(client, 'eventwire:error');
    client.emit('forbidden-emit', 2);
    assert.is((await told)[0]!.code, 'rejected');
  } finally {
    for (const socket of [refused, stranger, client]) socket.close();
  }
});


test('a client over its publish rate is refused rate_limited, and another client is not slowed', async () => {
  // Two emits a minute per connection: a flooding client gets typed refusals; its neighbour's emits go through.
  await using server = await startBroker({ ...opts, rateLimits: { publish: { perConnection: { perSecond: 1 / 30, burst: 2 } } } }, setup);
  const flooder = connect(server, { transports: ['websocket'] });
  const neighbour = connect(server, { transports: ['websocket'] });
  try {
    await Promise.all([once(flooder, 'welcome'), once(neighbour, 'welcome')]);
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await within(flooder.timeout(5000).emitWithAck('echo', i), 5000, 'echo'));
    assert.equal(answers.slice(0, 2), [0, 1]);
    for (const answer of answers.slice(2)) assert.is((answer as { error: { code: string } }).error.code, 'rate_limited');
    assert.is(await within(neighbour.timeout(5000).emitWithAck('echo', 'mine'), 5000, 'neighbour echo'), 'mine');
  } finally {
    flooder.close();
    neighbour.close();
  }
});

test('a client emit is one event whether anything watches it or not: counted, shape-checked, then seen by an observer and the event map', async () => {
  type Tick = { n: number };
  const ticks: unknown[] = [];
  await using server = await startBroker({ ...opts, maxPayloadDepth: 4 }, (broker) => {
    broker.socketio!.on('connection', (socket) =>
      socket.on('tick', (tick, ack) => {
        ticks.push(tick);
        (ack as (answer: unknown) => void)({ got: tick });
      }),
    );
  });
  const client = connect(server, { transports: ['websocket'] });
  try {
    await once(client, 'connect');
    const tick = (data: unknown): Promise<unknown> => within(client.timeout(5000).emitWithAck('tick', data), 5000, 'tick ack');
    const before = server.broker.stats();
    // Nothing watches $emit.tick: the handler still gets the arguments, binary included, and the publish is counted.
    const bytes = Buffer.from([9, 8, 7]);
    const answer = (await tick({ n: 1, blob: bytes })) as { got: { n: number; blob: Buffer } };
    assert.is(answer.got.n, 1);
    assert.equal(Buffer.from(answer.got.blob), bytes);
    assert.ok(Buffer.isBuffer(ticks[0] && (ticks[0] as { blob: unknown }).blob), 'the handler got bytes back, as through a publish');
    const counted = server.broker.stats();
    assert.is(counted.published - before.published, 1, 'the unwatched emit is counted as published');
    assert.is(counted.topics - before.topics, 1, 'on its own topic');
    // The shape limits hold with no audience too (maxPayloadDepth 4 here).
    const deep = (await tick({ a: { b: { c: { d: { e: 1 } } } } })) as { error?: { code?: string } };
    assert.is(deep.error?.code, 'invalid_payload');
    assert.is(ticks.length, 1, 'a refused emit reaches no handler');
    // An observer makes it watched: the next emit is an event it sees.
    const seen: EventEnvelopeLike[] = [];
    const stop = server.broker.observe('$emit.#', (event) => void seen.push(event as EventEnvelopeLike));
    assert.equal(await tick({ n: 2 } satisfies Tick), { got: { n: 2 } });
    await until(() => seen.length === 1);
    assert.is(seen[0]!.topic, '$emit.tick');
    assert.equal(seen[0]!.data, { n: 2 });
    assert.is(seen[0]!.metadata?.['sid'], client.id);
    stop();
  } finally {
    client.close();
  }
});

test('the event map checks client emits: a declared event is validated, an undeclared one refused unless unknown topics are allowed', async () => {
  const events = { '$emit.tick': z.object({ n: z.number() }) };
  for (const allowUnknownTopics of [false, true]) {
    await using server = await startBroker({ ...opts, events, allowUnknownTopics }, (broker) => {
      broker.socketio!.on('connection', (socket) => {
        socket.on('tick', (tick, ack) => (ack as (answer: unknown) => void)({ got: tick }));
        socket.on('other', (value, ack) => (ack as (answer: unknown) => void)({ got: value }));
      });
    });
    const client = connect(server, { transports: ['websocket'] });
    try {
      await once(client, 'connect');
      const ask = (event: string, data: unknown): Promise<unknown> => within(client.timeout(5000).emitWithAck(event, data), 5000, `${event} ack`);
      assert.equal(await ask('tick', { n: 1 }), { got: { n: 1 } });
      const invalid = (await ask('tick', { n: 'one' })) as { error?: { code?: string } };
      assert.is(invalid.error?.code, 'invalid_payload');
      const other = (await ask('other', 5)) as { got?: unknown; error?: { code?: string } };
      if (allowUnknownTopics) assert.equal(other, { got: 5 });
      else assert.is(other.error?.code, 'unknown_event');
    } finally {
      client.close();
    }
  }
});

interface EventEnvelopeLike {
  readonly topic: string;
  readonly data: unknown;
  readonly metadata?: Readonly<Record<string, string>>;
}

test.run();
