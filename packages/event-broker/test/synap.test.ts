// The Synap-compatible surface, driven the way Synap's pub/sub guide does it:
// a raw WebSocket on /pubsub/ws?topics=…, JSON.parse(msg.message), and fetch.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { RawClient, startBroker, upgradeRefusal, within, type TestBroker } from './helpers.js';

const test = suite<{ server: TestBroker<never> }>('Synap-compatible surface');

test.before(async (context) => {
  context.server = (await startBroker({ maxPayloadBytes: 2048 })) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

async function publish(server: TestBroker<never>, topic: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.httpUrl}/pubsub/${encodeURIComponent(topic)}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

test('connect frame lists the topics; a publish arrives as a Synap message frame', async ({ server }) => {
  const ws = await RawClient.open(`${server.url}/pubsub/ws?topics=events.order.*,events.%23`);
  const connected = await ws.next();
  assert.equal(connected, {
    type: 'connected',
    subscriber_id: connected['subscriber_id'],
    topics: ['events.order.*', 'events.#'],
    subscription_count: 2,
  });
  assert.type(connected['subscriber_id'], 'string');
  const { status, json } = await publish(server, 'events.order.created', {
    payload: { order_id: 123, total: 99.99 },
    metadata: { source: 'checkout' },
  });
  assert.is(status, 200);
  assert.is(json['topic'], 'events.order.created');
  assert.is(json['subscribers_notified'], 1); // one connection, two matching patterns
  assert.type(json['message_id'], 'string');
  const message = await ws.next();
  assert.is(message['type'], 'message');
  assert.is(message['message_id'], json['message_id']);
  assert.is(message['topic'], 'events.order.created');
  assert.equal(message['payload'], { order_id: 123, total: 99.99 });
  assert.equal(JSON.parse(message['message'] as string), { order_id: 123, total: 99.99 }); // what Synap clients do
  assert.equal(message['metadata'], { source: 'checkout' });
  assert.type(message['timestamp'], 'number');
  assert.ok(Math.abs((message['timestamp'] as number) - Date.now() / 1000) < 60, 'timestamp is in Unix seconds');
  ws.close();
});

test("publish bodies: payload, data, and the guide's 'message' string (JSON or plain text)", async ({ server }) => {
  const ws = await RawClient.open(`${server.url}/pubsub/ws?topics=notifications.*`);
  await ws.next();
  await publish(server, 'notifications.a', { data: [1, 2] });
  await publish(server, 'notifications.b', { message: '{"order_id":123,"total":99.99}' });
  await publish(server, 'notifications.c', { message: 'New order received' });
  const [a, b, c] = [await ws.next(), await ws.next(), await ws.next()];
  assert.equal(a['payload'], [1, 2]);
  assert.equal(JSON.parse(b['message'] as string), { order_id: 123, total: 99.99 });
  assert.is(c['payload'], 'New order received');
  // A string payload is the message text exactly (it is not JSON-quoted again).
  assert.is(c['message'], 'New order received');
  ws.close();
});

test('no topics, or an invalid one, refuses the upgrade with 400 and a JSON error', async ({ server }) => {
  const none = await upgradeRefusal(`${server.url}/pubsub/ws`);
  assert.is(none.status, 400);
  assert.is((none.body as { error: { code: string } }).error.code, 'invalid_pattern');
  const bad = await upgradeRefusal(`${server.url}/pubsub/ws?topics=a.%23.b`);
  assert.is(bad.status, 400);
});

test('HTTP bad input: typed JSON errors with the right status', async ({ server }) => {
  const cases: Array<[string, unknown, number, string]> = [
    ['ok.topic', 'not json', 400, 'invalid_payload'],
    ['ok.topic', [1], 400, 'invalid_payload'],
    ['ok.topic', { nothing: true }, 400, 'invalid_payload'],
    ['bad..topic', { payload: 1 }, 400, 'invalid_topic'],
    ['ok.topic', { payload: 'x'.repeat(3000) }, 413, 'payload_too_large'],
    ['ok.topic', { payload: 1, metadata: 'nope' }, 400, 'invalid_payload'],
  ];
  for (const [topic, body, status, code] of cases) {
    const result = await publish(server, topic, body);
    assert.is(result.status, status, `${topic} ${JSON.stringify(body).slice(0, 40)}`);
    assert.is((result.json['error'] as { code: string }).code, code);
  }
  const missing = await fetch(`${server.httpUrl}/pubsub/x/nothing`);
  assert.is(missing.status, 404);
  assert.is(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');
  const wrongMethod = await fetch(`${server.httpUrl}/pubsub/x/publish`);
  assert.is(wrongMethod.status, 405);
});

test('events cross surfaces both ways: native ↔ Synap', async ({ server }) => {
  const synapWs = await RawClient.open(`${server.url}/pubsub/ws?topics=cross.*`);
  await synapWs.next();
  const channel = new EventChannel({ url: server.url, ws: { backoff: () => 0 } });
  try {
    const fromHttp = channel.once('cross.http');
    await channel.ready();
    await channel.emit('cross.native', { from: 'channel' });
    const viaSynap = await synapWs.next();
    assert.equal([viaSynap['topic'], viaSynap['payload']], ['cross.native', { from: 'channel' }]);
    await publish(server, 'cross.http', { payload: { from: 'http' } });
    const event = await within(fromHttp, 2000, 'HTTP publish delivered natively');
    assert.equal(event.data, { from: 'http' });
    assert.is(event.source, 'urn:eventwire:http');
  } finally {
    await channel.close();
    synapWs.close();
  }
});

test('stats, topics, topic info and health', async ({ server }) => {
  const ws = await RawClient.open(`${server.url}/pubsub/ws?topics=stats.*`);
  await ws.next();
  await publish(server, 'stats.one', { payload: 1 });
  await publish(server, 'stats.one', { payload: 2 });
  const stats = (await (await fetch(`${server.httpUrl}/pubsub/stats`)).json()) as Record<string, unknown>;
  assert.ok((stats['messages_published'] as number) >= 2);
  assert.ok((stats['total_subscribers'] as number) >= 1);
  const topics = (await (await fetch(`${server.httpUrl}/pubsub/topics`)).json()) as { topics: string[]; patterns: string[] };
  assert.ok(topics.topics.includes('stats.one'));
  assert.ok(topics.patterns.includes('stats.*'));
  const info = (await (await fetch(`${server.httpUrl}/pubsub/stats.one/info`)).json()) as Record<string, unknown>;
  assert.is(info['topic'], 'stats.one');
  assert.is(info['messages_published'], 2);
  assert.is(info['subscribers'], 1);
  const health = (await (await fetch(`${server.httpUrl}/health`)).json()) as Record<string, unknown>;
  assert.is(health['status'], 'healthy');
  const full = (await (await fetch(`${server.httpUrl}/stats`)).json()) as Record<string, unknown>;
  assert.ok((full['connections'] as { synap: number }).synap >= 1);
  ws.close();
});

test('a Synap subscriber that sends something gets an error frame and stays connected', async ({ server }) => {
  const ws = await RawClient.open(`${server.url}/pubsub/ws?topics=quiet.*`);
  await ws.next();
  ws.send('hello?');
  assert.is((await ws.next())['type'], 'error');
  ws.send({ type: 'ping' });
  assert.equal(await ws.next(), { type: 'pong' });
  await publish(server, 'quiet.x', { payload: 'still here' });
  assert.is((await ws.next())['payload'], 'still here');
  ws.close();
});

test.run();
