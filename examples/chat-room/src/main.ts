// The chat room: a broker (enforcing the message schema, guarding each room
// as a presence channel), a web server for the page that signs people in,
// and a bot. Open the printed URL in a browser (several tabs, or
// ?user=ada&room=lobby) and chat; the side bar shows who is online.
// Usage: main.ts [--port 15500] [--web-port 3000]   (0 picks free ports)
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBrokerFromConfig } from '@eventwire/event-broker';
import { EventChannel } from '@eventwire/event-channel';
import { exampleArgs, exitIfPortBusy, wholeNumber } from '../../shared/command-line.js';
import { startBot } from './bot.js';
import { chatBrokerConfig } from './broker-config.js';
import { chat, roomName } from './events.js';
import { createSessions } from './sessions.js';

const usage = `Usage: npm run example:chat -- [--port 15500] [--web-port 3000]
  --port      the broker's port
  --web-port  the page's port (0 picks a free one for either)`;
const values = exampleArgs('chat-room', usage, { port: { type: 'string' }, 'web-port': { type: 'string' } });
const brokerPort = wholeNumber('chat-room', usage, '--port', values.port, 15500);
const webPort = wholeNumber('chat-room', usage, '--web-port', values['web-port'], 3000);
const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

// The page imports the built event-channel (plain ES modules, no bundler).
const dist = fileURLToPath(new URL('../../../packages/event-channel/dist/', import.meta.url));
if (!existsSync(join(dist, 'index.js'))) {
  console.error('The page needs the built event-channel: run `npm run build` first.');
  process.exit(1);
}
const page = readFileSync(new URL('../public/index.html', import.meta.url), 'utf8');

// Ctrl-C may come at any moment, even during start-up: stop once started.
const stopped = new Promise<void>((resolve) => {
  process.on('SIGINT', () => resolve());
  process.on('SIGTERM', () => resolve());
});

const sessions = createSessions();
const botToken = sessions.mint('bot', Number.MAX_SAFE_INTEGER - Date.now());
const { broker } = await createBrokerFromConfig({ ...chatBrokerConfig, port: brokerPort }, { authenticate: sessions.authenticate });
const { url } = await broker.listen().catch(exitIfPortBusy('chat-room', '--port', brokerPort));
const bot = await startBot(new EventChannel({ url, events: chat, source: 'chat-bot', ws: { token: botToken } }), log);

const web = createServer(async (request, response) => {
  const address = new URL(request.url ?? '/', 'http://page');
  const path = address.pathname;
  if (path === '/') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page.replace('__BROKER_URL__', url));
    return;
  }
  if (path === '/session' && request.method === 'POST') {
    // A demo sign-in: the name is the identity. A real app checks a password or an SSO session here.
    const user = address.searchParams.get('user') ?? '';
    const room = address.searchParams.get('room') ?? '';
    if (!/^[\w-]{1,32}$/.test(user) || user === 'bot' || !roomName.test(room)) {
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'a user name and a room of letters, digits, - or _' }));
      return;
    }
    await bot.enter(room); // the bot is in the room before its first guest
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: sessions.mint(user) }));
    return;
  }
  const file = normalize(join(dist, path.replace(/^\/eventwire\//, '')));
  if (!path.startsWith('/eventwire/') || !file.startsWith(dist) || !existsSync(file)) {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { 'content-type': extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream' });
  response.end(readFileSync(file));
});
await new Promise<void>((resolve, reject) => web.once('error', reject).listen(webPort, '127.0.0.1', resolve)).catch(
  exitIfPortBusy('chat-room', '--web-port', webPort),
);
log(`chat page on http://127.0.0.1:${(web.address() as AddressInfo).port}/ (broker ${url}); Ctrl-C to stop`);

await stopped;
await bot.close();
web.closeAllConnections();
await new Promise<void>((resolve) => web.close(() => resolve()));
await broker.close();
log('chat stopped');
