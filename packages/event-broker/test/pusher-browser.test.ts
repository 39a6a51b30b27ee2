// Laravel Echo and pusher-js in a real browser: headless Chromium loads their
// published browser builds (pusher-js's UMD, Echo's IIFE) from a page on
// another origin, as a Laravel front end would, and receives broadcasts from
// the official server library through the broker — a public channel, and a
// private one authorised cross-origin by the broker's auth endpoint (CORS
// preflight with a bearer token) — and an end-to-end encrypted one, whose
// shared secret the broker's auth endpoint derives and whose ciphertext it
// only relays (pusher-js's with-encryption build decrypts it in the page).
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import PusherServer from 'pusher';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { startBroker, until, type TestBroker } from './helpers.js';

const vendor: Record<string, string> = {
  '/vendor/pusher.js': fileURLToPath(new URL('../node_modules/pusher-js/dist/web/pusher-with-encryption.js', import.meta.url)),
  '/vendor/echo.js': fileURLToPath(new URL('../node_modules/laravel-echo/dist/echo.iife.js', import.meta.url)),
};
const masterKey = Buffer.alloc(32, 7).toString('base64');
const app = { id: 'web', key: 'web-key', secret: 'web-secret-0123456789', encryptionMasterKey: masterKey };

const test = suite<{ server: TestBroker<never>; web: Server; browser: Browser; page: Page }>('pusher surface in a browser (laravel-echo + pusher-js, headless Chromium)');

function page(port: number, httpUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><title>eventwire + Laravel Echo</title>
<script src="/vendor/pusher.js"></script>
<script src="/vendor/echo.js"></script>
<script>
  window.received = [];
  const echo = new Echo.default({
    broadcaster: 'pusher',
    key: ${JSON.stringify(app.key)},
    cluster: 'eventwire',
    wsHost: '127.0.0.1',
    wsPort: ${port},
    forceTLS: false,
    enabledTransports: ['ws'],
    authEndpoint: ${JSON.stringify(`${httpUrl}/broadcasting/auth`)},
    auth: { headers: { Authorization: 'Bearer page-token' } },
  });
  let ready = 0;
  echo.channel('news').subscribed(() => ready++).listen('.published', (data) => window.received.push(['news', data]));
  echo.private('user.page').subscribed(() => ready++).listen('.notice', (data) => window.received.push(['private', data]))
    .error((error) => window.received.push(['error', error]));
  echo.encryptedPrivate('vault.page').subscribed(() => ready++).listen('.sealed', (data) => window.received.push(['encrypted', data]))
    .error((error) => window.received.push(['error', error]));
  window.isReady = () => ready === 3;
  window.socketId = () => echo.socketId();
</script>`;
}

if (!chromiumAvailable()) {
  test.skip('a page with Laravel Echo receives broadcasts on a public and a private channel', () => {});
} else {
  test.before(async (context) => {
    let html = '';
    context.web = createServer((request, response) => {
      const file = vendor[request.url ?? ''];
      if (file) return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(readFileSync(file));
      if (request.url === '/') return void response.writeHead(200, { 'content-type': 'text/html' }).end(html);
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => context.web.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(context.web.address() as AddressInfo).port}`;
    context.server = (await startBroker(
      {
        pusher: { apps: [app], allowedOrigins: [origin] },
        authenticate: ({ token }) => {
          if (token !== 'page-token') throw new Error('unknown token');
          return { id: 'page' };
        },
      },
      (broker) => {
        broker.channel('private-user.{id}', (user, { id }) => user?.id === id);
        broker.channel('private-encrypted-vault.{id}', (user, { id }) => user?.id === id);
      },
    )) as never;
    html = page(context.server.port, context.server.httpUrl);
    context.browser = await launchChromium();
    context.page = await context.browser.newPage();
    const errors: string[] = [];
    context.page.on('pageerror', (error) => errors.push(error.message));
    await context.page.goto(`${origin}/`);
    await pageValue<boolean>(context.page, 'window.isReady()', Boolean, 'both channels subscribed').catch(async (error: Error) => {
      throw new Error(`${error.message}; page errors: ${errors.join('; ')}; received: ${JSON.stringify(await context.page.evaluate('window.received'))}`);
    });
  });
  test.after(async (context) => {
    await context.browser?.close();
    await new Promise((resolve) => context.web?.close(resolve));
    await context.server?.stop();
  });

  test('a page with Laravel Echo receives broadcasts on a public and a private channel', async ({ server, page: browserPage }) => {
    const library = new PusherServer({
      appId: app.id,
      key: app.key,
      secret: app.secret,
      host: '127.0.0.1',
      port: String(server.port),
      useTLS: false,
      encryptionMasterKeyBase64: masterKey,
    });
    const sealed: unknown[] = [];
    server.broker.observe('private-encrypted-vault.page', (event) => void sealed.push(event.data));
    await library.trigger('news', 'published', { title: 'eventwire speaks Pusher' });
    await library.trigger('private-user.page', 'notice', { text: 'for the page only' });
    await library.trigger('private-encrypted-vault.page', 'sealed', { pin: '0000' });
    const received = await pageValue<unknown[]>(browserPage, 'window.received', (value) => value.length === 3, 'the three broadcasts in the page');
    assert.equal(received, [
      ['news', { title: 'eventwire speaks Pusher' }],
      ['private', { text: 'for the page only' }],
      ['encrypted', { pin: '0000' }],
    ]);
    // The broker saw only ciphertext.
    await until(() => sealed.length === 1, 'the observer to see the encrypted event');
    assert.equal(Object.keys(sealed[0] as object).sort(), ['ciphertext', 'nonce']);
    assert.not.match(JSON.stringify(sealed[0]), /0000/);
    const socketId = await browserPage.evaluate('window.socketId()');
    assert.match(String(socketId), /^\d+\.\d+$/);
  });
}

test.run();
