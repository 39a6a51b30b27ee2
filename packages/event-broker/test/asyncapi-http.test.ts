// GET /asyncapi.json: off unless `asyncapi` is on, behind the broker's
// credentials like /stats, and a document the official parser reads with no
// errors, whose guarded channels follow the rules `setup` added.
import { Parser } from '@asyncapi/parser';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { defineEvents } from '@eventwire/event-channel';
import { EventBrokerServer, createApiKeyAuthenticator, createJwtAuthenticator, type AsyncApiDocument } from '../src/index.js';
import { errorCodeOf, startBroker } from './helpers.js';

const events = defineEvents({
  'order.{orderId}.shipped': z.object({ carrier: z.string() }),
  'presence-room.*': z.object({ text: z.string() }),
});
const apiKey = 'a-key-of-sixteen-chars';
const test = suite('GET /asyncapi.json');

async function get(httpUrl: string, token?: string): Promise<{ status: number; type: string | null; body: unknown }> {
  const response = await fetch(`${httpUrl}/asyncapi.json`, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
}

test('off by default: 404', async () => {
  await using server = await startBroker({ events });
  const answer = await get(server.httpUrl);
  assert.is(answer.status, 404);
  assert.is((answer.body as { error: { code: string } }).error.code, 'not_found');
});

test('on, with authentication: 401 without credentials, 200 JSON with them that parses with no errors and shows the rules setup added', async () => {
  await using server = await startBroker(
    { events, asyncapi: true, authenticate: createApiKeyAuthenticator([{ key: apiKey, user: 'svc' }]) },
    (broker) => void broker.channel('presence-room.{room}', () => true),
  );
  const refused = await get(server.httpUrl);
  assert.is(refused.status, 401);
  assert.is((refused.body as { error: { code: string } }).error.code, 'unauthorized');
  const answer = await get(server.httpUrl, apiKey);
  assert.is(answer.status, 200);
  assert.match(answer.type ?? '', /^application\/json/);
  const document = answer.body as AsyncApiDocument;
  const { diagnostics } = await new Parser().parse(document as never);
  assert.equal(diagnostics.filter((diagnostic) => diagnostic.severity <= 1).map((diagnostic) => diagnostic.code), []);
  assert.equal(Object.values(document.channels).map((channel) => channel.address).sort(), ['order.{orderId}.shipped', 'presence-room.{room}']);
  assert.ok(document.components.securitySchemes?.['apiKey'], 'the API key authenticator says what it checks');
  assert.is(document.components.securitySchemes?.['bearer'], undefined);
  const port = new URL(server.httpUrl).port;
  const hosts = Object.values(document.servers ?? {}).filter((each) => each.protocol === 'ws').map((each) => each.host);
  assert.ok(hosts.length > 0 && hosts.every((host) => host.endsWith(`:${port}`)), `the bound port, not port 0: ${hosts.join(', ')}`);
});

test("an authenticate function of your own is some bearer credential; JWTs say JWT", async () => {
  const schemesOf = async (authenticate: import('../src/index.js').Authenticator): Promise<string[]> => {
    await using server = await startBroker({ events, asyncapi: true, allowAnonymous: true, authenticate });
    return Object.keys(((await get(server.httpUrl)).body as AsyncApiDocument).components.securitySchemes ?? {}).sort();
  };
  assert.equal(await schemesOf(() => undefined), ['bearer', 'tokenQuery']);
  assert.equal(await schemesOf(createJwtAuthenticator({ secret: 'a-secret-of-at-least-thirty-two-chars' })), ['jwt', 'tokenQuery']);
  assert.equal(
    await schemesOf(createApiKeyAuthenticator([{ key: apiKey, user: 'svc' }], createJwtAuthenticator({ secret: 'a-secret-of-at-least-thirty-two-chars' }))),
    ['apiKey', 'jwt', 'tokenQuery'],
  );
});

test('a validator without JSON Schema fails the construction with unsupported_schema, not the first request', () => {
  const opaque = defineEvents({ 'blob.saved': z.custom<Uint8Array>((value) => value instanceof Uint8Array) });
  assert.is(errorCodeOf(() => new EventBrokerServer({ events: opaque, asyncapi: true })), 'unsupported_schema');
  // Off, the same map is fine: the document is only built when asked for.
  void new EventBrokerServer({ events: opaque });
});

test.run();
