// The AsyncAPI 3.0 document generated from an event map and a broker config:
// every example's map and config parse with the official parser (one shared
// Parser: ~1 s a document), every key is a channel, every address parameter
// is declared, the JSON Schemas agree with the validators on generated
// samples and on mutations, and the config's surfaces, security and
// permissions become servers, schemes and operations.
//
// To extend: a new example goes in `examples` below (its map, and the module
// its main.ts builds its broker from, imported); a new validator feature a
// sample should exercise goes in `sampleOf`.
import { Parser } from '@asyncapi/parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { defineEvents, parseEnvelope, parsePattern, type EventMap } from '@eventwire/event-channel';
import { runSchema } from '@eventwire/event-channel/protocol';
import { asyncApiDocument, defineBrokerConfig, envelopeHeadersSchema, type AsyncApiDocument, type Authenticator, type BrokerConfig, type JsonSchema } from '../src/index.js';
import { brokerAsyncApiDocument } from '../src/asyncapi/build.js';
import { assertParametersDeclared, undeclaredParameters } from '../src/asyncapi/channels.js';
import { resolveBrokerOptions, type BrokerOptions } from '../src/options.js';
import { describeBuiltinSurfaces } from '../src/surfaces/builtin.js';
import orderFlowConfig from '../../../examples/order-flow/broker.config.js';
import { shop } from '../../../examples/order-flow/src/events.js';
import { chatBrokerConfig } from '../../../examples/chat-room/src/broker-config.js';
import { chat as chatRoom } from '../../../examples/chat-room/src/events.js';
import { createSessions } from '../../../examples/chat-room/src/sessions.js';
import { brokerOptionsOf } from '../src/broker-from-config.js';
import { validateConfig } from '../src/config.js';
import { clusterBrokerOptions, firstBrokerPort } from '../../../examples/cluster/src/broker-config.js';
import { chat as clusterChat } from '../../../examples/cluster/src/events.js';
import { boardBrokerConfig, ordersApp } from '../../../examples/laravel-echo/src/broker-config.js';
import { createSessions as createEchoSessions } from '../../../examples/laravel-echo/src/sessions.js';
import { chatsBrokerConfig } from '../../../examples/socketio-chat/src/broker-config.js';
import { logEvents } from '../../logger-adapter/src/events.js';
import { errorCodeOf, startBroker } from './helpers.js';

const test = suite('AsyncAPI document');
/** One parser for the file: building one costs more than a parse. */
const parser = new Parser();
// validateSchema off: whole documents are added so payload $refs resolve (a document is no JSON Schema).
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats.default(ajv);

/** Parses `document`; fails on any error (severity 0) or warning (1). The info `asyncapi-latest-version` (3.1.0 exists) is expected: we emit 3.0.0 as issue #36 asks. */
async function parseClean(document: AsyncApiDocument, what: string): Promise<void> {
  const { diagnostics } = await parser.parse(JSON.parse(JSON.stringify(document)));
  const serious = diagnostics.filter((diagnostic) => diagnostic.severity <= 1);
  assert.equal(
    serious.map((diagnostic) => `${diagnostic.code} at ${diagnostic.path.join('/')}: ${diagnostic.message}`),
    [],
    `${what}: the parser reports no errors or warnings`,
  );
}

/**
 * Each example's map and broker, imported from the module its main.ts builds
 * the broker from (a config, or options of the values main.ts decides at run
 * time), never restated here: an example that changes its broker changes its
 * document.
 */
const examples: ReadonlyArray<{ name: string; events: EventMap; document: () => AsyncApiDocument }> = [
  { name: 'order-flow', events: shop, document: () => asyncApiDocument({ config: orderFlowConfig, info: { title: 'order flow' } }) },
  // Its config, and its app sessions as the authenticator main.ts gives the broker beside it.
  { name: 'chat-room', events: chatRoom, document: () => servedFromConfig(chatBrokerConfig, createSessions().authenticate) },
  {
    name: 'cluster',
    events: clusterChat,
    // main.ts learns the cluster URL when it has started nats-server: a test value stands in for it (with credentials, which the document must drop).
    document: () => served(clusterBrokerOptions({ node: 'broker-1', port: firstBrokerPort, cluster: { url: 'nats://user:secret@127.0.0.1:4222' } }), clusterChat, []),
  },
  { name: 'live-logs', events: logEvents, document: () => asyncApiDocument({ events: logEvents, config: { port: 15500 } }) },
  // laravel-echo and socketio-chat declare no event map: their channels come from their channel rules only.
  // The Pusher app's secret is made per run by main.ts; any stands in for it.
  { name: 'laravel-echo', events: {}, document: () => servedFromConfig(boardBrokerConfig({ ...ordersApp, secret: 'app-secret' }), createEchoSessions().authenticate) },
  {
    name: 'socketio-chat',
    events: {},
    // main.ts starts the Redis and the page's server first: stand-ins for their URL and port.
    document: () => servedFromConfig(chatsBrokerConfig({ redis: 'redis://127.0.0.1:6379', pageOrigins: ['http://127.0.0.1:3000'], audit: () => {}, log: () => {} })),
  },
];

/** What a broker built by `createBrokerFromConfig(config, { authenticate })` serves: its options, map and channel rules. */
function servedFromConfig<TEvents extends EventMap>(config: BrokerConfig<TEvents>, authenticate?: Authenticator): AsyncApiDocument {
  const resolved = validateConfig(config, 'config', { code: true });
  return served({ ...brokerOptionsOf(resolved), ...(authenticate && { authenticate }) }, resolved.events, Object.keys(resolved.channels ?? {}));
}

function served(options: BrokerOptions, events: EventMap | undefined, templates: readonly string[]): AsyncApiDocument {
  return brokerAsyncApiDocument(resolveBrokerOptions(options), events, templates);
}

/** The address with every `{param}` as `*`: the plain pattern a channel stands for. */
function patternOfAddress(address: string): string {
  return parsePattern(address).pattern;
}

const documents = new Map<string, AsyncApiDocument>();

test('every example: the document parses with no errors, has a channel per map key and declares every address parameter', async () => {
  for (const example of examples) {
    const document = example.document();
    documents.set(example.name, document);
    await parseClean(document, example.name);
    const channels = Object.values(document.channels);
    for (const key of Object.keys(example.events)) {
      const channel = channels.find((each) => patternOfAddress(each.address) === parsePattern(key).pattern);
      assert.ok(channel, `${example.name}: a channel for "${key}"`);
      const names = Object.values(channel!.messages ?? {}).map((ref) => document.components.messages[ref.$ref.split('/').at(-1)!]!.name);
      assert.ok(names.includes(key), `${example.name}: "${key}" is a message of its channel`);
    }
    for (const channel of channels) assert.equal(undeclaredParameters(channel), [], `${example.name}: ${channel.address} declares its parameters`);
    assert.not.ok(JSON.stringify(document).includes('"$ref":"http'), 'only internal references');
  }
});

test('channel rules: a rule template shares the channel of its map key family and names its parameter; p<index> otherwise', () => {
  const chatDoc = documents.get('chat-room')!;
  assert.equal(Object.values(chatDoc.channels).map((channel) => channel.address), ['presence-room.{room}']);
  const logs = documents.get('live-logs')!;
  assert.ok(Object.values(logs.channels).some((channel) => channel.address === 'log.error.{p2}' && channel.parameters?.['p2']));
  const named = asyncApiDocument({ events: defineEvents({ 'order.{orderId}.shipped': z.object({ carrier: z.string() }) }) });
  assert.equal(Object.values(named.channels)[0]!.address, 'order.{orderId}.shipped');
  assert.ok(Object.values(named.channels)[0]!.parameters?.['orderId']);
  const echo = documents.get('laravel-echo')!;
  assert.equal(Object.values(echo.channels).map((channel) => channel.address).sort(), ['presence-board', 'private-user.{id}']);
});

test("the cluster example: the brokers' shared server is the document's cluster server, its credentials left out", () => {
  const cluster = documents.get('cluster')!;
  assert.equal(cluster.servers?.['cluster'], { ...cluster.servers?.['cluster'], host: '127.0.0.1:4222', protocol: 'nats' });
  assert.not.ok(JSON.stringify(cluster).includes('secret'), 'no cluster credential in the document');
});

test('ids are safe in a JSON Pointer; the topic stays in the address', () => {
  const document = asyncApiDocument({ events: defineEvents({ 'a/b.c~d': z.object({}), 'a_b.c_d': z.object({}) }) });
  const ids = Object.keys(document.channels);
  assert.equal(ids.length, 2);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9._-]+$/);
  assert.equal(Object.values(document.channels).map((channel) => channel.address), ['a/b.c~d', 'a_b.c_d']);
});

test('an undeclared address parameter is refused by the generator (the parser misses it when a channel has no parameters object)', async () => {
  const bare = { address: 'order.{id}' };
  const { diagnostics } = await parser.parse({ asyncapi: '3.0.0', info: { title: 't', version: '1' }, channels: { c: bare } });
  assert.equal(diagnostics.filter((diagnostic) => diagnostic.severity === 0), [], 'the parser says nothing: the check is ours');
  assert.equal(undeclaredParameters(bare), ['id']);
  assert.is(errorCodeOf(() => assertParametersDeclared({ c: bare })), 'internal');
  const partly = { address: 'order.{id}.{extra}', parameters: { id: { description: 'one topic segment' } } };
  assert.equal(undeclaredParameters(partly), ['extra']);
});

test('a validator that cannot give JSON Schema: unsupported_schema naming the topic; `schemas` overrides the key', () => {
  const events = defineEvents({ 'order.created': z.object({ id: z.string() }), 'blob.saved': z.custom<Uint8Array>((value) => value instanceof Uint8Array) });
  let caught: unknown;
  try {
    asyncApiDocument({ events });
  } catch (error) {
    caught = error;
  }
  assert.is((caught as { code?: string }).code, 'unsupported_schema');
  assert.match((caught as Error).message, /"blob\.saved"/);
  assert.ok((caught as Error).cause instanceof Error, 'the converter error is the cause');
  const override = { type: 'string', contentEncoding: 'base64' };
  const document = asyncApiDocument({ events, schemas: { 'blob.saved': override } });
  const message = Object.values(document.components.messages).find((each) => each.name === 'blob.saved')!;
  assert.equal(message.payload.schema, override);
  // A schema without Standard JSON Schema at all (a hand-written Standard Schema).
  const plain = { '~standard': { version: 1, vendor: 'hand', validate: (value: unknown) => ({ value }) } } as const;
  assert.is(errorCodeOf(() => asyncApiDocument({ events: defineEvents({ 'x.y': plain }) })), 'unsupported_schema');
});

// ---------------------------------------------------------------------------
// JSON Schema round trip: samples drawn from each payload schema

/** mulberry32: a fixed seed, so every run draws the same samples. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A value valid for `schema`, over the subset of JSON Schema zod emits (object, array, string with formats and lengths, number/integer bounds, boolean, enum, const, anyOf). */
function sampleOf(schema: JsonSchema, next: () => number, depth = 0): unknown {
  if ('const' in schema) return schema['const'];
  if (Array.isArray(schema['enum'])) return schema['enum'][Math.floor(next() * schema['enum'].length)];
  if (Array.isArray(schema['anyOf'])) return sampleOf(schema['anyOf'][Math.floor(next() * schema['anyOf'].length)] as JsonSchema, next, depth);
  switch (schema['type']) {
    case 'object': {
      const properties = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
      const required = new Set((schema['required'] ?? []) as string[]);
      return Object.fromEntries(
        Object.entries(properties)
          .filter(([key]) => required.has(key) || next() < 0.5)
          .map(([key, property]) => [key, sampleOf(property, next, depth + 1)]),
      );
    }
    case 'array': {
      const min = (schema['minItems'] as number | undefined) ?? 0;
      const length = min + Math.floor(next() * 3);
      return Array.from({ length }, () => sampleOf((schema['items'] ?? {}) as JsonSchema, next, depth + 1));
    }
    case 'string': {
      if (schema['format'] === 'email') return `user${Math.floor(next() * 1000)}@example.com`;
      if (schema['format'] === 'date-time') return new Date(Date.UTC(2026, 0, 1) + Math.floor(next() * 1e10)).toISOString();
      const min = (schema['minLength'] as number | undefined) ?? 0;
      const max = Math.min((schema['maxLength'] as number | undefined) ?? min + 8, min + 8);
      const length = min + Math.floor(next() * (max - min + 1));
      return Array.from({ length }, () => 'abcdefgh'[Math.floor(next() * 8)]).join('');
    }
    case 'integer':
    case 'number': {
      const low = (schema['minimum'] as number | undefined) ?? ((schema['exclusiveMinimum'] as number | undefined) ?? -1000) + 1;
      const high = Math.min((schema['maximum'] as number | undefined) ?? low + 1000, low + 1000);
      const value = low + next() * (high - low);
      return schema['type'] === 'integer' ? Math.ceil(value) : value;
    }
    case 'boolean':
      return next() < 0.5;
    case 'null':
      return null;
    default:
      return depth > 3 ? null : { any: 'value' }; // {} accepts anything
  }
}

/** Values the schema and the validator must both refuse: a required key dropped, each property of the wrong type, a bad email, an empty array that needs items. */
function mutationsOf(schema: JsonSchema, valid: Record<string, unknown>): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [['not an object', 'text']];
  const properties = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  for (const key of (schema['required'] ?? []) as string[]) {
    const { [key]: _dropped, ...rest } = valid;
    out.push([`without ${key}`, rest]);
  }
  for (const [key, property] of Object.entries(properties)) {
    const wrong = property['type'] === 'string' ? 12345 : property['type'] === 'number' || property['type'] === 'integer' ? 'twelve' : property['type'] === 'boolean' ? 'yes' : property['type'] === 'array' ? { not: 'an array' } : property['type'] === 'object' ? [1] : undefined;
    if (wrong !== undefined) out.push([`${key} of the wrong type`, { ...valid, [key]: wrong }]);
    if (property['format'] === 'email') out.push([`${key} not an email`, { ...valid, [key]: 'not-an-email' }]);
    if (property['type'] === 'array' && ((property['minItems'] as number | undefined) ?? 0) > 0) out.push([`${key} empty`, { ...valid, [key]: [] }]);
  }
  return out;
}

test('every example key: the validator accepts ⇒ the JSON Schema accepts (generated samples), and both refuse each mutation', () => {
  let accepted = 0;
  let mutations = 0;
  for (const example of examples) {
    const document = documents.get(example.name)!;
    // The payloads' $refs point into the document (hoisted $defs): ajv reads them there.
    ajv.addSchema(JSON.parse(JSON.stringify(document)), example.name);
    for (const [id, message] of Object.entries(document.components.messages)) {
      const validator = example.events[message.name]!;
      const validate = ajv.compile({ $ref: `${example.name}#/components/messages/${id}/payload/schema` });
      const next = random(36);
      let firstValid: Record<string, unknown> | undefined;
      for (let index = 0; index < 50; index++) {
        const sample = sampleOf(message.payload.schema, next);
        const outcome = runSchema(validator, sample);
        assert.not.instance(outcome, Promise);
        if (!('ok' in outcome) || !outcome.ok) continue;
        accepted++;
        firstValid ??= sample as Record<string, unknown>;
        assert.ok(validate(sample), `${example.name} ${message.name}: ajv accepts what the validator accepts: ${JSON.stringify(sample)} ${JSON.stringify(validate.errors)}`);
      }
      assert.ok(firstValid, `${example.name} ${message.name}: the generator drew at least one sample the validator accepts`);
      for (const [what, value] of mutationsOf(message.payload.schema, firstValid!)) {
        mutations++;
        const outcome = runSchema(validator, value) as { ok: boolean };
        assert.is(outcome.ok, false, `${example.name} ${message.name} ${what}: the validator refuses it`);
        assert.is(validate(value), false, `${example.name} ${message.name} ${what}: ajv refuses it`);
      }
    }
  }
  assert.ok(accepted > 100 && mutations > 30, `enough cases (${accepted} samples, ${mutations} mutations)`);
});

test('the envelope headers schema agrees with parseEnvelope: same fields, same verdicts', () => {
  const valid = { id: '01J0000000000000000000000', topic: 'a.b', source: 'svc', time: '2026-01-31T12:00:00.000Z', data: { x: 1 }, offset: '7', traceparent: '00-abc', metadata: { causationid: 'x' } };
  const { topic: _topic, data: _data, ...headers } = parseEnvelope(valid);
  assert.equal(Object.keys(headers).sort(), Object.keys(envelopeHeadersSchema['properties'] as object).sort(), 'the schema has the fields parseEnvelope keeps, besides topic and data');
  const cases: Array<Record<string, unknown>> = [
    valid,
    { ...valid, offset: undefined, traceparent: undefined, metadata: undefined },
    { ...valid, id: '' },
    { ...valid, id: 7 },
    { ...valid, source: '' },
    { ...valid, time: 'yesterday' },
    { ...valid, time: '2026-02-30T12:00:00Z' },
    { ...valid, offset: 7 },
    { ...valid, traceparent: 1 },
    { ...valid, metadata: { n: 1 } },
    { ...valid, metadata: 'x' },
  ];
  for (const field of ['id', 'source', 'time'] as const) {
    const { [field]: _gone, ...rest } = valid;
    cases.push(rest);
  }
  const validate = ajv.compile(envelopeHeadersSchema);
  for (const envelope of cases) {
    const defined = Object.fromEntries(Object.entries(envelope).filter(([, value]) => value !== undefined));
    let parsed = true;
    try {
      parseEnvelope(defined);
    } catch {
      parsed = false;
    }
    const { topic: _t, data: _d, ...rest } = defined;
    assert.is(validate(rest), parsed, `same verdict on ${JSON.stringify(rest)}`);
  }
});

// ---------------------------------------------------------------------------
// Servers, security, operations from a config

const fullConfig = defineBrokerConfig({
  events: shop,
  host: '0.0.0.0',
  port: 15600,
  pusher: { apps: [{ id: 'a1', key: 'key-one', secret: 'secret-one' }, { id: 'a2', key: 'key-two', secret: 'secret-two' }] },
  socketio: true,
  cluster: 'redis://:hunter2@redis.internal:6379/0?password=hunter2',
  jwtSecret: 'a-secret-of-at-least-16',
  apiKeys: [{ key: 'an-api-key-of-16-chars', user: 'svc-fraud', permissions: { subscribe: ['fraud.#'], publish: [] } }],
  permissions: {
    users: { 'svc-orders': { publish: ['events.order.*'], subscribe: [] } },
    authenticated: { publish: [], subscribe: ['inventory.{what}'] },
  },
  channels: { 'private-user.{userId}': () => true },
});

test('a full config: servers per surface from their descriptions, the cluster without credentials, JWT and API key schemes, operations only where granted', async () => {
  const document = asyncApiDocument({ config: fullConfig });
  await parseClean(document, 'full config');
  const servers = document.servers!;
  const surfaces = describeBuiltinSurfaces(resolveBrokerOptions({ pusher: {}, socketio: {} }));
  assert.equal(Object.keys(servers), [...surfaces.map((surface) => surface.name), 'cluster']);
  for (const surface of surfaces) assert.is(servers[surface.name]!.pathname, surface.websocket);
  assert.is(servers['native']!.host, 'localhost:15600', 'a wildcard bind address is not a host to connect to');
  assert.is(servers['native']!.protocol, 'ws');
  assert.equal(servers['pusher']!.variables?.['key']?.enum, ['key-one', 'key-two']);
  assert.equal(servers['cluster'], { ...servers['cluster'], host: 'redis.internal:6379', protocol: 'redis', pathname: '/0' });
  assert.not.ok(JSON.stringify(document).includes('hunter2'), 'no cluster credential in the document');
  const schemes = document.components.securitySchemes!;
  assert.equal(schemes['jwt'], { ...schemes['jwt'], type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  assert.equal(schemes['tokenQuery'], { ...schemes['tokenQuery'], type: 'httpApiKey', name: 'token', in: 'query' });
  assert.ok(schemes['apiKey']);
  assert.equal(servers['native']!.security?.map((ref) => ref.$ref), ['#/components/securitySchemes/jwt', '#/components/securitySchemes/apiKey', '#/components/securitySchemes/tokenQuery']);
  const operations = Object.values(document.operations).map((operation) => `${document.channels[operation.channel.$ref.split('/').at(-1)!]!.address} ${operation.action}`);
  assert.equal(operations.sort(), ['events.order.created send', 'events.order.paid send', 'fraud.review receive', 'inventory.reserved receive']);
  const fraud = Object.values(document.operations).find((operation) => operation.action === 'receive' && operation.channel.$ref.endsWith('fraud.review'))!;
  assert.match(fraud.description!, /svc-fraud/);
  assert.ok(Object.values(document.channels).some((channel) => channel.address === 'private-user.{userId}' && /channel rule/.test(channel.description ?? '')));
});

test('no authentication and anonymous allowed: no security at all; without permissions every channel is sent and received', () => {
  const document = asyncApiDocument({ events: shop, config: { port: 1 } });
  assert.is(document.components.securitySchemes, undefined);
  assert.is(document.servers!['native']!.security, undefined);
  assert.is(Object.keys(document.operations).length, Object.keys(shop).length * 2);
});

test('the surfaces a broker runs are the ones described: same names, same paths, in order', async () => {
  await using server = await startBroker({ pusher: true, socketio: true, broadcastingPath: '/custom/ws' });
  const line = server.logs.find((each) => each.startsWith('listening on'))!;
  const described = describeBuiltinSurfaces(resolveBrokerOptions({ pusher: true, socketio: true, broadcastingPath: '/custom/ws' }));
  const shown = /\((.*?), http:/.exec(line)![1]!;
  assert.is(shown, described.map((surface) => `${surface.name}: ${surface.websocket}`).join(', '));
});

test.run();
