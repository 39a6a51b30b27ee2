// Socket.IO connection state recovery across a `kill -9` of the broker: the
// real CLI with a --data-dir log store and the socketio config from a config
// file. A socket.io-client v4 in a room gets events, the broker is SIGKILLed
// (no disconnect is ever recorded), a new broker process starts on the same
// data dir and port, events are published to the room before the client
// comes back, and the client gets its socket back (`recovered` true on both
// sides, the same id) with the missed events once and in order, then live ones.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { runBrokerCli, until, waitForOutput, within, type BrokerProcess } from './helpers.js';

// The application's config: a socket joins chat.7 unless it was recovered
// (then it is in its rooms already), and says on stdout how each connected.
const config = `export default {
  socketio: { recovery: true },
  setup(broker) {
    broker.socketio.on('connection', (socket) => {
      console.log('sio-connection ' + socket.id + ' recovered=' + socket.recovered);
      if (!socket.recovered) void socket.join('chat.7').then(() => socket.emit('joined'));
    });
  },
};
`;

async function start(dir: string, port: number): Promise<{ broker: BrokerProcess; port: number }> {
  const broker = runBrokerCli(['--config', join(dir, 'broker.config.mjs'), '--host', '127.0.0.1', '--port', String(port), '--data-dir', join(dir, 'data'), '--history', '#:10000:1h']);
  const [, listening] = await waitForOutput(() => broker.output(), /listening on ws:\/\/[\d.]+:(\d+)/, 'broker listening');
  return { broker, port: Number(listening) };
}

async function publish(port: number, numbers: readonly number[]): Promise<void> {
  const channel = new EventChannel({ url: `ws://127.0.0.1:${port}` });
  try {
    for (const n of numbers) await channel.emit('chat.7', n, { ack: true });
  } finally {
    await channel.close();
  }
}

function kill(broker: BrokerProcess): Promise<unknown> {
  broker.child.kill('SIGKILL');
  return broker.exit;
}

test('SIGKILL of the broker: a new process on the same data dir recovers the socket, the missed events once and in order, then live ones', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'socketio-recovery-kill-'));
  writeFileSync(join(dir, 'broker.config.mjs'), config);
  let first: BrokerProcess | undefined;
  let second: BrokerProcess | undefined;
  const news: number[] = [];
  const { broker, port } = await start(dir, 0);
  first = broker;
  const client = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true, reconnectionDelay: 20, reconnectionDelayMax: 50 });
  client.on('chat.7', (n: number) => news.push(n));
  try {
    await within(new Promise<void>((resolve) => client.once('joined', () => resolve())), 20_000, 'joined chat.7');
    const sid = client.id;
    await publish(port, [1, 2, 3]);
    await until(() => news.length === 3, 'three live events');

    // Back only when told: the events below must be published while it is away.
    client.io.reconnection(false);
    const gone = within(new Promise<void>((resolve) => client.once('disconnect', () => resolve())), 10_000, 'the client saw the broker die');
    await kill(first);
    first = undefined;
    await gone;

    ({ broker: second } = await start(dir, port));
    await publish(port, [4, 5, 6]);
    const back = within(new Promise<void>((resolve) => client.once('connect', () => resolve())), 20_000, 'the client back');
    client.connect();
    await back;
    assert.is(client.recovered, true, 'the client side: recovered');
    assert.is(client.id, sid, 'the same socket id');
    await waitForOutput(() => second!.output(), new RegExp(`sio-connection ${sid} recovered=true`), 'the server side: recovered');
    await until(() => news.length >= 6, 'the missed events');

    await publish(port, [7]);
    await until(() => news.length >= 7, 'a live event');
    assert.equal(news, [1, 2, 3, 4, 5, 6, 7], 'every event once, in order');
  } finally {
    client.close();
    if (first) await kill(first);
    if (second) await kill(second);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
