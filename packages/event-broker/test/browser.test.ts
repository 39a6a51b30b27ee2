// ws:// from a real browser: headless Chromium loads event-channel's built
// dist/ as plain ES modules (no bundler; proves `ws` is never loaded there)
// and talks to a real broker both ways, across a broker restart.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { startBroker, until, within, type TestBroker } from './helpers.js';

const dist = fileURLToPath(new URL('../../event-channel/dist/', import.meta.url));
const test = suite<{ server: TestBroker<never>; web: Server; browser: Browser; page: Page; node: EventChannel }>(
  'browser (headless Chromium)',
);

function page(brokerUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><title>eventwire browser test</title>
<script type="module">
  import { EventChannel } from '/event-channel/index.js';
  window.received = [];
  window.statuses = [];
  const channel = new EventChannel({ url: ${JSON.stringify(brokerUrl)}, ws: { backoff: () => 20 } });
  channel.onStatus((s) => window.statuses.push(s.state));
  channel.on('browser.reply', (data) => window.received.push(data));
  await channel.ready();
  window.channel = channel;
  window.ready = true;
</script>`;
}

function serve(brokerUrl: string): Promise<Server> {
  const web = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://page');
    if (url.pathname === '/') {
      response.writeHead(200, { 'content-type': 'text/html' }).end(page(brokerUrl));
      return;
    }
    const file = normalize(join(dist, url.pathname.replace(/^\/event-channel\//, '')));
    if (!url.pathname.startsWith('/event-channel/') || !file.startsWith(dist) || !existsSync(file)) {
      response.writeHead(404).end();
      return;
    }
    const type = extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream';
    response.writeHead(200, { 'content-type': type }).end(readFileSync(file));
  });
  return new Promise((resolve) => web.listen(0, '127.0.0.1', () => resolve(web)));
}

if (!chromiumAvailable()) {
  test.skip('a page and a Node service exchange events through the broker', () => {});
  test.skip('the page reconnects after a broker restart', () => {});
} else {
  test.before(async (context) => {
    context.server = (await startBroker()) as never;
    context.web = await serve(context.server.url);
    context.browser = await launchChromium();
    context.page = await context.browser.newPage();
    const errors: string[] = [];
    context.page.on('pageerror', (error) => errors.push(error.message));
    await context.page.goto(`http://127.0.0.1:${(context.web.address() as AddressInfo).port}/`);
    await pageValue<boolean>(context.page, 'window.ready === true', Boolean, `page ready (errors: ${errors.join('; ')})`);
    context.node = new EventChannel({ url: context.server.url, ws: { backoff: () => 20 } });
    await context.node.ready();
  });
  test.after(async (context) => {
    await context.node?.close();
    await context.browser?.close();
    await new Promise((resolve) => context.web?.close(resolve));
    await context.server?.stop();
  });

  test('a page and a Node service exchange events through the broker', async ({ page: browserPage, node }) => {
    const hello = node.once('browser.hello');
    await browserPage.evaluate(`window.channel.emit('browser.hello', { from: 'chromium', agent: navigator.userAgent }, { ack: true })`);
    const event = await within(hello, 5000, 'browser emit');
    assert.is((event.data as { from: string }).from, 'chromium');
    assert.match((event.data as { agent: string }).agent, /Chrome/);
    await node.emit('browser.reply', { to: 'page', n: 1 });
    const received = await pageValue<unknown[]>(browserPage, 'window.received', (v) => v.length === 1, 'reply in page');
    assert.equal(received, [{ to: 'page', n: 1 }]);
  });

  test('the page reconnects after a broker restart and receives again', async (context) => {
    await context.server.restart();
    await pageValue<string[]>(
      context.page,
      'window.statuses',
      (statuses) => statuses.includes('reconnecting') && statuses.at(-1) === 'open',
      'page reconnected',
    );
    await until(() => context.node.status.state === 'open', 'node reconnected');
    await context.node.emit('browser.reply', { to: 'page', n: 2 });
    const received = await pageValue<unknown[]>(context.page, 'window.received', (v) => v.length === 2, 'reply after restart');
    assert.equal(received[1], { to: 'page', n: 2 });
  });
}

test.run();
