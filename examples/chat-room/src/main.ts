// The chat room: a broker (enforcing the message schema), a web server for
// the page, and a bot. Open the printed URL in a browser (several tabs, or
// ?user=ada&room=lobby) and chat.
// Usage: main.ts [--port 15500] [--web-port 3000]   (0 picks free ports)
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EventBrokerServer } from '@eventwire/event-broker';
import { startBot } from './bot.js';
import { chat } from './events.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '15500' }, 'web-port': { type: 'string', default: '3000' } } });
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

const broker = new EventBrokerServer({ port: Number(values.port), events: chat });
const { url } = await broker.listen();
const bot = await startBot(url, log);

const web = createServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://page').pathname;
  if (path === '/') {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page.replace('__BROKER_URL__', url));
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
await new Promise<void>((resolve) => web.listen(Number(values['web-port']), '127.0.0.1', resolve));
log(`chat page on http://127.0.0.1:${(web.address() as AddressInfo).port}/ (broker ${url}); Ctrl-C to stop`);

await stopped;
await bot.close();
web.closeAllConnections();
await new Promise<void>((resolve) => web.close(() => resolve()));
await broker.close();
log('chat stopped');
