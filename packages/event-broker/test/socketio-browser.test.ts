// socket.io-client in a real browser: headless Chromium loads its published
// browser build (dist/socket.io.min.js, unchanged) from a page on ANOTHER
// origin than the broker's, as a front end served by its own web server
// does. Long-polling is plain XHR across origins, so it works only for an
// origin the `socketio.cors` option lets in; the page connects over polling,
// upgrades to WebSocket, receives a broker.publish to its room and gets an
// ack for its emit. A page from an origin not let in never connects.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { startBroker, type TestBroker } from './helpers.js';

const clientBuild = fileURLToPath(new URL('../node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url));

interface Context {
  server: TestBroker<never>;
  allowed: { web: Server; origin: string };
  other: { web: Server; origin: string };
  browser: Browser;
}

const test = suite<Context>('socketio surface in a browser (socket.io-client, headless Chromium, another origin)');

/** What the page records: the transports it used, what it received, the ack, connection errors. */
interface PageState {
  transports: string[];
  connected: boolean;
  received: unknown[][];
  ack: unknown;
  errors: string[];
}

function page(brokerUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><title>eventwire + socket.io-client</title>
<script src="/vendor/socket.io.min.js"></script>
<script>
  window.state = { transports: [], connected: false, received: [], ack: null, errors: [] };
  const socket = io(${JSON.stringify(brokerUrl)}, { transports: ['polling', 'websocket'], reconnection: false });
  // The Engine.IO session's transports from its start: the upgrade may finish before the namespace's connect.
  socket.io.on('open', () => {
    window.state.transports.push(socket.io.engine.transport.name);
    socket.io.engine.once('upgrade', (transport) => window.state.transports.push(transport.name));
  });
  socket.on('connect', () => (window.state.connected = true));
  socket.on('connect_error', (error) => window.state.errors.push(error.message));
  socket.onAny((event, ...args) => window.state.received.push([event, ...args]));
  window.ask = async () => (window.state.ack = await socket.timeout(5000).emitWithAck('echo', { n: 1 }, 'two'));
</script>`;
}

async function webServer(html: () => string): Promise<{ web: Server; origin: string }> {
  const web = createServer((request, response) => {
    if (request.url === '/vendor/socket.io.min.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(clientBuild));
    if (request.url === '/') return void response.writeHead(200, { 'content-type': 'text/html' }).end(html());
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  return { web, origin: `http://127.0.0.1:${(web.address() as AddressInfo).port}` };
}

if (!chromiumAvailable()) {
  test.skip('a page on another origin connects over polling, upgrades, receives and acks; a page from an origin not allowed does not connect', () => {});
} else {
  test.before(async (context) => {
    let html = '';
    context.allowed = await webServer(() => html);
    context.other = await webServer(() => html);
    context.server = await startBroker<never>({ socketio: { cors: { origin: [context.allowed.origin] } } }, (broker) => {
      broker.socketio!.on('connection', (socket) => {
        void socket.join('chat.7').then(() => socket.emit('joined'));
        socket.on('echo', (...args) => (args.pop() as (...answer: unknown[]) => void)(args));
      });
    });
    html = page(context.server.httpUrl);
    context.browser = await launchChromium();
  });

  test.after(async (context) => {
    await context.browser?.close();
    await context.server?.stop();
    for (const { web } of [context.allowed, context.other]) {
      if (!web) continue;
      web.closeAllConnections();
      await new Promise((resolve) => web.close(resolve));
    }
  });

  test('a page on an allowed origin: polling first, upgraded to WebSocket, a broker.publish to its room, an emit acked', async ({ server, allowed, browser }) => {
    const tab = await browser.newPage();
    try {
      await tab.goto(`${allowed.origin}/`);
      await pageValue<PageState>(tab, 'window.state', (state) => state.transports.length === 2 && state.received.some(([event]) => event === 'joined'), 'connected, joined and upgraded');
      assert.equal(((await tab.evaluate('window.state')) as PageState).transports, ['polling', 'websocket'], 'polling first, then WebSocket');
      await server.broker.publish('chat.7' as never, { text: 'hello page' } as never);
      const state = await pageValue<PageState>(tab, 'window.state', (value) => value.received.length === 2, 'the publish to chat.7');
      assert.equal(state.received, [['joined'], ['chat.7', { text: 'hello page' }]]);
      await tab.evaluate('window.ask()');
      assert.equal(((await tab.evaluate('window.state')) as PageState).ack, [{ n: 1 }, 'two'], 'the handler acked the emit');
    } finally {
      await tab.close();
    }
  });

  test('a page on an origin the cors option does not list cannot connect over polling', async ({ other, browser }) => {
    const tab = await browser.newPage();
    try {
      await tab.goto(`${other.origin}/`);
      const state = await pageValue<PageState>(tab, 'window.state', (value) => value.errors.length > 0 || value.connected, 'a connect error');
      assert.is(state.connected, false);
      assert.equal(state.errors, ['xhr poll error'], 'the browser refused the handshake answer (no Access-Control-Allow-Origin for this origin)');
    } finally {
      await tab.close();
    }
  });
}

test.run();
