// The Redis emitters' bridge with real parts: a throwaway redis-server,
// Debian's python-socketio driving `AsyncRedisManager(url, write_only=True)`
// unchanged (`/usr/bin/python3`), npm's `@socket.io/redis-emitter` on the
// `redis` client, and raw PUBLISHes for hostile input. The server is a
// recording SocketIoServer (the contract of server-api.ts, nothing else), so
// each assertion is on exactly what the bridge asked: namespace, rooms,
// except, volatile, event, args.
import { Emitter } from '@socket.io/redis-emitter';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../../../scripts/testing/redis-server.js';
import { startRedisBridge, type RedisBridge } from '../src/surfaces/socketio/redis-bridge.js';
import type { BrokerLogRecord } from '../src/log-record.js';
import { until, within } from './helpers.js';
import { PythonManager, pythonSocketioAvailable } from './python-socketio.js';
import { RecordingServer, REFUSED_EVENT, type Call } from './socketio-recording-server.js';

interface Context {
  redis: RedisServer;
  server: RecordingServer;
  bridge: RedisBridge;
  logs: BrokerLogRecord[];
  python: PythonManager;
  raw: Redis;
}

const available = redisServerAvailable() && pythonSocketioAvailable();
const test = suite<Context>('socketio redis bridge');
const fixture = (name: string) => readFileSync(new URL(`fixtures/socketio/${name}`, import.meta.url));

test.before(async (context) => {
  if (!available) return;
  context.redis = await startRedisServer();
  context.server = new RecordingServer([]);
  context.logs = [];
  context.bridge = startRedisBridge({
    url: context.redis.url,
    server: context.server,
    log: (record) => void context.logs.push(record),
    acceptNamespace: (name) => name === '/' || name === '/admin',
    // Quick reconnects: the restart case waits on them.
    backoff: () => 20,
  });
  await within(context.bridge.subscribed(), 5000, 'the bridge to subscribe');
  context.python = new PythonManager(context.redis.url);
  context.raw = new Redis(context.redis.url, { maxRetriesPerRequest: null });
});

test.after(async (context) => {
  if (!available) return;
  context.python?.stop();
  context.raw?.disconnect();
  await context.bridge?.close();
  await context.redis?.stop();
});

test.before.each((context) => {
  if (available) context.server.recorded.length = 0;
});

/** Runs `send` and waits until the bridge has read `count` more messages; returns what the server was asked. */
async function through(context: Context, send: () => Promise<unknown>, count = 1): Promise<Call[]> {
  const before = context.bridge.stats().received;
  await send();
  await until(() => context.bridge.stats().received >= before + count, `the bridge to read ${count} message(s)`);
  return context.server.recorded.splice(0);
}

const call = (fields: Partial<Call> & Pick<Call, 'op'>): Call => ({ nsp: '/', rooms: [], except: [], volatile: false, ...fields });

const maybe = (name: string, body: (context: Context) => Promise<void>) => test(name, async (context) => (available ? body(context) : undefined));

maybe('python-socketio: an emit to a room', async (context) => {
  const calls = await through(context, () => context.python.run(`mgr.emit('UpdateChat', {'chat_id': 7, 'text': 'hi'}, room='chat.7')`));
  assert.equal(calls, [call({ op: 'emit', rooms: ['chat.7'], event: 'UpdateChat', args: [{ chat_id: 7, text: 'hi' }] })]);
});

maybe('python-socketio: an emit to everyone, with no data, and a list of rooms', async (context) => {
  const calls = await through(context, () => context.python.run(`mgr.emit('everyone', {'n': 1})`));
  assert.equal(calls, [call({ op: 'emit', event: 'everyone', args: [{ n: 1 }] })]);
  assert.equal(await through(context, () => context.python.run(`mgr.emit('ping', None)`)), [call({ op: 'emit', event: 'ping', args: [] })]);
  // A list is one argument (only a tuple spreads); a list of rooms is their union.
  assert.equal(await through(context, () => context.python.run(`mgr.emit('list', [1, 2], room=['a', 'b'])`)), [
    call({ op: 'emit', rooms: ['a', 'b'], event: 'list', args: [[1, 2]] }),
  ]);
});

maybe('python-socketio: a tuple is several arguments; skip_sid one or many; a namespace', async (context) => {
  assert.equal(await through(context, () => context.python.run(`mgr.emit('multi', ('a', 1, None), room='room one', namespace='/admin', skip_sid='SIDXYZ')`)), [
    call({ op: 'emit', nsp: '/admin', rooms: ['room one'], except: ['SIDXYZ'], event: 'multi', args: ['a', 1, null] }),
  ]);
  assert.equal(await through(context, () => context.python.run(`mgr.emit('many', 'x', skip_sid=['s1', 's2'])`)), [
    call({ op: 'emit', except: ['s1', 's2'], event: 'many', args: ['x'] }),
  ]);
});

maybe('python-socketio: bytes arrive as Buffers', async (context) => {
  const [emitted] = await through(context, () => context.python.run(`mgr.emit('bin', {'blob': b'\\x01\\x02\\xff', 'n': 3}, room='files')`));
  assert.is(emitted?.event, 'bin');
  const data = emitted!.args![0] as { blob: unknown; n: number };
  assert.ok(Buffer.isBuffer(data.blob), 'bytes are a Buffer');
  assert.equal([...(data.blob as Buffer)], [1, 2, 255]);
  assert.is(data.n, 3);
});

maybe('python-socketio: disconnect and close_room are requests (5.7.2 has no enter_room/leave_room); callback is unsupported, logged once', async (context) => {
  assert.equal(await through(context, () => context.python.run(`mgr.disconnect('SID1', namespace='/')`)), [call({ op: 'disconnectSockets', rooms: ['SID1'], close: false })]);
  assert.equal(await through(context, () => context.python.run(`mgr.close_room('old', namespace='/admin')`)), [
    call({ op: 'socketsLeave', nsp: '/admin', rooms: ['old'], leave: ['old'] }),
  ]);
  // A write-only manager cannot ask for a callback; what a server's callback answer looks like is published raw.
  const callback = Buffer.from(JSON.stringify({ method: 'callback', host_id: 'h', sid: 's', namespace: '/', id: 1, args: [] }));
  const before = context.bridge.stats().unsupported.callback ?? 0;
  const logged = context.logs.length;
  assert.equal(await through(context, () => Promise.all([1, 2, 3].map(() => context.raw.publish('socketio', callback))), 3), []);
  assert.is(context.bridge.stats().unsupported.callback, before + 3);
  assert.is(context.logs.slice(logged).filter((record) => record.msg.includes('callback')).length, 1, 'one line for three');
});

maybe('@socket.io/redis-emitter: a room; several rooms, except and volatile in a namespace; binary', async (context) => {
  const client = createClient({ url: context.redis.url });
  await client.connect();
  try {
    const emitter = new Emitter(client);
    assert.equal(await through(context, async () => emitter.to('room-1').emit('chat message', { text: 'hi' })), [
      call({ op: 'emit', rooms: ['room-1'], event: 'chat message', args: [{ text: 'hi' }] }),
    ]);
    assert.equal(await through(context, async () => emitter.of('/admin').to(['a', 'b']).except('c').volatile.emit('multi', 1, 'two')), [
      call({ op: 'emit', nsp: '/admin', rooms: ['a', 'b'], except: ['c'], volatile: true, event: 'multi', args: [1, 'two'] }),
    ]);
    const [binary] = await through(context, async () => emitter.emit('bin', Buffer.from([1, 2, 3]), { nested: Buffer.from([4]) }));
    assert.ok(Buffer.isBuffer(binary!.args![0]) && Buffer.isBuffer((binary!.args![1] as { nested: unknown }).nested), 'Buffers');
    assert.equal([...(binary!.args![0] as Buffer)], [1, 2, 3]);
  } finally {
    await client.quit();
  }
});

maybe('@socket.io/redis-emitter: socketsJoin, socketsLeave, disconnectSockets; serverSideEmit unsupported', async (context) => {
  const client = createClient({ url: context.redis.url });
  await client.connect();
  try {
    const emitter = new Emitter(client);
    assert.equal(await through(context, async () => emitter.in('room-1').socketsJoin('room-2')), [call({ op: 'socketsJoin', rooms: ['room-1'], join: ['room-2'] })]);
    assert.equal(await through(context, async () => emitter.of('/admin').in('x').except('y').socketsLeave(['p', 'q'])), [
      call({ op: 'socketsLeave', nsp: '/admin', rooms: ['x'], except: ['y'], leave: ['p', 'q'] }),
    ]);
    assert.equal(await through(context, async () => emitter.in('bad').disconnectSockets(true)), [call({ op: 'disconnectSockets', rooms: ['bad'], close: true })]);
    const before = context.bridge.stats().unsupported.serverSideEmit ?? 0;
    assert.equal(await through(context, async () => emitter.serverSideEmit('hello', 'world')), []);
    assert.is(context.bridge.stats().unsupported.serverSideEmit, before + 1);
  } finally {
    await client.quit();
  }
});

maybe('a hostile pickle (GLOBAL posix system, STACK_GLOBAL + REDUCE) is refused and counted, nothing emitted, the next message delivered', async (context) => {
  const before = context.bridge.stats().refused['forbidden_opcode'] ?? 0;
  const logged = context.logs.length;
  assert.equal(
    await through(context, () => Promise.all(['hostile-reduce-p2.pickle', 'hostile-reduce-p4.pickle'].map((name) => context.raw.publish('socketio', fixture(name)))), 2),
    [],
  );
  assert.is(context.bridge.stats().refused['forbidden_opcode'], before + 2);
  const line = context.logs.slice(logged).find((record) => record.msg.includes('forbidden_opcode'));
  assert.ok(line, 'logged');
  assert.match(line.msg, /first bytes 8002/, 'the first bytes in hex');
  assert.is(line.code, 'invalid_frame');
  assert.equal(await through(context, () => context.python.run(`mgr.emit('after', 1)`)), [call({ op: 'emit', event: 'after', args: [1] })]);
});

maybe('refused by reason: unknown namespace, invalid room, a server refusal, not a message', async (context) => {
  const before = { ...context.bridge.stats().refused };
  await through(context, () => context.python.run(`mgr.emit('x', 1, namespace='/elsewhere')`));
  await through(context, () => context.python.run(`mgr.emit('x', 1, room='a..b')`));
  await through(context, () => context.python.run(`mgr.emit('x', 1, skip_sid='')`));
  await through(context, () => context.python.run(`mgr.emit('${REFUSED_EVENT}', 1)`));
  await through(context, () => context.raw.publish('socketio', 'garbage'));
  await through(context, () => context.raw.publish('socket.io#/#', Buffer.from([0xc1])));
  // The namespace in the channel is not the packet's: as the Redis adapter, which listens per namespace, never delivered.
  const client = createClient({ url: context.redis.url });
  await client.connect();
  const emitter = new Emitter(client);
  await through(context, async () => {
    await client.publish('socket.io#/admin#', Buffer.from('93a7656d6974746572 83a474797065 02a464617461 91a178 a36e7370 a12f 80'.replace(/ /g, ''), 'hex'));
  });
  await through(context, async () => emitter.of('/nowhere').emit('x'));
  await client.quit();
  const after = context.bridge.stats().refused;
  const grew = (reason: string) => (after[reason] ?? 0) - (before[reason] ?? 0);
  assert.is(grew('unknown_namespace'), 2);
  assert.is(grew('invalid_topic'), 2);
  assert.is(grew('forbidden'), 1);
  assert.is(grew('not_json'), 1);
  assert.is(grew('unsupported_type'), 1, 'msgpack 0xc1 is no type');
  assert.is(grew('bad_field'), 1);
  assert.equal(context.server.recorded, [], 'nothing emitted');
  assert.equal(context.server.declared.filter((name) => name !== '/' && name !== '/admin'), [], 'no namespace declared for an unknown one');
});

maybe('a configured python channel and emitter key: only those are listened to', async (context) => {
  const recorded: Call[] = [];
  const bridge = startRedisBridge({ url: context.redis.url, server: new RecordingServer(recorded), log: () => {}, channel: 'myapp-socketio', key: 'myapp.io' });
  const client = createClient({ url: context.redis.url });
  await client.connect();
  try {
    await within(bridge.subscribed(), 5000, 'the second bridge to subscribe');
    // Published first, on the default channels: a bridge listening there would read them before the rest (one connection, in order).
    const mainBefore = context.bridge.stats().received;
    await context.raw.publish('socketio', fixture('python-emit-updatechat.pickle'));
    await context.raw.publish('socket.io#/#room-1#', fixture('node-emit-room.msgpack'));
    const emitter = new Emitter(client, { key: 'myapp.io' });
    await context.raw.publish('myapp-socketio', fixture('python-emit-updatechat.pickle'));
    emitter.to('r').emit('node', 1);
    emitter.in('r').socketsJoin('s');
    await until(() => bridge.stats().received >= 3, 'three messages on the configured channels');
    assert.equal(recorded, [
      call({ op: 'emit', rooms: ['chat.7'], event: 'UpdateChat', args: [{ chat_id: 7, text: 'hi' }] }),
      call({ op: 'emit', rooms: ['r'], event: 'node', args: [1] }),
      call({ op: 'socketsJoin', rooms: ['r'], join: ['s'] }),
    ]);
    // The default bridge read those two; waited for, so that no later case counts them as its own.
    await until(() => context.bridge.stats().received === mainBefore + 2, 'the default bridge to read the two');
    context.server.recorded.length = 0;
  } finally {
    await bridge.close();
    await client.quit();
  }
});

maybe('redis-server killed and restarted: the bridge subscribes again and delivers the next message', async (context) => {
  const disconnects = context.bridge.stats().disconnects;
  await context.redis.kill();
  await until(() => !context.bridge.stats().subscribed, 'the bridge to see Redis go');
  await context.redis.start();
  await within(context.bridge.subscribed(), 10_000, 'the bridge to subscribe again');
  assert.is(context.bridge.stats().disconnects, disconnects + 1);
  // python-socketio reconnects on its next publish (one retry), as it does in production.
  const calls = await through(context, () => context.python.run(`mgr.emit('back', 'again', room='chat.7')`));
  assert.equal(calls, [call({ op: 'emit', rooms: ['chat.7'], event: 'back', args: ['again'] })]);
});

test.run();
