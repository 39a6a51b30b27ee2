// Heap per idle connection, after collections: a broker (the built dist) in
// this process, N clients in a child (socket.io-client over WebSocket, each
// joining one room; or native WebSocket clients subscribed by URL), and
// process.memoryUsage() before and after. SNAP=name writes heap snapshots
// before and after (to compare retained objects by constructor).
//   node --expose-gc bench/connection-heap.mjs [socketio|native] [N]
// Built first: `tsc -p tsconfig.build.json` in event-channel and event-broker.
import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';

const [kind = 'socketio', count = '2000', role] = process.argv.slice(2);
const N = Number(count);
const require = createRequire(new URL('../packages/event-broker/package.json', import.meta.url));

if (role === 'clients') {
  const port = process.argv[5];
  const clients = [];
  const open = (n) =>
    new Promise((resolve) => {
      if (kind === 'socketio') {
        const client = require('socket.io-client').io(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false });
        clients.push(client);
        client.on('connect', () => client.emit('sub', `idle.${n}`, resolve));
      } else {
        const WebSocket = require('ws');
        const client = new WebSocket(`ws://127.0.0.1:${port}/?topics=idle.${n}`);
        clients.push(client);
        client.on('open', resolve);
      }
    });
  for (let i = 0; i < N; i += 50) await Promise.all(Array.from({ length: Math.min(50, N - i) }, (_, k) => open(i + k)));
  process.send('ready');
} else {
  const { EventBrokerServer } = await import(new URL('../packages/event-broker/dist/index.js', import.meta.url).href);
  const broker = new EventBrokerServer({ host: '127.0.0.1', port: 0, log: () => {}, socketio: true });
  broker.socketio.on('connection', (socket) => {
    socket.on('sub', (topic, ack) => void socket.join(topic).then(() => ack(), (error) => ack({ error: error.code })));
  });
  const { url } = await broker.listen();
  const settle = async () => {
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      globalThis.gc();
    }
  };
  const snap = process.env.SNAP;
  await settle();
  if (snap) v8.writeHeapSnapshot(`${snap}-before.heapsnapshot`);
  await settle();
  const before = process.memoryUsage();
  const child = fork(fileURLToPath(import.meta.url), [kind, count, 'clients', new URL(url).port]);
  await new Promise((resolve) => child.on('message', resolve));
  await settle();
  const after = process.memoryUsage();
  console.log(`${kind}, ${N} idle connections: heap ${((after.heapUsed - before.heapUsed) / 1024 / N).toFixed(2)} KiB per connection`);
  if (snap) v8.writeHeapSnapshot(`${snap}-after.heapsnapshot`);
  child.kill();
  await broker.close();
  process.exit(0);
}
