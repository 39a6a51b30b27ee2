// Authentication (#12, first part): JWTs made and signed with jose here, a
// JWKS served over real HTTP, every surface refusing what it must before any
// state exists, and a connection closed with 4001 when its credentials expire.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWTPayload } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, type EventwireError } from '@eventwire/event-channel';
import { createJwtAuthenticator, type PublishOrigin } from '../src/index.js';
import { RawClient, startBroker, until, upgradeRefusal, within, type TestBroker } from './helpers.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256';
const test = suite<{ server: TestBroker<never>; origins: PublishOrigin[] }>('authentication');

const sign = (claims: JWTPayload, options: { secret?: string; expiresIn?: string | number; notBefore?: string | number } = {}) => {
  let jwt = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt();
  if (options.expiresIn !== undefined) jwt = jwt.setExpirationTime(options.expiresIn);
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(options.notBefore);
  return jwt.sign(new TextEncoder().encode(options.secret ?? SECRET));
};
const base64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

test.before(async (context) => {
  context.origins = [];
  context.server = (await startBroker(
    { authenticate: createJwtAuthenticator({ secret: SECRET, audience: 'shop', issuer: 'https://auth.example' }) },
    (broker) => broker.observe('#', (_event, ctx) => void context.origins.push(ctx.origin)),
  )) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

const good = (claims: JWTPayload = {}) => sign({ sub: 'ada', aud: 'shop', iss: 'https://auth.example', ...claims }, { expiresIn: '1h' });

test('a valid token on the connect URL: welcomed as its subject, and hooks see the user', async ({ server, origins }) => {
  const client = await RawClient.open(`${server.url}/?token=${await good()}`);
  client.send({ type: 'hello', protocol: 1 });
  const welcome = await client.next((frame) => frame['type'] === 'welcome');
  assert.is((welcome['user'] as { id: string }).id, 'ada');
  client.send({ type: 'publish', id: 1, event: { id: 'e1', topic: 'auth.hello', source: 't', time: new Date().toISOString(), data: 1 } });
  await client.next((frame) => frame['id'] === 1);
  await until(() => origins.length > 0, 'observer');
  assert.is(origins.at(-1)!.user?.id, 'ada');
  client.close();
});

test('forged, expired, not-yet-valid, wrong-audience, wrong-issuer, subject-less and alg:none tokens are refused at the upgrade (401)', async ({ server }) => {
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, string]> = [
    ['forged (other secret)', await sign({ sub: 'ada', aud: 'shop', iss: 'https://auth.example' }, { secret: 'another-secret-of-enough-length-here', expiresIn: '1h' })],
    ['expired', await sign({ sub: 'ada', aud: 'shop', iss: 'https://auth.example' }, { expiresIn: now - 60 })],
    ['not yet valid', await sign({ sub: 'ada', aud: 'shop', iss: 'https://auth.example' }, { expiresIn: '1h', notBefore: now + 600 })],
    ['wrong audience', await sign({ sub: 'ada', aud: 'other', iss: 'https://auth.example' }, { expiresIn: '1h' })],
    ['wrong issuer', await sign({ sub: 'ada', aud: 'shop', iss: 'https://evil.example' }, { expiresIn: '1h' })],
    ['no subject', await sign({ aud: 'shop', iss: 'https://auth.example' }, { expiresIn: '1h' })],
    ['alg none', `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'ada', aud: 'shop', iss: 'https://auth.example', exp: now + 3600 })}.`],
    ['garbage', 'not-a-jwt'],
  ];
  const before = server.broker.stats().refused.unauthorized;
  for (const [what, token] of cases) {
    const refusal = await upgradeRefusal(`${server.url}/?token=${encodeURIComponent(token)}`);
    assert.is(refusal.status, 401, what);
    assert.is((refusal.body as { error: { code: string } }).error.code, 'unauthorized', what);
  }
  assert.is(server.broker.stats().refused.unauthorized, before + cases.length);
  assert.is(server.broker.stats().connections.native, 0, 'no connection state was created');
});

test('without credentials at the upgrade, the native hello must carry them: none → 4001, a valid one → welcome', async ({ server }) => {
  const anonymous = await RawClient.open(server.url);
  anonymous.send({ type: 'hello', protocol: 1 });
  assert.is((await anonymous.next())['code'], 'unauthorized');
  assert.is((await anonymous.closed).code, 4001);
  const withHello = await RawClient.open(server.url);
  withHello.send({ type: 'hello', protocol: 1, token: await good({ sub: 'grace' }) });
  assert.is(((await withHello.next((frame) => frame['type'] === 'welcome'))['user'] as { id: string }).id, 'grace');
  withHello.close();
});

test('Synap subscribers and HTTP calls need credentials too; /health stays open for probes', async ({ server }) => {
  assert.is((await upgradeRefusal(`${server.url}/pubsub/ws?topics=a.b`)).status, 401);
  const synap = await RawClient.open(`${server.url}/pubsub/ws?topics=a.b&token=${await good()}`);
  assert.is((await synap.next())['type'], 'connected');
  synap.close();
  const publish = (headers: Record<string, string>) =>
    fetch(`${server.httpUrl}/pubsub/a.b/publish`, { method: 'POST', headers, body: JSON.stringify({ payload: 1 }) });
  const refused = await publish({});
  assert.is(refused.status, 401);
  assert.is(refused.headers.get('www-authenticate'), 'Bearer');
  assert.is((await publish({ authorization: `Bearer ${await good()}` })).status, 200);
  // Basic credentials carry the token as the password, as Synap's SDKs send an API key.
  assert.is((await publish({ authorization: `Basic ${Buffer.from(`ada:${await good()}`).toString('base64')}` })).status, 200);
  assert.is((await fetch(`${server.httpUrl}/stats`)).status, 401);
  assert.is((await fetch(`${server.httpUrl}/health`)).status, 200);
});

test('EventChannel sends a fresh token on every connect (ws.token as a function); a refused one closes the channel with unauthorized', async ({ server }) => {
  let asked = 0;
  const channel = new EventChannel({ url: server.url, ws: { backoff: () => 10, token: async () => (asked++, good({ sub: 'ada' })) } });
  await within(channel.ready(), 5000, 'authenticated channel');
  await server.restart();
  await until(() => channel.status.state === 'open' && asked >= 2, 'reconnected with a fresh token');
  await channel.close();
  const errors: EventwireError[] = [];
  const refused = new EventChannel({ url: server.url, ws: { backoff: () => 10, token: 'wrong' }, onError: (error) => errors.push(error) });
  await until(() => refused.status.state === 'closed', 'closed after 4001');
  assert.ok(errors.some((error) => error.code === 'unauthorized'), errors.map((e) => e.code).join());
});

test('RS256 with a public key, and a JWKS URL served over HTTP', async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const other = await generateKeyPair('RS256');
  const rsa = (key: CryptoKey, kid?: string) =>
    new SignJWT({ sub: 'svc' }).setProtectedHeader({ alg: 'RS256', ...(kid && { kid }) }).setExpirationTime('1h').sign(key);
  const keyed = await startBroker({ authenticate: createJwtAuthenticator({ publicKey: await exportSPKI(publicKey) }) });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwks: Server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const fromJwks = await startBroker({
    authenticate: createJwtAuthenticator({ jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json` }),
  });
  try {
    for (const server of [keyed, fromJwks]) {
      const client = await RawClient.open(`${server.url}/?token=${await rsa(privateKey, 'k1')}`);
      client.send({ type: 'hello', protocol: 1 });
      assert.is(((await client.next((frame) => frame['type'] === 'welcome'))['user'] as { id: string }).id, 'svc');
      client.close();
      assert.is((await upgradeRefusal(`${server.url}/?token=${await rsa(other.privateKey, 'k1')}`)).status, 401, 'signed by another key');
    }
  } finally {
    await keyed.stop();
    await fromJwks.stop();
    await new Promise((resolve) => jwks.close(resolve));
  }
});

test('a connection whose credentials expire is closed with 4001 "token expired"', async () => {
  const server = await startBroker({ authenticate: () => ({ id: 'short', expiresAt: Date.now() + 150 }) });
  try {
    const client = await RawClient.open(`${server.url}/?token=anything`);
    client.send({ type: 'hello', protocol: 1 });
    await client.next((frame) => frame['type'] === 'welcome');
    const closed = await within(client.closed, 5000, 'closed at expiry');
    assert.equal(closed, { code: 4001, reason: 'token expired' });
  } finally {
    await server.stop();
  }
});

test('allowAnonymous lets a request without credentials in, never one with wrong credentials', async () => {
  const server = await startBroker({ authenticate: createJwtAuthenticator({ secret: SECRET }), allowAnonymous: true });
  try {
    const anonymous = await RawClient.native(server.url);
    assert.is(anonymous.received[0]!['user'], undefined);
    anonymous.close();
    assert.is((await upgradeRefusal(`${server.url}/?token=wrong`)).status, 401);
    assert.is((await fetch(`${server.httpUrl}/stats`)).status, 200);
  } finally {
    await server.stop();
  }
});

test.run();
