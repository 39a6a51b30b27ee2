// Permissions by pattern, API keys, rate limits and connection caps (#12):
// each refusal is typed, says when to retry where it can, is counted, and
// costs nobody else anything.
import { EventChannel, type EventwireError } from '@eventwire/event-channel';
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKeyAuthenticator, createJwtAuthenticator, type BrokerOptions } from '../src/index.js';
import { RawClient, startBroker, until, upgradeRefusal, within, type TestBroker } from './helpers.js';

const test = suite('access: permissions, API keys, rate limits, caps');

const SECRET = 'access-test-secret-0123456789';
const ORDERS_KEY = 'orders-service-key-0123456789';

async function withBroker(options: BrokerOptions, run: (server: TestBroker<never>) => Promise<void>, setup?: Parameters<typeof startBroker>[1]): Promise<void> {
  const server = (await startBroker(options, setup)) as unknown as TestBroker<never>;
  try {
    await run(server);
  } finally {
    await server.stop();
  }
}

/** A native client authenticated with `token` (or anonymous). */
async function native(server: TestBroker<never>, token?: string): Promise<RawClient> {
  const client = await RawClient.open(token === undefined ? server.url : `${server.url}/?token=${encodeURIComponent(token)}`);
  client.send({ type: 'hello', protocol: 1 });
  await client.next((frame) => frame['type'] === 'welcome');
  return client;
}

let frameId = 0;
/** Sends one request frame and returns 'ack' or the error code of its answer. */
async function ask(client: RawClient, frame: Record<string, unknown>): Promise<string> {
  const id = `f${++frameId}`;
  client.send({ ...frame, id });
  const answer = await client.next((received) => received['id'] === id);
  return answer['type'] === 'ack' || answer['type'] === 'history' ? 'ack' : String(answer['code']);
}
const publishFrame = (topic: string) => ({ type: 'publish', event: { id: `e${++frameId}`, topic, source: 'test', time: new Date().toISOString(), data: 1 } });

test('permissions from config: a service may publish order.* and subscribe inventory.#, nothing else; anonymous may only read', async () => {
  await withBroker(
    {
      authenticate: ({ token }) => (token ? { id: token } : undefined),
      allowAnonymous: true,
      history: [{ pattern: '#' }],
      permissions: {
        users: { 'svc-orders': { publish: ['order.*'], subscribe: ['inventory.#'] } },
        anonymous: { publish: [] },
      },
    },
    async (server) => {
      const service = await native(server, 'svc-orders');
      const table: Array<[string, Record<string, unknown>, string]> = [
        ['publish a granted topic', publishFrame('order.created'), 'ack'],
        ['publish outside the grant', publishFrame('payment.captured'), 'forbidden'],
        ['publish deeper than order.*', publishFrame('order.created.eu'), 'forbidden'],
        ['subscribe inside inventory.#', { type: 'subscribe', pattern: 'inventory.*.low' }, 'ack'],
        ['subscribe the grant itself', { type: 'subscribe', pattern: 'inventory.#' }, 'ack'],
        ['subscribe inventory (what # also covers)', { type: 'subscribe', pattern: 'inventory' }, 'ack'],
        ['subscribe wider than the grant', { type: 'subscribe', pattern: '#' }, 'forbidden'],
        ['subscribe beside the grant', { type: 'subscribe', pattern: 'order.created' }, 'forbidden'],
        ['history outside the grant', { type: 'history', pattern: 'order.created' }, 'forbidden'],
        ['history inside the grant', { type: 'history', pattern: 'inventory.#' }, 'ack'],
        ['resume with one pattern outside', { type: 'resume', patterns: ['inventory.#', 'order.#'], since: 'x:0' }, 'forbidden'],
      ];
      for (const [what, frame, expected] of table) assert.is(await ask(service, frame), expected, what);
      // Another authenticated user has no restriction; anonymous may subscribe but not publish.
      const other = await native(server, 'someone');
      assert.is(await ask(other, publishFrame('payment.captured')), 'ack');
      const anonymous = await native(server);
      assert.is(await ask(anonymous, { type: 'subscribe', pattern: '#' }), 'ack');
      assert.is(await ask(anonymous, publishFrame('order.created')), 'forbidden');
      // HTTP and Synap refuse the same way (403).
      const post = (token: string) =>
        fetch(`${server.httpUrl}/pubsub/payment.captured/publish`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{"payload":1}' });
      assert.is((await post('svc-orders')).status, 403);
      assert.is((await post('someone')).status, 200);
      assert.is((await upgradeRefusal(`${server.url}/pubsub/ws?topics=order.created&token=svc-orders`)).status, 403);
      assert.ok(server.broker.stats().refused.forbidden >= 8, JSON.stringify(server.broker.stats().refused));
      for (const client of [service, other, anonymous]) client.close();
    },
  );
});

test('permissions returned by authenticate win over config; a JWT carries them in its "permissions" claim (malformed: refused)', async () => {
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('svc').setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
  await withBroker(
    { authenticate: createJwtAuthenticator({ secret: SECRET }), permissions: { authenticated: { publish: [] } } },
    async (server) => {
      const granted = await native(server, await sign({ permissions: { publish: ['log.#'], subscribe: ['log.#'] } }));
      assert.is(await ask(granted, publishFrame('log.error')), 'ack', 'the claim grants log.#');
      assert.is(await ask(granted, { type: 'subscribe', pattern: 'order.#' }), 'forbidden');
      const plain = await native(server, await sign({}));
      assert.is(await ask(plain, publishFrame('log.error')), 'forbidden', 'no claim: config for authenticated users');
      assert.is(await ask(plain, { type: 'subscribe', pattern: 'order.#' }), 'ack');
      for (const bad of [{ permissions: 'all' }, { permissions: { publish: 'order.*' } }, { permissions: { publish: ['order.#.x'] } }, { permissions: { admin: [] } }]) {
        assert.is((await upgradeRefusal(`${server.url}/?token=${await sign(bad)}`)).status, 401, JSON.stringify(bad));
      }
      granted.close();
      plain.close();
    },
  );
});

test('API keys: Bearer, Basic password or ?token= stand for their user; JWTs still work beside them; wrong keys are 401', async () => {
  const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
  await withBroker(
    {
      authenticate: createApiKeyAuthenticator(
        [{ key: ORDERS_KEY, user: 'svc-orders', permissions: { publish: ['order.*'] } }],
        createJwtAuthenticator({ secret: SECRET }),
      ),
    },
    async (server) => {
      const publish = (topic: string, authorization: string) =>
        fetch(`${server.httpUrl}/pubsub/${topic}/publish`, { method: 'POST', headers: { authorization }, body: '{"payload":1}' });
      assert.is((await publish('order.created', `Bearer ${ORDERS_KEY}`)).status, 200);
      assert.is((await publish('order.created', `Basic ${Buffer.from(`synap:${ORDERS_KEY}`).toString('base64')}`)).status, 200);
      assert.is((await publish('payment.captured', `Bearer ${ORDERS_KEY}`)).status, 403, "the key's permissions apply");
      assert.is((await publish('payment.captured', `Bearer ${jwt}`)).status, 200, 'a JWT beside the keys');
      assert.is((await publish('order.created', `Bearer ${ORDERS_KEY.slice(0, -1)}x`)).status, 401, 'one character off');
      assert.is((await fetch(`${server.httpUrl}/stats`, { headers: { authorization: `Bearer ${ORDERS_KEY}` } })).status, 200, 'stats with a key');
      assert.is((await fetch(`${server.httpUrl}/stats`)).status, 401, 'stats without');
      const client = await native(server, ORDERS_KEY);
      assert.is(await ask(client, publishFrame('order.created')), 'ack');
      client.close();
    },
  );
  assert.throws(() => createApiKeyAuthenticator([{ key: 'short', user: 'x' }]), /16 characters/);
});

test('rate limits per connection: a burst passes, the next is rate_limited with retryAfterMs, others are untouched, and it recovers', async () => {
  await withBroker({ rateLimits: { publish: { perConnection: { perSecond: 20, burst: 3 } }, subscribe: { perConnection: { perSecond: 20, burst: 2 } } } }, async (server) => {
    const flooder = await native(server);
    const neighbour = await native(server);
    for (let i = 0; i < 3; i++) assert.is(await ask(flooder, publishFrame('t.x')), 'ack', `burst ${i}`);
    const id = 'limited';
    flooder.send({ ...publishFrame('t.x'), id });
    const refusal = await flooder.next((frame) => frame['id'] === id);
    assert.is(refusal['code'], 'rate_limited');
    assert.ok(typeof refusal['retryAfterMs'] === 'number' && refusal['retryAfterMs'] > 0 && refusal['retryAfterMs'] <= 50, String(refusal['retryAfterMs']));
    assert.is(await ask(neighbour, publishFrame('t.x')), 'ack', 'another connection (same address) has its own bucket');
    assert.is(await ask(flooder, { type: 'subscribe', pattern: 'a' }), 'ack');
    assert.is(await ask(flooder, { type: 'subscribe', pattern: 'b' }), 'ack');
    assert.is(await ask(flooder, { type: 'subscribe', pattern: 'c' }), 'rate_limited');
    // Recovery: after the advertised wait a publish passes again.
    let answer = '';
    const deadline = Date.now() + 2000;
    while (answer !== 'ack' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, Number(refusal['retryAfterMs'])));
      answer = await ask(flooder, publishFrame('t.x'));
    }
    assert.is(answer, 'ack', 'recovered');
    assert.ok(server.broker.stats().refused.rate_limited >= 2);
    // The EventChannel surfaces it as a typed error on an acknowledged emit.
    const channel = new EventChannel({ url: server.url });
    await channel.ready();
    const results = await Promise.allSettled([1, 2, 3, 4, 5].map((n) => channel.emit('t.x', n, { ack: true })));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => (r.reason as EventwireError).code);
    assert.ok(failed.length >= 2 && failed.every((code) => code === 'rate_limited'), failed.join());
    await channel.close();
    flooder.close();
    neighbour.close();
  });
});

test('rate limits per IP: HTTP publishes get 429 with Retry-After; connects per IP too', async () => {
  await withBroker({ rateLimits: { publish: { perIp: { perSecond: 1, burst: 2 } }, connect: { perIp: { perSecond: 1, burst: 2 } } } }, async (server) => {
    const post = () => fetch(`${server.httpUrl}/pubsub/t.http/publish`, { method: 'POST', body: '{"payload":1}' });
    assert.equal([(await post()).status, (await post()).status], [200, 200]);
    const limited = await post();
    assert.is(limited.status, 429);
    assert.is(limited.headers.get('retry-after'), '1');
    assert.is(((await limited.json()) as { error: { code: string } }).error.code, 'rate_limited');
    const first = await RawClient.open(server.url);
    const second = await RawClient.open(server.url);
    const refused = await upgradeRefusal(server.url);
    assert.is(refused.status, 429);
    assert.is(refused.headers['retry-after'], '1');
    first.close();
    second.close();
  });
});

test('failed authentications are limited per IP: past the burst even a good token is refused (429) before it is verified; then it recovers', async () => {
  let verified = 0;
  await withBroker(
    {
      authenticate: ({ token }) => {
        verified++;
        if (token !== 'good') throw new Error('bad token');
        return { id: 'ada' };
      },
      rateLimits: { failedAuth: { perIp: { perSecond: 10, burst: 3 } } },
    },
    async (server) => {
      for (let i = 0; i < 3; i++) assert.is((await upgradeRefusal(`${server.url}/?token=bad${i}`)).status, 401);
      const before = verified;
      const refusal = await upgradeRefusal(`${server.url}/?token=good`);
      assert.is(refusal.status, 429, 'refused while the address is over its failures');
      assert.is(verified, before, 'not even verified');
      assert.is((await fetch(`${server.httpUrl}/stats`, { headers: { authorization: 'Bearer good' } })).status, 429, 'HTTP too');
      let status = 0;
      const deadline = Date.now() + 2000;
      while (status !== 101 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = await RawClient.open(`${server.url}/?token=good`).then(
          (client) => (client.close(), 101),
          () => 0,
        );
      }
      assert.is(status, 101, 'recovered');
      const { refused } = server.broker.stats();
      assert.is(refused.unauthorized, 3);
      assert.ok(refused.rate_limited >= 2, JSON.stringify(refused));
    },
  );
});

test('connection caps: per IP (429) and in total (503 + Retry-After, /health still answers); a freed slot admits again; EventChannel retries', async () => {
  await withBroker({ maxConnections: 3, maxConnectionsPerIp: 2 }, async (server) => {
    const a = await RawClient.open(server.url);
    const b = await RawClient.open(server.url);
    const overIp = await upgradeRefusal(server.url);
    assert.equal([overIp.status, (overIp.body as { error: { code: string } }).error.code], [429, 'rate_limited']);
    // From another source address the per-IP cap is separate; the total is shared.
    const c = await RawClient.open(server.url, { localAddress: '127.0.0.2' });
    const overTotal = await upgradeRefusal(server.url, { localAddress: '127.0.0.3' });
    assert.equal([overTotal.status, overTotal.headers['retry-after']], [503, '1']);
    assert.is((overTotal.body as { error: { code: string } }).error.code, 'unavailable');
    assert.is((await fetch(`${server.httpUrl}/health`)).status, 200, 'HTTP is not held back by the WebSocket cap');
    // An EventChannel refused at the cap reconnects with its backoff and gets in once a slot frees.
    const statuses: string[] = [];
    const channel = new EventChannel({ url: server.url, ws: { backoff: () => 20 } });
    channel.onStatus((status) => statuses.push(status.state === 'reconnecting' ? `reconnecting:${status.error?.code}` : status.state));
    await until(() => statuses.filter((state) => state === 'reconnecting:unavailable').length >= 2, 'refused (503: the broker is at its cap) and retrying');
    a.close();
    await within(channel.ready(), 3000, 'admitted once a slot is free');
    assert.ok(server.broker.stats().refused.connection_limit >= 2, JSON.stringify(server.broker.stats().refused));
    await channel.close();
    b.close();
    c.close();
    await until(() => server.broker.stats().admitted === 0, 'every slot released');
  });
});

test('EventChannel: a 401 at the upgrade (a wrong ?token=) ends the channel; a 503 at the cap is retried with the status saying unavailable', async () => {
  await withBroker({ authenticate: ({ token }) => (token === 'good' ? { id: 'ada' } : undefined), maxConnections: 1 }, async (server) => {
    const refused = new EventChannel({ url: `${server.url}/?token=bad`, ws: { backoff: () => 10 }, onError: () => {} });
    await until(() => refused.status.state === 'closed', 'closed, not retrying');
    const final = refused.status;
    assert.is(final.state === 'closed' ? final.error?.code : final.state, 'unauthorized');
    const holder = await RawClient.open(`${server.url}/?token=good`);
    const codes: string[] = [];
    const waiting = new EventChannel({ url: `${server.url}/?token=good`, ws: { backoff: () => 10 } });
    waiting.onStatus((status) => void (status.state === 'reconnecting' && codes.push(String(status.error?.code))));
    await until(() => codes.length >= 2, 'retrying at the cap');
    assert.ok(codes.every((code) => code === 'unavailable'), codes.join());
    holder.close();
    await within(waiting.ready(), 3000, 'in once the holder left');
    await waiting.close();
    assert.match(server.logs.join('\n'), /at capacity: 1 connections of 1/);
  });
});

test('behind a trusted proxy, per-address caps count the forwarded client; from anyone else X-Forwarded-For is ignored', async () => {
  await withBroker({ maxConnectionsPerIp: 1, trustedProxies: ['127.0.0.1'] }, async (server) => {
    const forwarded = (client: string) => ({ headers: { 'x-forwarded-for': `${client}, 127.0.0.1` } });
    const alice = await RawClient.open(server.url, forwarded('203.0.113.7'));
    const bob = await RawClient.open(server.url, forwarded('198.51.100.9'));
    assert.is((await upgradeRefusal(server.url, forwarded('203.0.113.7'))).status, 429, "alice's second connection, through the proxy");
    // Not a trusted proxy: its forged header does not move it out of its own address's share.
    const direct = await RawClient.open(server.url, { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '192.0.2.1' } });
    assert.is((await upgradeRefusal(server.url, { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '192.0.2.2' } })).status, 429);
    for (const client of [alice, bob, direct]) client.close();
  });
});

test.run();
