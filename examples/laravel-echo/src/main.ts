// The order board, as a Laravel app with Echo builds it, on eventwire:
// - the broker speaks the Pusher protocol to the page (app "orders-app") and
//   guards the presence channel of who is watching and each customer's
//   private channel with its channel rules;
// - the web server stands in for the Laravel backend: it serves the page
//   (Laravel Echo and pusher-js, their published browser builds), signs
//   people in, answers Echo's /broadcasting/auth on its own origin with the
//   broker's rules (broker.pusherAuthHandler()), and places orders through
//   the official pusher server library, leaving the placing tab out
//   (X-Socket-ID → socket_id, Laravel's toOthers());
// - the warehouse is a native eventwire service in the same event space: it
//   hears OrderPlaced on `orders` and broadcasts OrderPacked, Laravel-style
//   (broadcastOn/broadcastAs), to the board and privately to the customer.
// Usage: main.ts [--port 15500] [--web-port 3000]   (0 picks free ports)
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createBrokerFromConfig } from '@eventwire/event-broker';
import Pusher from 'pusher';
import { exampleArgs, exitIfPortBusy, wholeNumber } from '../../shared/command-line.js';
import { boardBrokerConfig, ordersApp } from './broker-config.js';
import { createSessions } from './sessions.js';
import { startWarehouse } from './warehouse.js';

const usage = `Usage: npm run example:echo -- [--port 15500] [--web-port 3000]
  --port      the broker's port
  --web-port  the page's port (0 picks a free one for either)`;
const values = exampleArgs('laravel-echo', usage, { port: { type: 'string' }, 'web-port': { type: 'string' } });
const brokerPort = wholeNumber('laravel-echo', usage, '--port', values.port, 15500);
const webPort = wholeNumber('laravel-echo', usage, '--web-port', values['web-port'], 3000);
const log = (line: string) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);

// Ctrl-C may come at any moment, even during start-up: stop once started.
const stopped = new Promise<void>((resolve) => {
  process.on('SIGINT', () => resolve());
  process.on('SIGTERM', () => resolve());
});

// What a Laravel app keeps in .env (PUSHER_APP_ID, _KEY, _SECRET): a secret made per run here.
const app = { ...ordersApp, secret: randomBytes(24).toString('base64url') };
const sessions = createSessions();
const warehouseToken = sessions.mint('warehouse');
const { broker } = await createBrokerFromConfig({ ...boardBrokerConfig(app), port: brokerPort }, { authenticate: sessions.authenticate });
const { url, port } = await broker.listen().catch(exitIfPortBusy('laravel-echo', '--port', brokerPort));
const warehouse = await startWarehouse(url, warehouseToken, log);

// The backend's Pusher client, pointed at the broker instead of Pusher's cloud.
const pusher = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port), useTLS: false });
const vendor: Record<string, string> = {
  '/vendor/pusher.js': fileURLToPath(new URL('../node_modules/pusher-js/dist/web/pusher.js', import.meta.url)),
  '/vendor/echo.js': fileURLToPath(new URL('../node_modules/laravel-echo/dist/echo.iife.js', import.meta.url)),
};
const page = readFileSync(new URL('../public/index.html', import.meta.url), 'utf8')
  .replace('__APP_KEY__', app.key)
  .replace('__WS_PORT__', String(port));
const authorize = broker.pusherAuthHandler();
let orders = 0;

const web = createServer(async (request, response) => {
  const path = new URL(request.url ?? '/', 'http://board').pathname;
  try {
    if (path === '/') return void response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    const script = vendor[path];
    if (script) return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(script));
    if (path === '/broadcasting/auth' && request.method === 'POST') return await authorize(request, response);
    if (path === '/session' && request.method === 'POST') {
      // A demo sign-in: the name is the identity. A real app checks a password or an SSO session here.
      const user = new URL(request.url ?? '/', 'http://board').searchParams.get('user') ?? '';
      if (!/^[a-z][\w-]{0,31}$/.test(user) || user === 'warehouse') return json(response, 400, { error: 'a user name of lower-case letters, digits, - or _' });
      return json(response, 200, { token: sessions.mint(user) });
    }
    if (path === '/orders' && request.method === 'POST') {
      const user = sessions.userOf(bearer(request));
      if (!user) return json(response, 401, { error: 'sign in first' });
      const { item } = JSON.parse(await body(request)) as { item?: unknown };
      if (typeof item !== 'string' || item.length === 0 || item.length > 40) return json(response, 400, { error: 'an item of 1 to 40 characters' });
      const order = { id: `o${++orders}`, item, customer: user };
      // Laravel: broadcast(new OrderPlaced($order))->toOthers(); the placing tab shows it already.
      const socketId = request.headers['x-socket-id'];
      await pusher.trigger('orders', 'OrderPlaced', order, typeof socketId === 'string' && socketId ? { socket_id: socketId } : {});
      log(`${user} placed ${order.id} (${item})`);
      return json(response, 201, order);
    }
    response.writeHead(404).end();
  } catch (error) {
    json(response, 500, { error: (error as Error).message });
  }
});
await new Promise<void>((resolve, reject) => web.once('error', reject).listen(webPort, '127.0.0.1', resolve)).catch(
  exitIfPortBusy('laravel-echo', '--web-port', webPort),
);
log(`order board on http://127.0.0.1:${(web.address() as AddressInfo).port}/ (broker ${url}, Pusher app ${app.key}); Ctrl-C stops`);

await stopped;
await new Promise((resolve) => web.close(resolve));
web.closeAllConnections();
await warehouse.close();
await broker.close();
log('order board stopped');

function json(response: import('node:http').ServerResponse, status: number, value: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
}

function bearer(request: IncomingMessage): string | undefined {
  return /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
}

async function body(request: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of request) {
    text += chunk;
    if (text.length > 10_000) throw new Error('body too large');
  }
  return text;
}
