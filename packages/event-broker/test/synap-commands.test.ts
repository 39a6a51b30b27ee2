// Synap's command API (POST /api/v1/command) and its legacy form
// (POST /api/stream), spoken exactly as Synap's official SDKs speak them:
// the TypeScript SDK's sendHttp (UUID request_id, its headers, a Bearer key)
// and the Python SDK's send_command (payloads made with json.dumps). The
// subscribers are raw WebSockets doing JSON.parse(msg.message), as seed 000's.
import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startBroker, type TestBroker } from './helpers.js';

const test = suite<{ server: TestBroker<never> }>('Synap command API');

test.before(async (context) => {
  context.server = (await startBroker({ maxPayloadBytes: 16 * 1024 }, (broker) => {
    broker.intercept('guarded.#', (_event, ctx) => ctx.reject('guarded topics are closed'));
  })) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

interface CommandAnswer {
  status: number;
  body: { success: boolean; request_id: string | null; payload?: Record<string, unknown>; error?: string; code?: string; issues?: unknown };
}

/** What the TypeScript SDK's `sendHttp` sends. */
async function command(server: TestBroker<never>, name: string, payload: Record<string, unknown> = {}, requestId = randomUUID()): Promise<CommandAnswer> {
  const response = await fetch(`${server.httpUrl}/api/v1/command`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'Accept-Encoding': 'gzip',
      Authorization: 'Bearer sk-test', // the SDKs send their API key; open until auth lands
    },
    body: JSON.stringify({ command: name, request_id: requestId, payload }),
  });
  const body = (await response.json()) as CommandAnswer['body'];
  if (response.status === 200) assert.is(body.request_id, requestId, 'request_id echoed');
  return { status: response.status, body };
}

async function raw(server: TestBroker<never>, path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

function refusedWith(answer: CommandAnswer, code: string, what: string): void {
  assert.is(answer.status, 200, `${what}: a refused command is still HTTP 200`);
  assert.is(answer.body.success, false, what);
  assert.is(answer.body.code, code, `${what}: ${answer.body.error}`);
  assert.type(answer.body.error, 'string');
}

test('pubsub.publish: { message_id, topic, subscribers_matched }, delivered to Synap and native subscribers', async ({ server }) => {
  const synap = await RawClient.open(`${server.url}/pubsub/ws?topics=cmd.publish.*`);
  await synap.next();
  const native = await RawClient.native(server.url);
  native.send({ type: 'subscribe', id: 1, pattern: 'cmd.#' });
  await native.next((frame) => frame['id'] === 1);
  const answer = await command(server, 'pubsub.publish', {
    topic: 'cmd.publish.one',
    payload: { n: 1 },
    metadata: { origin: 'sdk' },
    priority: 5, // accepted and ignored, as Synap does
    headers: { 'x-trace': 'abc' },
  });
  assert.is(answer.body.success, true, answer.body.error);
  assert.is(answer.body.payload!['topic'], 'cmd.publish.one');
  assert.is(answer.body.payload!['subscribers_matched'], 2);
  assert.type(answer.body.payload!['message_id'], 'string');
  const message = await synap.next((frame) => frame['type'] === 'message');
  assert.is(message['message_id'], answer.body.payload!['message_id']);
  assert.equal(JSON.parse(message['message'] as string), { n: 1 });
  assert.equal(message['metadata'], { origin: 'sdk' });
  const event = await native.next((frame) => frame['type'] === 'event');
  assert.equal((event['event'] as { data: unknown }).data, { n: 1 });
  synap.close();
  native.close();
});

test('pubsub.publish takes every JSON payload type; a string reaches Synap subscribers as that exact string', async ({ server }) => {
  const synap = await RawClient.open(`${server.url}/pubsub/ws?topics=cmd.types`);
  await synap.next();
  const payloads: unknown[] = ['plain text', '{"orderId": "o1", "total": 19.99}', 12345, 0, true, { key: 'value' }, [1, 2, 3], null];
  for (const payload of payloads) {
    const answer = await command(server, 'pubsub.publish', { topic: 'cmd.types', payload });
    assert.is(answer.body.success, true, `${JSON.stringify(payload)}: ${answer.body.error}`);
  }
  const data = await command(server, 'pubsub.publish', { topic: 'cmd.types', data: 'via data' }); // the alias Synap accepts
  assert.is(data.body.success, true);
  for (const payload of [...payloads, 'via data']) {
    const frame = await synap.next((f) => f['type'] === 'message');
    assert.equal(frame['payload'], payload);
    assert.is(frame['message'], typeof payload === 'string' ? payload : JSON.stringify(payload));
  }
  synap.close();
});

test('pubsub.publish refusals carry the stable code: empty, wildcard, malformed topics; no payload; a hook', async ({ server }) => {
  refusedWith(await command(server, 'pubsub.publish', { topic: '', payload: 1 }), 'invalid_topic', 'empty topic');
  refusedWith(await command(server, 'pubsub.publish', { topic: 'a.*', payload: 1 }), 'invalid_topic', 'wildcard');
  refusedWith(await command(server, 'pubsub.publish', { topic: 'a.#', payload: 1 }), 'invalid_topic', 'hash');
  refusedWith(await command(server, 'pubsub.publish', { topic: 'a..b', payload: 1 }), 'invalid_topic', 'empty segment');
  refusedWith(await command(server, 'pubsub.publish', { topic: 'a b', payload: 1 }), 'invalid_topic', 'space');
  refusedWith(await command(server, 'pubsub.publish', { payload: 1 }), 'invalid_payload', 'no topic');
  refusedWith(await command(server, 'pubsub.publish', { topic: 7, payload: 1 }), 'invalid_payload', 'topic not a string');
  refusedWith(await command(server, 'pubsub.publish', { topic: 'a.b' }), 'invalid_payload', 'no payload');
  refusedWith(await command(server, 'pubsub.publish', { topic: 'a.b', payload: 1, metadata: 'x' }), 'invalid_payload', 'bad metadata');
  const before = server.broker.stats().rejected;
  const hooked = await command(server, 'pubsub.publish', { topic: 'guarded.x', payload: 1 });
  refusedWith(hooked, 'rejected', 'intercept hook');
  assert.match(hooked.body.error!, /guarded topics are closed/);
  assert.is(server.broker.stats().rejected, before + 1, 'counted like any refusal');
});

test('pubsub.subscribe / pubsub.unsubscribe: an HTTP registration is matched and counted, and can be removed', async ({ server }) => {
  const subscribed = await command(server, 'pubsub.subscribe', { topics: ['cmd.sub.*', 'cmd.sub.#'], subscriber_id: 'sdk-sub-1' });
  assert.equal(subscribed.body.payload, { subscriber_id: 'sdk-sub-1', topics: ['cmd.sub.*', 'cmd.sub.#'], subscription_count: 2 });
  const generated = await command(server, 'pubsub.subscribe', { topics: ['cmd.sub.x'] });
  assert.match(generated.body.payload!['subscriber_id'] as string, /^http-/);
  const published = await command(server, 'pubsub.publish', { topic: 'cmd.sub.x', payload: 1 });
  assert.is(published.body.payload!['subscribers_matched'], 2); // each registration once
  assert.equal((await command(server, 'pubsub.unsubscribe', { subscriber_id: 'sdk-sub-1', topics: ['cmd.sub.*'] })).body.payload, { unsubscribed: 1 });
  assert.equal((await command(server, 'pubsub.unsubscribe', { subscriber_id: 'sdk-sub-1' })).body.payload, { unsubscribed: 1 });
  assert.equal((await command(server, 'pubsub.unsubscribe', { subscriber_id: generated.body.payload!['subscriber_id'] })).body.payload, { unsubscribed: 1 });
  assert.equal((await command(server, 'pubsub.unsubscribe', { subscriber_id: 'nobody' })).body.payload, { unsubscribed: 0 });
  assert.is((await command(server, 'pubsub.publish', { topic: 'cmd.sub.x', payload: 2 })).body.payload!['subscribers_matched'], 0);
  refusedWith(await command(server, 'pubsub.subscribe', { topics: ['a.#.b'] }), 'invalid_pattern', 'bad pattern');
  refusedWith(await command(server, 'pubsub.subscribe', { topics: [] }), 'invalid_payload', 'no topics');
  refusedWith(await command(server, 'pubsub.subscribe', { topics: 'a.b' }), 'invalid_payload', 'topics not an array');
  refusedWith(await command(server, 'pubsub.unsubscribe', {}), 'invalid_payload', 'no subscriber_id');
});

test('pubsub.unsubscribe reaches a connected Synap WebSocket subscriber by its id', async ({ server }) => {
  const ws = await RawClient.open(`${server.url}/pubsub/ws?topics=cmd.ws.a,cmd.ws.b`);
  const { subscriber_id: id } = (await ws.next()) as { subscriber_id: string };
  assert.equal((await command(server, 'pubsub.unsubscribe', { subscriber_id: id, topics: ['cmd.ws.a'] })).body.payload, { unsubscribed: 1 });
  assert.is((await command(server, 'pubsub.publish', { topic: 'cmd.ws.a', payload: 1 })).body.payload!['subscribers_matched'], 0);
  assert.is((await command(server, 'pubsub.publish', { topic: 'cmd.ws.b', payload: 2 })).body.payload!['subscribers_matched'], 1);
  assert.is((await ws.next((frame) => frame['type'] === 'message'))['payload'], 2);
  ws.close();
});

test('pubsub.topics, pubsub.info and pubsub.stats answer what the REST routes answer; an unknown topic is refused', async ({ server }) => {
  await command(server, 'pubsub.publish', { topic: 'cmd.info.one', payload: 1 });
  await command(server, 'pubsub.publish', { topic: 'cmd.info.one', payload: 2 });
  const topics = await command(server, 'pubsub.topics');
  const restTopics = (await (await fetch(`${server.httpUrl}/pubsub/topics`)).json()) as Record<string, unknown>;
  assert.equal(topics.body.payload, restTopics);
  assert.ok((topics.body.payload!['topics'] as string[]).includes('cmd.info.one'));
  assert.is(topics.body.payload!['count'], (topics.body.payload!['topics'] as string[]).length);
  const info = await command(server, 'pubsub.info', { topic: 'cmd.info.one' });
  assert.equal(info.body.payload, await (await fetch(`${server.httpUrl}/pubsub/cmd.info.one/info`)).json());
  assert.is(info.body.payload!['message_count'], 2);
  assert.is(info.body.payload!['messages_published'], 2);
  assert.type(info.body.payload!['created_at'], 'number');
  refusedWith(await command(server, 'pubsub.info', { topic: 'cmd.info.never' }), 'not_found', 'unknown topic');
  assert.is((await fetch(`${server.httpUrl}/pubsub/cmd.info.never/info`)).status, 404);
  refusedWith(await command(server, 'pubsub.info', {}), 'invalid_payload', 'no topic');
  const stats = await command(server, 'pubsub.stats');
  for (const field of ['total_topics', 'total_subscribers', 'total_wildcard_subscriptions', 'messages_published', 'messages_delivered', 'slow_consumers_dropped']) {
    assert.type(stats.body.payload![field], 'number', field);
  }
  assert.is(stats.body.payload!['messages_published'], server.broker.stats().published);
});

test("any other Synap command is refused (success: false, not_found), saying eventwire serves Synap's pub/sub only", async ({ server }) => {
  for (const name of ['kv.set', 'kv.get', 'queue.publish', 'stream.publish', 'hash.set', 'frobnicate']) {
    const answer = await command(server, name, { key: 'k', value: 'v' });
    refusedWith(answer, 'not_found', name);
    assert.match(answer.body.error!, /pub\/sub only/);
  }
  refusedWith(await command(server, '', {}), 'invalid_payload', 'empty command');
});

test('a bad request is a 4xx in the same shape: not JSON, too large, not an object, a wrong method', async ({ server }) => {
  const notJson = await raw(server, '/api/v1/command', '{"command": ');
  assert.is(notJson.status, 400);
  assert.equal([notJson.json['success'], notJson.json['request_id'], notJson.json['code']], [false, null, 'invalid_payload']);
  const tooLarge = await raw(server, '/api/v1/command', JSON.stringify({ command: 'pubsub.publish', request_id: 'r', payload: { topic: 'a.b', payload: 'x'.repeat(20_000) } }));
  assert.is(tooLarge.status, 413);
  assert.is(tooLarge.json['code'], 'payload_too_large');
  const array = await raw(server, '/api/v1/command', '[1]');
  assert.is(array.status, 400);
  assert.is(array.json['success'], false);
  const payloadNotObject = await raw(server, '/api/v1/command', JSON.stringify({ command: 'pubsub.stats', request_id: 'r2', payload: 'x' }));
  assert.equal([payloadNotObject.status, payloadNotObject.json['success'], payloadNotObject.json['request_id']], [200, false, 'r2']);
  const get = await fetch(`${server.httpUrl}/api/v1/command`);
  assert.is(get.status, 405);
});

test('the legacy POST /api/stream form: { operation, target, data }', async ({ server }) => {
  const ws = await RawClient.open(`${server.url}/pubsub/ws?topics=legacy.*`);
  await ws.next();
  const published = await raw(server, '/api/stream', JSON.stringify({ operation: 'pubsub.publish', target: 'legacy.one', data: { message: { n: 1 } } }));
  assert.is(published.status, 200);
  assert.is(published.json['subscribers_matched'], 1);
  assert.is(published.json['delivered'], 1); // what pre-1.0 clients read
  assert.equal(JSON.parse((await ws.next((frame) => frame['type'] === 'message'))['message'] as string), { n: 1 });
  const subscribed = await raw(server, '/api/stream', JSON.stringify({ operation: 'pubsub.subscribe', target: 'legacy-sub', data: { topics: ['legacy.*'] } }));
  assert.equal(subscribed.json, { subscriber_id: 'legacy-sub', topics: ['legacy.*'], subscription_count: 1 });
  const unsubscribed = await raw(server, '/api/stream', JSON.stringify({ operation: 'pubsub.unsubscribe', target: 'legacy-sub', data: { topics: ['legacy.*'] } }));
  assert.equal(unsubscribed.json, { unsubscribed: 1 });
  const stats = await raw(server, '/api/stream', JSON.stringify({ operation: 'pubsub.stats', target: '*' }));
  assert.type(stats.json['messages_published'], 'number');
  const refused = await raw(server, '/api/stream', JSON.stringify({ operation: 'pubsub.publish', target: 'legacy.*', data: { message: 1 } }));
  assert.is(refused.status, 400);
  assert.is(refused.json['code'], 'invalid_topic');
  assert.type(refused.json['error'], 'string');
  const other = await raw(server, '/api/stream', JSON.stringify({ operation: 'kv.set', target: 'k', data: { value: 1 } }));
  assert.is(other.status, 404);
  assert.match(other.json['error'] as string, /pub\/sub only/);
  ws.close();
});

test("seed 000's flow: a command-API publisher with json.dumps payloads, raw subscribers on events.order.* and events.#", async ({ server }) => {
  const email = await RawClient.open(`${server.url}/pubsub/ws?topics=events.order.*`);
  const audit = await RawClient.open(`${server.url}/pubsub/ws?topics=events.%23`);
  await email.next();
  await audit.next();
  // Python's json.dumps: ", " and ": " separators.
  const dumps = (value: Record<string, unknown>): string => JSON.stringify(value).replace(/","/g, '", "').replace(/":/g, '": ').replace(/,"/g, ', "');
  const steps: Array<[string, Record<string, unknown>, number]> = [
    ['events.order.created', { orderId: 'o1', email: 'ada@example.com', total: 59.97 }, 2],
    ['events.payment.received', { orderId: 'o1', amount: 59.97 }, 1],
    ['events.order.paid', { orderId: 'o1' }, 2],
  ];
  for (const [topic, data, matched] of steps) {
    const answer = await command(server, 'pubsub.publish', { topic, payload: dumps(data) });
    assert.is(answer.body.success, true, answer.body.error);
    assert.is(answer.body.payload!['subscribers_matched'], matched, topic);
  }
  const emailSaw = [await email.next((f) => f['type'] === 'message'), await email.next((f) => f['type'] === 'message')];
  assert.equal(emailSaw.map((msg) => [msg['topic'], JSON.parse(msg['message'] as string)]), [
    ['events.order.created', steps[0]![1]],
    ['events.order.paid', steps[2]![1]],
  ]);
  for (const [topic, data] of steps) {
    const msg = await audit.next((f) => f['type'] === 'message');
    assert.equal([msg['topic'], JSON.parse(msg['message'] as string)], [topic, data]);
  }
  email.close();
  audit.close();
});

test("/health answers the fields the SDKs' health() reads; REST publish answers subscribers_matched too", async ({ server }) => {
  const health = (await (await fetch(`${server.httpUrl}/health`)).json()) as Record<string, unknown>;
  assert.is(health['status'], 'healthy');
  assert.is(health['service'], 'eventwire-broker');
  assert.match(health['version'] as string, /^\d+\.\d+\.\d+/);
  const rest = await raw(server, '/pubsub/rest.one/publish', JSON.stringify({ payload: 1 }));
  assert.is(rest.json['subscribers_matched'], 0);
  assert.is(rest.json['subscribers_notified'], 0);
  const subscribed = await raw(server, '/pubsub/subscribe', JSON.stringify({ topics: ['rest.*'], subscriber_id: 'rest-sub' }));
  assert.is(subscribed.json['subscription_count'], 1);
  assert.is((await raw(server, '/pubsub/rest.one/publish', JSON.stringify({ payload: 2 }))).json['subscribers_matched'], 1);
  assert.equal((await raw(server, '/pubsub/unsubscribe', JSON.stringify({ subscriber_id: 'rest-sub' }))).json, { unsubscribed: 1 });
});

test.run();
