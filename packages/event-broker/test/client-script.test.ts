// The browser build served by the broker (client-script.ts): a page from
// ANOTHER origin imports /eventwire/event-channel.js in real Chromium, opens
// a channel to the broker, emits, receives and reads its status; the HTTP
// contract (content type, CORS, ETag / Last-Modified and 304, HEAD, the
// source map, 405) and the ways it is absent (serveClient: false, a missing
// build: 404 not_found). The file's own contents: event-channel's
// test/browser-build.test.ts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { ClientScript } from '../src/client-script.js';
import { sendError } from '../src/http.js';
import { startBroker, type TestBroker } from './helpers.js';

const test = suite<{ server: TestBroker<never> }>('the browser build at /eventwire/event-channel.js');

test.before(async (context) => {
  context.server = (await startBroker()) as never;
});
test.after(async (context) => {
  await context.server?.stop();
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

test('GET: an ES module any origin may import, revalidated by ETag and Last-Modified', async ({ server }) => {
  const url = `${server.httpUrl}/eventwire/event-channel.js`;
  const response = await fetch(url, { headers: { origin: 'http://elsewhere.example' } });
  assert.is(response.status, 200);
  assert.is(response.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.is(response.headers.get('access-control-allow-origin'), '*');
  assert.is(response.headers.get('cache-control'), 'no-cache');
  assert.is(response.headers.get('x-content-type-options'), 'nosniff');
  const etag = response.headers.get('etag');
  const lastModified = response.headers.get('last-modified');
  assert.match(etag ?? '', /^"[\w-]{27}"$/);
  assert.ok(lastModified && Number.isFinite(Date.parse(lastModified)));
  const body = await response.text();
  assert.match(body, /^\/\*! @eventwire\/event-channel /);
  assert.match(body, /\/\/# sourceMappingURL=event-channel\.js\.map\s*$/);

  const again = await fetch(url, { headers: { 'if-none-match': `"other", W/${etag}` } });
  assert.is(again.status, 304);
  assert.is(again.headers.get('etag'), etag);
  assert.is(await again.text(), '');
  assert.is((await fetch(url, { headers: { 'if-modified-since': lastModified } })).status, 304);
  assert.is((await fetch(url, { headers: { 'if-none-match': '"stale"', 'if-modified-since': lastModified } })).status, 200, 'If-None-Match decides');

  const head = await fetch(url, { method: 'HEAD' });
  assert.is(head.status, 200);
  assert.is(head.headers.get('etag'), etag);
  assert.is(Number(head.headers.get('content-length')), Buffer.byteLength(body));
  assert.is(await head.text(), '');

  const map = await fetch(`${url}.map`);
  assert.is(map.status, 200);
  assert.is(map.headers.get('content-type'), 'application/json; charset=utf-8');
  assert.ok(((await map.json()) as { sources: string[] }).sources.some((source) => source.endsWith('src/channel.ts')));

  const post = await fetch(url, { method: 'POST' });
  assert.is(post.status, 405);
  assert.is(((await post.json()) as { error: { code: string } }).error.code, 'method_not_allowed');
  const other = await fetch(`${server.httpUrl}/eventwire/index.js`);
  assert.is(other.status, 404);
  assert.is(((await other.json()) as { error: { code: string } }).error.code, 'not_found');
});

test('serveClient: false answers 404 not_found there; the dashboard still has its copy', async () => {
  const off = await startBroker({ serveClient: false, dashboard: true });
  try {
    const response = await fetch(`${off.httpUrl}/eventwire/event-channel.js`);
    assert.is(response.status, 404);
    assert.is(((await response.json()) as { error: { code: string } }).error.code, 'not_found');
    assert.is((await fetch(`${off.httpUrl}/dashboard/assets/event-channel.js`)).status, 200);
  } finally {
    await off.stop();
  }
});

test('a missing build is 404 not_found, GET and HEAD', async () => {
  const script = new ClientScript('/nonexistent/eventwire-browser-build');
  const web = createServer((request, response) => {
    try {
      script.serve(request, response, 'event-channel.js');
    } catch (error) {
      sendError(response, error);
    }
  });
  const port = await listen(web);
  try {
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assert.is(response.status, 404);
    assert.is(((await response.json()) as { error: { code: string } }).error.code, 'not_found');
    assert.is((await fetch(`http://127.0.0.1:${port}/`, { method: 'HEAD' })).status, 404);
  } finally {
    await new Promise((resolve) => web.close(resolve));
  }
});

const crossOrigin = 'a page from another origin imports it, emits, receives and reads status; nats:// is a typed refusal';
if (!chromiumAvailable()) {
  test.skip(crossOrigin, () => {});
} else {
  test(crossOrigin, async ({ server }) => {
    const brokerOrigin = `http://127.0.0.1:${server.port}`;
    // The page's origin is another server: its import is a cross-origin module fetch (CORS).
    const page = `<!doctype html><meta charset="utf-8"><title>eventwire from the broker</title><link rel="icon" href="data:,">
<script type="module">
  import { EventChannel, EventwireError } from '${brokerOrigin}/eventwire/event-channel.js';
  const channel = new EventChannel({ url: ${JSON.stringify(server.url)} });
  await channel.ready();
  const echo = channel.once('page.echo');
  await channel.emit('page.echo', { from: 'another origin' }, { ack: true });
  const event = await echo;
  let refused;
  try {
    new EventChannel({ url: 'nats://127.0.0.1:4222' });
  } catch (error) {
    refused = { code: error.code, typed: error instanceof EventwireError };
  }
  window.result = { data: event.data, topic: event.topic, status: channel.status.state, refused };
  await channel.close();
</script>`;
    const web = createServer((request, response) => {
      if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
      else response.writeHead(404).end();
    });
    const webPort = await listen(web);
    let browser: Browser | undefined;
    try {
      browser = await launchChromium();
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on('pageerror', (error) => errors.push(error.message));
      tab.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
      const scriptResponse = tab.waitForResponse((response) => response.url().endsWith('/eventwire/event-channel.js'));
      await tab.goto(`http://127.0.0.1:${webPort}/`);
      const served = await scriptResponse;
      assert.is(served.status(), 200);
      assert.is((await served.request().allHeaders())['origin'], `http://127.0.0.1:${webPort}`, 'fetched as a cross-origin module');
      const result = await pageValue<unknown>(tab, 'window.result ?? null', (value) => value !== null, `the page's round trip (errors: ${errors.join('; ')})`);
      assert.equal(result, {
        data: { from: 'another origin' },
        topic: 'page.echo',
        status: 'open',
        refused: { code: 'unsupported_transport', typed: true },
      });
      assert.equal(errors, []);
    } finally {
      await browser?.close();
      await new Promise((resolve) => web.close(resolve));
    }
  });
}

test.run();
