// Live chats as a fast_app backend keeps them, on eventwire:
// - service.py is the Python backend: UpdateChat(chat) says it goes to room
//   `chat.<id>` (broadcast_on) and broadcast() emits it through
//   python-socketio's AsyncRedisManager(url, write_only=True), unchanged —
//   what a Socket.IO server on the Redis adapter would read;
// - the broker is that Socket.IO server: its socketio surface reads the
//   Redis emitters (`socketio.redis`), its setup joins each socket to the chat
//   it asks for (`?chat=7` → room `chat.7`), a channel rule keeps
//   `private-chat.*` rooms to staff, and an audit hook (an observer, off the
//   delivery path) writes every chat update to audit.jsonl here;
// - the web server serves the page, which loads socket.io-client's own
//   browser build (served unchanged) and connects from its origin to the
//   broker's (CORS for the page's origin), long-polling then WebSocket;
// - a socket.io-client in Node watches chat.7 too and says what it got.
// A throwaway redis-server (Debian's) is started and stopped with it.
// Usage: main.ts [--port 15500] [--web-port 3000] [--rounds 0] [--interval-ms 700] [--audit audit.jsonl]
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createBrokerFromConfig } from '@eventwire/event-broker';
import { io } from 'socket.io-client';
import { redisServerAvailable, startRedisServer } from '../../../scripts/testing/redis-server.js';
import { exampleArgs, exitIfPortBusy, wholeNumber } from '../../shared/command-line.js';
import { chatsBrokerConfig } from './broker-config.js';

const name = 'socketio-chat';
const usage = `Usage: npm run example:socketio -- [--port 15500] [--web-port 3000] [--rounds 0] [--interval-ms 700] [--audit <file>]
  --port         the broker's port
  --web-port     the page's port (0 picks a free one for either)
  --rounds       chat updates the Python service broadcasts, then it stops (0: until Ctrl-C)
  --interval-ms  time between two of them
  --audit        where the audit hook appends (default: audit.jsonl in the example's folder)`;
const values = exampleArgs(name, usage, {
  port: { type: 'string' },
  'web-port': { type: 'string' },
  rounds: { type: 'string' },
  'interval-ms': { type: 'string' },
  audit: { type: 'string' },
});
const brokerPort = wholeNumber(name, usage, '--port', values.port, 15500);
const webPort = wholeNumber(name, usage, '--web-port', values['web-port'], 3000);
const rounds = wholeNumber(name, usage, '--rounds', values.rounds, 0);
const intervalMs = wholeNumber(name, usage, '--interval-ms', values['interval-ms'], 700);
const auditPath = values.audit ?? fileURLToPath(new URL('../audit.jsonl', import.meta.url));
const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
const PYTHON = '/usr/bin/python3';

// What this example needs from the machine, said in one line each.
if (!redisServerAvailable()) {
  console.error(`${name}: needs redis-server (apt-get install -y redis-server)`);
  process.exit(1);
}
if (spawnSync(PYTHON, ['-c', 'import socketio, redis']).status !== 0) {
  console.error(`${name}: needs python-socketio for ${PYTHON} (apt-get install -y python3-socketio python3-redis)`);
  process.exit(1);
}

// Ctrl-C may come at any moment, even during start-up: stop once started.
let stopping = false;
const stopped = new Promise<void>((resolve) => {
  const stop = () => {
    stopping = true;
    resolve();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
});

const redis = await startRedisServer();
const audit = createWriteStream(auditPath, { flags: 'a' });

// The page's server listens first: the broker lets its origin in (CORS), so it must know the port.
const vendor: Record<string, string> = {
  '/vendor/socket.io.min.js': fileURLToPath(new URL('../node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url)),
};
let page = '';
const web = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://chats').pathname;
  if (path === '/') return void response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
  const script = vendor[path];
  if (script) return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(script));
  response.writeHead(404).end();
});
await new Promise<void>((resolve, reject) => web.once('error', reject).listen(webPort, '127.0.0.1', resolve)).catch(exitIfPortBusy(name, '--web-port', webPort));
const pagePort = (web.address() as AddressInfo).port;

const { broker } = await createBrokerFromConfig({
  ...chatsBrokerConfig({
    redis: redis.url,
    pageOrigins: [`http://127.0.0.1:${pagePort}`, `http://localhost:${pagePort}`],
    audit: (line) => void audit.write(line),
    log,
  }),
  port: brokerPort,
});
const { httpUrl } = await broker.listen().catch(exitIfPortBusy(name, '--port', brokerPort));
page = readFileSync(new URL('../public/index.html', import.meta.url), 'utf8').replace('__BROKER__', httpUrl);

// The bridge subscribes on listen; the service's first broadcast must not go out before (Redis pub/sub keeps nothing).
while (!broker.stats().socketioBridge?.subscribed && !stopping) await new Promise((resolve) => setTimeout(resolve, 20));

// A watcher in Node, in chat.7, as the page is.
const watcher = io(httpUrl, { query: { chat: '7' }, reconnection: false });
watcher.on('UpdateChat', (chat: { title: string; messages: number }) => log(`watcher in chat.7 got UpdateChat: ${chat.title} #${chat.messages}`));
const watching = new Promise<void>((resolve) => watcher.once('joined', () => resolve()));
watcher.once('connect_error', (error) => log(`watcher could not connect: ${error.message}`));
await Promise.race([watching, stopped]);
// The channel rule at work: a guest asking to watch a staff chat is refused.
const refused = (await watcher.timeout(5000).emitWithAck('join', 'private-chat.1').catch((error: Error) => ({ error: { code: error.message } }))) as { error?: { code: string } };
log(`watcher asking for private-chat.1: ${refused.error ? `refused ${refused.error.code}` : 'allowed'}`);

const service = stopping
  ? undefined
  : spawn(PYTHON, [fileURLToPath(new URL('../service.py', import.meta.url)), '--redis', redis.url, '--rounds', String(rounds), '--interval-ms', String(intervalMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
const serviceExited = new Promise<void>((resolve) => (service ? service.once('exit', () => resolve()) : resolve()));
if (service) {
  createInterface({ input: service.stdout! }).on('line', (line) => log(line));
  service.once('exit', (code, signal) => {
    if (!stopping && code !== 0) log(`the Python service stopped: ${code ?? signal}`);
  });
}
log(`chats on http://127.0.0.1:${pagePort}/?chat=7 (broker ${httpUrl}, Socket.IO from Redis ${redis.url}, audit ${auditPath}); Ctrl-C stops`);

await stopped;
if (service && service.exitCode === null) service.kill('SIGTERM');
await serviceExited;
watcher.close();
await new Promise((resolve) => web.close(resolve));
web.closeAllConnections();
await broker.close();
await redis.stop();
await new Promise((resolve) => audit.end(resolve));
log('chats stopped');
