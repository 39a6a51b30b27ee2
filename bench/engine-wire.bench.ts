// The Engine.IO session wire's WebSocket half against the native WsWire
// (issue #32): fan-out 1→N, server CPU per delivery. The same server code
// for both — a Connection per client, one PreparedTextFrame per event sent to
// every connection, the broker's TickFlusher cork — only the wire differs:
// `ws` is WsWire itself, `engine` an EngineWire (a session opened over
// WebSocket) around it, whose frames are `4` + the text, prepared once per
// event for all recipients. The clients (raw `ws`, counting messages) run
// in a child process; server CPU is this process's from the first publish
// until the clients counted every delivery.
// Run: cd bench && node --conditions=@eventwire/source --import tsx engine-wire.bench.ts [N=1000] [events=300] [perTick=10] [rounds=3]
import { fork } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { Connection } from '../packages/event-broker/src/connection.js';
import { PreparedTextFrame } from '../packages/event-broker/src/prepared-frame.js';
import { EngineWire } from '../packages/event-broker/src/wire/engine-wire.js';
import type { Wire } from '../packages/event-broker/src/wire/wire.js';
import { TickFlusher, WsWire } from '../packages/event-broker/src/wire/ws-wire.js';

const [clients = 1000, events = 300, perTick = 10, rounds = 3] = process.argv.slice(2).filter((arg) => /^\d+$/.test(arg)).map(Number);

if (process.argv.includes('--client')) {
  // The client process: N sockets, each counting message frames; says when all arrived.
  const url = process.argv[process.argv.indexOf('--client') + 1]!;
  const expected = clients * events;
  let received = 0;
  const sockets: WebSocket[] = [];
  let open = 0;
  for (let index = 0; index < clients; index++) {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.on('open', () => {
      if (++open === clients) process.send!('ready');
    });
    socket.on('message', (data: Buffer) => {
      // The Engine.IO open packet (`0{…}`) is not an event.
      if (data[0] === 0x30) return;
      if (++received === expected) process.send!('done');
    });
    sockets.push(socket);
  }
  process.on('message', (message) => {
    if (message === 'reset') received = 0;
    if (message === 'exit') {
      for (const socket of sockets) socket.terminate();
      process.exit(0);
    }
  });
} else {
  for (const mode of ['ws', 'engine', 'ws', 'engine'].slice(0, rounds >= 2 ? 4 : 2)) console.log(`${mode}\t${(await run(mode as 'ws' | 'engine')).toFixed(2)} µs/delivery`);
}

/** One round: N clients on `mode`'s wire, `events` events to all; server CPU µs per delivery. */
async function run(mode: 'ws' | 'engine'): Promise<number> {
  const flusher = new TickFlusher();
  const connections: Connection[] = [];
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  let sid = 0;
  http.on('upgrade', (request, socket, head) =>
    wss.handleUpgrade(request, socket, head, (ws) => {
      const carrier = new WsWire(ws, flusher);
      const wire: Wire =
        mode === 'ws'
          ? carrier
          : new EngineWire({ pingInterval: 600_000, pingTimeout: 600_000, maxPayload: 1e6, upgradeTimeout: 10_000, headers: () => ({}), gone: () => {} }, String(sid++), carrier);
      const connection = new Connection({ id: String(connections.length), wire, surface: 'native', remote: '', maxOutboundBytes: 64 << 20, slowConsumerMs: 60_000, onSlow: () => {} });
      connection.start({ message: () => {}, closed: () => {}, error: () => {} });
      connections.push(connection);
    }),
  );
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const child = fork(new URL(import.meta.url).pathname, [String(clients), String(events), '--client', `ws://127.0.0.1:${port}/?EIO=4&transport=websocket`], {
    execArgv: process.execArgv,
  });
  const next = (): Promise<unknown> => new Promise((resolve) => child.once('message', resolve));
  await next(); // ready
  const payload = JSON.stringify({ id: '01HZX0000000000000000000', topic: 'bench.fanout', data: { text: 'x'.repeat(40) } });
  const done = next();
  const started = process.cpuUsage();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      for (let index = 0; index < perTick && sent < events; index++, sent++) {
        const frame = new PreparedTextFrame(payload);
        for (const connection of connections) connection.sendPrepared(frame);
      }
      if (sent < events) setImmediate(tick);
      else resolve();
    };
    tick();
  });
  await done;
  const cpu = process.cpuUsage(started);
  child.send('exit');
  await new Promise((resolve) => child.once('exit', resolve));
  wss.close();
  http.closeAllConnections();
  await new Promise((resolve) => http.close(resolve));
  return (cpu.user + cpu.system) / (clients * events);
}
