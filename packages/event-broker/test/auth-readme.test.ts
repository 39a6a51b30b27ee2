// The README's "Authentication and channels" example, run as written: the
// broker from examples/auth.config.ts, a service on its API key, and the
// README's browser snippet in headless Chromium fetching short-lived JWTs
// from a login endpoint — refreshed on the live connection, and only its own
// private channel delivered.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { createBrokerFromConfig, loadBrokerConfigFile } from '../src/index.js';
import { until, upgradeRefusal, within } from './helpers.js';

const JWT_SECRET = 'readme-example-secret-0123456789';
const ORDERS_API_KEY = 'readme-orders-key-0123456789';
const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const sectionStart = readme.indexOf('## Authentication and channels');
const section = readme.slice(sectionStart, readme.indexOf('\n## ', sectionStart + 1));
const configPath = fileURLToPath(new URL('../examples/auth.config.ts', import.meta.url));
const dist = fileURLToPath(new URL('../../event-channel/dist/', import.meta.url));
const test = suite('README: authentication and channels');

async function startExample() {
  process.env['JWT_SECRET'] = JWT_SECRET;
  process.env['ORDERS_API_KEY'] = ORDERS_API_KEY;
  const config = await loadBrokerConfigFile(configPath);
  const configured = await createBrokerFromConfig({ ...config, port: 0 });
  return { configured, address: await configured.broker.listen() };
}

const sign = (sub: string, seconds: number) =>
  new SignJWT({ aud: 'shop' }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime(Math.floor(Date.now() / 1000) + seconds).sign(new TextEncoder().encode(JWT_SECRET));

test('the README shows examples/auth.config.ts verbatim, and a browser snippet with getToken', () => {
  assert.is(/```ts\n([\s\S]*?)```/.exec(section)?.[1], readFileSync(configPath, 'utf8'));
  assert.match(section, /```js\n[\s\S]*getToken[\s\S]*```/);
});

test('the example config: the service key publishes into a user channel, the user reads only their own, chat only', async () => {
  const { configured, address } = await startExample();
  const service = new EventChannel({ url: address.url, ws: { token: ORDERS_API_KEY } });
  const ada = new EventChannel({ url: address.url, getToken: () => sign('ada', 60) });
  const errors: string[] = [];
  ada.onError((error) => errors.push(error.code));
  try {
    const got = ada.once('private-user.ada');
    await ada.ready();
    await service.ready();
    await service.emit('private-user.ada', { note: 'your order shipped' }, { ack: true });
    assert.equal((await within(got, 5000, 'ada gets her event')).data, { note: 'your order shipped' });
    await assert_rejects(ada.emit('order.created', { id: 'o1' }, { ack: true }), 'forbidden', 'users publish chat only');
    await ada.emit('chat.lobby', 'hi', { ack: true });
    await assert_rejects(service.emit('payment.captured', 1, { ack: true }), 'forbidden', "the key's permissions");
    assert.is((await upgradeRefusal(`${address.url}/pubsub/ws?topics=private-user.bob&token=${await sign('ada', 60)}`)).status, 403);
  } finally {
    await ada.close();
    await service.close();
    await configured.close();
  }
});

async function assert_rejects(promise: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await promise;
    assert.unreachable(`${what}: accepted`);
  } catch (error) {
    assert.is((error as { code?: string }).code, code, what);
  }
}

if (!chromiumAvailable()) {
  test.skip("the README's browser snippet in Chromium: getToken on connect and before expiry, its own private channel only", () => {});
} else {
  test("the README's browser snippet in Chromium: getToken on connect and before expiry, its own private channel only", async () => {
    const { configured, address } = await startExample();
    let tokens = 0;
    const snippet = /```js\n([\s\S]*?)```/.exec(section)![1]!
      .replace("from '@eventwire/event-channel'", "from '/event-channel/index.js'")
      .replace("'ws://localhost:15500'", JSON.stringify(address.url));
    const page = `<!doctype html><meta charset="utf-8"><script type="module">
      window.received = []; window.statuses = []; window.errors = [];
      const showNotification = (data) => window.received.push(data);
      ${snippet}
      channel.onStatus((s) => window.statuses.push(s.state));
      channel.onError((e) => window.errors.push(e.code));
      window.channel = channel;
      window.ready = true;
    </script>`;
    const web: Server = createServer((request, response) => {
      const url = new URL(request.url ?? '/', 'http://page');
      if (url.pathname === '/') return void response.writeHead(200, { 'content-type': 'text/html' }).end(page);
      if (url.pathname === '/api/realtime-token') {
        tokens++;
        // Two-second tokens: the page must refresh on the live connection to stay connected.
        return void sign('ada', 2).then((token) => response.writeHead(200, { 'content-type': 'text/plain' }).end(token));
      }
      const file = normalize(join(dist, url.pathname.replace(/^\/event-channel\//, '')));
      if (!url.pathname.startsWith('/event-channel/') || !file.startsWith(dist) || !existsSync(file)) return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': extname(file) === '.js' ? 'text/javascript' : 'application/octet-stream' }).end(readFileSync(file));
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const browser = await launchChromium();
    const service = new EventChannel({ url: address.url, ws: { token: ORDERS_API_KEY } });
    try {
      const tab = await browser.newPage();
      const pageErrors: string[] = [];
      tab.on('pageerror', (error) => pageErrors.push(error.message));
      await tab.goto(`http://127.0.0.1:${(web.address() as AddressInfo).port}/`);
      const value = <T>(expression: string, done: (value: T) => boolean, what: string) =>
        pageValue<T>(tab, expression, done, `${what} (page errors: ${pageErrors.join('; ')})`);
      await value<boolean>('window.ready === true', Boolean, 'page ready');
      await service.ready();
      // Outlive two tokens: refreshed on the live connection, never reconnected.
      await until(() => tokens >= 3, 'two refreshes', 10_000);
      await service.emit('private-user.ada', { note: 'after two refreshes' }, { ack: true });
      await service.emit('private-user.bob', { note: 'not for ada' }, { ack: true });
      const received = await value<unknown[]>('window.received', (list) => list.length >= 1, 'the private event');
      assert.equal(received, [{ note: 'after two refreshes' }]);
      const statuses = (await tab.evaluate('window.statuses')) as string[];
      assert.not.ok(statuses.includes('reconnecting'), statuses.join());
      // A foreign private channel is refused with a typed error in the page.
      const refused = await tab.evaluate(`window.channel.on('private-user.bob', () => {}).ready.then(() => 'subscribed', (e) => e.code)`);
      assert.is(refused, 'forbidden');
    } finally {
      await service.close();
      await browser.close();
      await new Promise((resolve) => web.close(resolve));
      await configured.close();
    }
  });
}

test.run();
