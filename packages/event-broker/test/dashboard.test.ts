// The live dashboard in headless Chromium: the page (served by the broker,
// using event-channel's browser build over ws://) sees connections appear,
// lists events with redacted previews, publishes from its form and sees the
// event arrive; a screenshot is written to test-artifacts/dashboard.png.
// And the $sys. topics it reads are the broker's own: only the dashboard's
// users may subscribe, nobody may publish, and `#` never receives them.
import { mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { RawClient, startBroker, until, type TestBroker } from './helpers.js';

const artifacts = fileURLToPath(new URL('../../../test-artifacts/', import.meta.url));
const users: Record<string, string> = { 'ops-token': 'ops', 'alice-token': 'alice' };
const test = suite<{ server: TestBroker<never> }>('dashboard ($sys. topics, the page in Chromium)');

test.before(async (context) => {
  context.server = (await startBroker(
    {
      dashboard: { users: ['ops'], intervalMs: 100 },
      authenticate: ({ token }) => {
        const id = token === undefined ? undefined : users[token];
        if (!id) throw new Error('unknown token');
        return { id };
      },
    },
    (broker) => broker.intercept('login.*', () => {}),
  )) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

async function native(server: TestBroker<never>, token: string): Promise<RawClient> {
  const client = await RawClient.open(`${server.url}/?token=${token}`);
  client.send({ type: 'hello', protocol: 1 });
  await client.next((frame) => frame['type'] === 'welcome');
  return client;
}

test('$sys. topics: only dashboard users subscribe, nobody publishes, wildcards never see them', async ({ server }) => {
  const alice = await native(server, 'alice-token');
  const ops = await native(server, 'ops-token');
  try {
    alice.send({ type: 'subscribe', id: 'a', pattern: '$sys.stats' });
    const refused = await alice.next((frame) => frame['id'] === 'a');
    assert.is(refused['code'], 'forbidden');
    ops.send({ type: 'subscribe', id: 'all', pattern: '#' });
    await ops.next((frame) => frame['id'] === 'all');
    ops.send({ type: 'subscribe', id: 'wild', pattern: '$sys.*' });
    assert.is((await ops.next((frame) => frame['id'] === 'wild'))['code'], 'forbidden', 'system channels by exact name only');
    ops.send({ type: 'publish', id: 'p', event: { id: 'fake-1', topic: '$sys.stats', source: 'x', time: new Date().toISOString(), data: { forged: true } } });
    assert.is((await ops.next((frame) => frame['id'] === 'p'))['code'], 'forbidden');
    ops.send({ type: 'subscribe', id: 's', pattern: '$sys.stats' });
    assert.is((await ops.next((frame) => frame['id'] === 's'))['type'], 'ack');
    const stats = await ops.next((frame) => frame['type'] === 'event', 5000);
    assert.is((stats['event'] as { topic: string }).topic, '$sys.stats', 'the exact subscription gets them; the # one got none before it');
  } finally {
    alice.close();
    ops.close();
  }
});

test('$sys.stats lists the connections falling behind, furthest first', async () => {
  // Without authentication anyone may watch; a large bound so the stalled reader is not cut meanwhile.
  const server = (await startBroker({ dashboard: { intervalMs: 50 }, maxOutboundBytes: 64 * 1024 * 1024 })) as unknown as TestBroker<never>;
  const watcher = await RawClient.native(server.url);
  const slow = await RawClient.native(server.url);
  const publisher = await RawClient.native(server.url);
  try {
    watcher.send({ type: 'subscribe', id: 'w', pattern: '$sys.stats' });
    await watcher.next((frame) => frame['id'] === 'w');
    slow.send({ type: 'subscribe', id: 's', pattern: 'flood.#' });
    await slow.next((frame) => frame['id'] === 's');
    (slow.socket as unknown as { _socket: Socket })._socket.pause();
    const payload = 'x'.repeat(16 * 1024);
    const behindNow = (): Array<{ surface: string; unsentBytes: number }> => {
      const last = [...watcher.received].reverse().find((frame) => frame['type'] === 'event');
      return ((last?.['event'] as { data?: { behind?: Array<{ surface: string; unsentBytes: number }> } } | undefined)?.data?.behind) ?? [];
    };
    // Bounded: at most 1,000 × 16 KiB, far under the 64 MiB bound; the kernel's buffers fill first.
    for (let sent = 0; behindNow().length === 0 && sent < 1000; ) {
      for (let i = 0; i < 50; i++, sent++) {
        publisher.send({ type: 'publish', event: { id: `f${sent}`, topic: 'flood.data', source: 'test', time: new Date().toISOString(), data: payload } });
      }
      publisher.send({ type: 'ping', id: sent });
      await publisher.next((frame) => frame['type'] === 'pong' && frame['id'] === sent, 5000);
      await watcher.next((frame) => frame['type'] === 'event', 2000);
    }
    const [first] = behindNow();
    assert.ok(first, 'the stalled reader is listed');
    assert.is(first.surface, 'native');
    assert.ok(first.unsentBytes > 0);
  } finally {
    watcher.close();
    slow.socket.terminate();
    publisher.close();
    await server.stop();
  }
});

let browser: Browser | undefined;
(chromiumAvailable() ? test : test.skip)('the page shows connections, redacted events, and publishes from its form (screenshot: test-artifacts/dashboard.png)', async ({ server }) => {
  browser = await launchChromium();
  const page: Page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  const clients: RawClient[] = [];
  try {
    await page.goto(`${server.httpUrl}/dashboard?token=ops-token`);
    await pageValue<boolean>(page, 'window.dashboardReady === true', Boolean, `the dashboard connected (errors: ${errors.join('; ')})`);
    await pageValue<unknown>(page, 'window.dashboard.stats', (stats) => stats !== undefined, 'the first stats');
    for (let n = 0; n < 3; n++) clients.push(await native(server, 'alice-token'));
    await pageValue<number>(page, 'window.dashboard.stats.connections.native', (count) => count >= 4, 'three more connections counted');
    await until(() => server.broker.stats().connections.native >= 4, 'the connections');
    assert.match(await page.locator('#connections').innerText(), /^\d+$/);

    await server.broker.publish('login.attempt' as never, { user: 'alice', password: 'hunter2', nested: { token: 'abc' } } as never);
    await pageValue<Array<{ topic: string; preview: string }>>(page, 'window.dashboard.events', (list) => list.some((event) => event.topic === 'login.attempt'), 'the login event listed');
    const preview = ((await page.evaluate('window.dashboard.events')) as Array<{ topic: string; preview: string }>).find((event) => event.topic === 'login.attempt')!.preview;
    assert.match(preview, /\[redacted\]/);
    assert.not.match(preview, /hunter2|abc/);

    await page.locator('#publish-topic').fill('test.hello');
    await page.locator('#publish-data').fill('{"from": "the dashboard form"}');
    await page.locator('#publish button').click();
    await pageValue<Array<{ topic: string }>>(page, 'window.dashboard.events', (list) => list.some((event) => event.topic === 'test.hello'), 'the published event listed');
    assert.match(await page.locator('#events').innerText(), /test\.hello/);
    assert.match(await page.locator('#publish-result').innerText(), /^published /);
    await pageValue<Array<{ topic: string }>>(page, 'window.dashboard.stats.topTopics', (list) => list.some((entry) => entry.topic === 'test.hello'), 'the topic among the top topics');
    assert.match(await page.locator('#hooks').innerText(), /intercept login\.\*/);
    // The application's hooks first, the broker's own after them and marked.
    assert.match(await page.locator('#hooks').innerText(), /intercept login\.\*[\s\S]*observe dashboard previews \(broker\)/);

    await page.locator('#filter').fill('login.*');
    assert.not.match(await page.locator('#events').innerText(), /test\.hello/, 'the filter hides other topics');
    await page.locator('#filter').fill('');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: `${artifacts}dashboard.png`, fullPage: true });
    assert.equal(errors, []);
  } finally {
    for (const client of clients) client.close();
    await browser.close();
  }
});

test('the page is only served where configured; its script is the one browser build', async ({ server }) => {
  const page = await fetch(`${server.httpUrl}/dashboard`);
  assert.is(page.status, 200);
  assert.match(await page.text(), /\/dashboard\/assets\/event-channel\.js/);
  // The one browser build, byte for byte the file at /eventwire/event-channel.js.
  const script = await fetch(`${server.httpUrl}/dashboard/assets/event-channel.js`);
  assert.is(script.status, 200);
  assert.is(await script.text(), await (await fetch(`${server.httpUrl}/eventwire/event-channel.js`)).text());
  assert.is((await fetch(`${server.httpUrl}/dashboard/assets/index.js`)).status, 404, 'only the one-file build');
  // (fetch resolves ../ itself; an encoded one reaches the broker as it is)
  assert.is((await fetch(`${server.httpUrl}/dashboard/assets/..%2F..%2Fpackage.json`)).status, 404, 'no way out of the build directory');
  const off = await startBroker();
  try {
    assert.is((await fetch(`${off.httpUrl}/dashboard`)).status, 404);
  } finally {
    await off.stop();
  }
});

test.run();
