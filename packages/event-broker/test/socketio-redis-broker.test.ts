// The Redis emitters' bridge switched on by configuration (`socketio.redis`),
// end to end with real parts: a throwaway redis-server, Debian's
// python-socketio `AsyncRedisManager(write_only=True)` unchanged, the broker
// with the socketio surface, socket.io-client v4 in rooms, an EventChannel,
// a hook, and /stats and /metrics. What the broker starts on `listen` it
// stops on `close`: the bridge's Redis connection is gone after it.
import { EventChannel, type EventMap } from '@eventwire/event-channel';
import { Redis } from 'ioredis';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../../../scripts/testing/redis-server.js';
import type { EventBrokerServer } from '../src/server.js';
import { startBroker, until, within, type TestBroker } from './helpers.js';
import { PythonManager, pythonSocketioAvailable } from './python-socketio.js';

interface Context {
  redis: RedisServer;
  python: PythonManager;
}

const available = redisServerAvailable() && pythonSocketioAvailable();
const test = suite<Context>('socketio.redis: the Redis emitters reach the broker');

test.before(async (context) => {
  if (!available) return;
  context.redis = await startRedisServer();
  context.python = new PythonManager(context.redis.url);
});

test.after(async (context) => {
  if (!available) return;
  context.python?.stop();
  await context.redis?.stop();
});

/** Each socket joins the room its handshake asks for (`?room=`), then says so. */
function setup(broker: EventBrokerServer): void {
  broker.socketio!.on('connection', (socket) => {
    const room = socket.handshake.query['room'];
    if (room) void socket.join(room).then(() => socket.emit('joined', room));
  });
}

/** A socket.io-client in `room`, with every event it receives in order. */
async function inRoom(server: TestBroker<EventMap>, room: string): Promise<{ socket: ClientSocket; got: unknown[][] }> {
  const socket = io(server.httpUrl, { transports: ['websocket'], query: { room }, reconnection: false, forceNew: true });
  const got: unknown[][] = [];
  const joined = new Promise<void>((resolve) => socket.once('joined', () => resolve()));
  socket.onAny((event: string, ...args: unknown[]) => {
    if (event !== 'joined') got.push([event, ...args]);
  });
  await within(joined, 5000, `a socket to join ${room}`);
  return { socket, got };
}

async function bridged(server: TestBroker<EventMap>): Promise<void> {
  await until(() => server.broker.stats().socketioBridge?.subscribed === true, 'the bridge to subscribe');
}

test('python emit to room chat.7: the socket in chat.7 gets it, the one in chat.8 not; an EventChannel and a hook see it once; /stats and /metrics count it', async ({ redis, python }) => {
  if (!available) return;
  const hooked: unknown[] = [];
  await using server = await startBroker({ socketio: { redis: redis.url } }, (broker) => {
    setup(broker);
    broker.observe('chat.#', (event) => void hooked.push(event.data));
  });
  await bridged(server);
  const seven = await inRoom(server, 'chat.7');
  const eight = await inRoom(server, 'chat.8');
  const channel = new EventChannel({ url: server.url });
  try {
    const seen: unknown[] = [];
    const unsubscribe = channel.on('chat.7', (data, event) => void seen.push([event.metadata?.['event'], data]));
    await unsubscribe.ready;
    await python.run(`mgr.emit('UpdateChat', {'id': 7, 'title': 'Seven'}, room='chat.7')`);
    await until(() => seven.got.length === 1 && seen.length === 1, 'chat.7 to get the emit');
    assert.equal(seven.got, [['UpdateChat', { id: 7, title: 'Seven' }]]);
    assert.equal(seen, [['UpdateChat', { id: 7, title: 'Seven' }]], 'the EventChannel on topic chat.7');
    // The bridge delivers in the order it reads: chat.8's first event is the one sent to it after.
    await python.run(`mgr.emit('UpdateChat', {'id': 8}, room='chat.8')`);
    await until(() => eight.got.length === 1, 'chat.8 to get its own emit');
    assert.equal(eight.got, [['UpdateChat', { id: 8 }]], 'chat.8 never got the chat.7 emit');
    await until(() => hooked.length === 2, 'the hook to see both');
    assert.equal(hooked, [{ id: 7, title: 'Seven' }, { id: 8 }], 'the hook sees each emit once');
    const stats = server.broker.stats().socketioBridge!;
    assert.is(stats.received, 2);
    assert.is(stats.delivered, 2);
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    assert.match(metrics, /^eventwire_socketio_bridge_messages_total\{outcome="delivered",reason=""\} 2$/m);
    assert.match(metrics, /^eventwire_socketio_bridge_subscribed 1$/m);
    const overHttp = (await (await fetch(`${server.httpUrl}/stats`)).json()) as { socketioBridge?: { delivered: number } };
    assert.is(overHttp.socketioBridge?.delivered, 2);
  } finally {
    await channel.close();
    seven.socket.close();
    eight.socket.close();
  }
});

test('skip_sid leaves that socket out; a refused message is counted by reason in /metrics', async ({ redis, python }) => {
  if (!available) return;
  await using server = await startBroker({ socketio: { redis: { url: redis.url, channel: 'socketio' } } }, setup);
  await bridged(server);
  const skipped = await inRoom(server, 'chat.7');
  const other = await inRoom(server, 'chat.7');
  try {
    await python.run(`mgr.emit('UpdateChat', {'n': 1}, room='chat.7', skip_sid='${skipped.socket.id}')`);
    await until(() => other.got.length === 1, 'the other socket to get it');
    // An emit to a namespace nobody declared: refused, counted, nothing delivered.
    await python.run(`mgr.emit('UpdateChat', {'n': 0}, room='chat.7', namespace='/nowhere')`);
    await python.run(`mgr.emit('UpdateChat', {'n': 2}, room='chat.7')`);
    await until(() => skipped.got.length === 1 && other.got.length === 2, 'both to get the next');
    assert.equal(skipped.got, [['UpdateChat', { n: 2 }]], 'skip_sid left it out of the first');
    assert.equal(other.got, [['UpdateChat', { n: 1 }], ['UpdateChat', { n: 2 }]]);
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    assert.match(metrics, /^eventwire_socketio_bridge_messages_total\{outcome="refused",reason="unknown_namespace"\} 1$/m);
    assert.match(metrics, /^eventwire_socketio_bridge_messages_total\{outcome="delivered",reason=""\} 2$/m);
  } finally {
    skipped.socket.close();
    other.socket.close();
  }
});

test('a namespace setup declares is reachable; the bridge starts on listen and its connection is gone after close', async ({ redis, python }) => {
  if (!available) return;
  const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
  const bridges = async (): Promise<number> => String(await admin.client('LIST')).split('\n').filter((line) => line.includes('name=eventwire-socketio-bridge')).length;
  try {
    const server = await startBroker({ socketio: { redis: redis.url } }, (broker) => {
      setup(broker);
      broker.socketio!.of('/admin').on('connection', (socket) => void socket.join('ops').then(() => socket.emit('joined')));
    });
    await bridged(server);
    assert.is(await bridges(), 1);
    const socket = io(`${server.httpUrl}/admin`, { transports: ['websocket'], reconnection: false, forceNew: true });
    try {
      await within(new Promise((resolve) => socket.once('joined', resolve)), 5000, 'the /admin socket to join ops');
      const got = within(new Promise<unknown[]>((resolve) => socket.once('Alert', (...args: unknown[]) => resolve(args))), 5000, 'Alert on /admin');
      await python.run(`mgr.emit('Alert', 'disk', room='ops', namespace='/admin')`);
      assert.equal(await got, ['disk']);
    } finally {
      socket.close();
    }
    await server.stop();
    await until(async () => (await bridges()) === 0, 'the bridge to quit Redis');
  } finally {
    admin.disconnect();
  }
});

test.run();
