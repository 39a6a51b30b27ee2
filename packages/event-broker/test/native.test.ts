import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startBroker, upgradeRefusal, type TestBroker } from './helpers.js';

const test = suite<{ server: TestBroker<never> }>('native protocol (raw ws)');

test.before(async (context) => {
  context.server = (await startBroker({ maxPayloadBytes: 4096, maxSubscriptionsPerConnection: 3 })) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

const envelope = (topic: string, data: unknown, id = `e-${Math.random()}`) => ({
  id,
  topic,
  source: 'raw-test',
  time: new Date().toISOString(),
  data,
});

test('hello gets a welcome with protocol, connection id, heartbeat and limits', async ({ server }) => {
  const client = await RawClient.open(server.url);
  client.send({ type: 'hello', protocol: 1, client: 'raw' });
  const welcome = await client.next();
  assert.is(welcome['type'], 'welcome');
  assert.is(welcome['protocol'], 1);
  assert.type(welcome['connectionId'], 'string');
  assert.is(welcome['maxPayloadBytes'], 4096);
  assert.is(welcome['heartbeatMs'], 25_000);
  client.close();
});

test('subscribe is acknowledged, publish is acknowledged and delivered once despite overlapping patterns', async ({ server }) => {
  const [sub, pub] = [await RawClient.native(server.url), await RawClient.native(server.url)];
  sub.send({ type: 'subscribe', id: 1, pattern: 'orders.#' });
  sub.send({ type: 'subscribe', id: 2, pattern: 'orders.*' });
  assert.equal(await sub.next(), { type: 'ack', id: 1 });
  assert.equal(await sub.next(), { type: 'ack', id: 2 });
  pub.send({ type: 'publish', id: 'p1', event: envelope('orders.created', { n: 1 }, 'evt-1') });
  assert.equal(await pub.next(), { type: 'ack', id: 'p1', eventId: 'evt-1' });
  pub.send({ type: 'publish', id: 'p2', event: envelope('orders.done', { n: 2 }, 'evt-2') });
  await pub.next();
  const first = await sub.next();
  const second = await sub.next();
  assert.is(first['type'], 'event');
  assert.equal((first['event'] as { data: unknown }).data, { n: 1 });
  assert.is((second['event'] as { id: string }).id, 'evt-2'); // evt-1 came exactly once
  sub.close();
  pub.close();
});

test('frames before hello get an error frame and the connection stays', async ({ server }) => {
  const client = await RawClient.open(server.url);
  client.send({ type: 'subscribe', id: 7, pattern: 'a' });
  const error = await client.next();
  assert.equal([error['type'], error['code'], error['id']], ['error', 'invalid_frame', 7]);
  client.send({ type: 'hello', protocol: 1 });
  assert.is((await client.next())['type'], 'welcome');
  client.close();
});

test('bad input gets typed error frames; the connection keeps working', async ({ server }) => {
  const client = await RawClient.native(server.url);
  const cases: Array<[unknown, string, unknown]> = [
    ['not json', 'invalid_frame', undefined],
    ['[1,2]', 'invalid_frame', undefined],
    [{ type: 'teleport', id: 3 }, 'invalid_frame', 3],
    [{ type: 'subscribe', id: 4 }, 'invalid_frame', 4],
    [{ type: 'subscribe', id: 5, pattern: 'a.#.b' }, 'invalid_pattern', 5],
    [{ type: 'publish', id: 6, event: envelope('a.*', 1) }, 'invalid_envelope', 6],
    [{ type: 'publish', id: 7, event: { topic: 'a' } }, 'invalid_envelope', 7],
    [{ type: 'publish', id: 8, event: envelope('x'.repeat(300), 1) }, 'invalid_envelope', 8],
    [{ type: 'hello', protocol: 1 }, 'invalid_frame', undefined],
  ];
  for (const [frame, code, id] of cases) {
    client.send(frame);
    const error = await client.next();
    assert.is(error['type'], 'error', JSON.stringify(frame));
    assert.is(error['code'], code, JSON.stringify(frame));
    assert.is(error['id'], id, JSON.stringify(frame));
    assert.type(error['message'], 'string');
  }
  client.send({ type: 'ping', id: 'still-alive' });
  assert.equal(await client.next(), { type: 'pong', id: 'still-alive' });
  client.close();
});

test('an oversized frame gets payload_too_large and the connection stays up', async ({ server }) => {
  const client = await RawClient.native(server.url);
  client.send({ type: 'publish', id: 1, event: envelope('big.one', 'x'.repeat(5000)) });
  const error = await client.next();
  assert.equal([error['type'], error['code']], ['error', 'payload_too_large']);
  client.send({ type: 'ping', id: 2 });
  assert.equal(await client.next(), { type: 'pong', id: 2 });
  client.close();
});

test('binary frames get invalid_frame', async ({ server }) => {
  const client = await RawClient.native(server.url);
  client.socket.send(Buffer.from([1, 2, 3]), { binary: true });
  const error = await client.next();
  assert.equal([error['type'], error['code']], ['error', 'invalid_frame']);
  client.close();
});

test('subscriptions per connection are limited, re-subscribing is idempotent', async ({ server }) => {
  const client = await RawClient.native(server.url);
  for (const [id, pattern] of [[1, 'a'], [2, 'b'], [3, 'c'], [4, 'a']] as const) {
    client.send({ type: 'subscribe', id, pattern });
    assert.equal(await client.next(), { type: 'ack', id });
  }
  client.send({ type: 'subscribe', id: 5, pattern: 'd' });
  const error = await client.next();
  assert.equal([error['code'], error['id']], ['limit_exceeded', 5]);
  client.send({ type: 'unsubscribe', id: 6, pattern: 'a' });
  assert.equal(await client.next(), { type: 'ack', id: 6 });
  client.send({ type: 'subscribe', id: 7, pattern: 'd' });
  assert.equal(await client.next(), { type: 'ack', id: 7 });
  client.close();
});

test('an unsupported protocol version is refused with 4002', async ({ server }) => {
  const client = await RawClient.open(server.url);
  client.send({ type: 'hello', protocol: 99 });
  const error = await client.next();
  assert.is(error['code'], 'unsupported_protocol');
  assert.is((await client.closed).code, 4002);
});

test('unknown WebSocket paths are refused with 404 and a JSON body', async ({ server }) => {
  const refusal = await upgradeRefusal(`${server.url}/nope`);
  assert.is(refusal.status, 404);
  assert.is((refusal.body as { error: { code: string } }).error.code, 'not_found');
});

test('a ping is a barrier: events caused by earlier publishes arrive before the pong', async ({ server }) => {
  const client = await RawClient.native(server.url);
  client.send({ type: 'subscribe', id: 1, pattern: 'barrier.#' });
  await client.next();
  for (let i = 0; i < 50; i++) client.send({ type: 'publish', event: envelope('barrier.x', i) });
  client.send({ type: 'ping', id: 'b' });
  const seen: number[] = [];
  for (;;) {
    const frame = await client.next();
    if (frame['type'] === 'pong') break;
    seen.push((frame['event'] as { data: number }).data);
  }
  assert.equal(seen, Array.from({ length: 50 }, (_, i) => i));
  client.close();
});

test("a publish's topic is checked by the broker's own topic limits, looser or stricter than the defaults", async () => {
  for (const [limits, accepted, refused] of [
    // Longer than the default 255: was refused invalid_envelope by the default limits before the broker's were looked at.
    [{ maxLength: 1000, maxSegments: 40 }, ['x'.repeat(300), Array(36).fill('s').join('.')], ['x'.repeat(1001)]],
    [{ maxLength: 20, maxSegments: 3 }, ['a.b.c', 'x'.repeat(20)], ['x'.repeat(21), 'a.b.c.d']],
  ] as const) {
    const server = await startBroker({ topicLimits: limits });
    try {
      const client = await RawClient.native(server.url);
      client.send({ type: 'subscribe', id: 's', pattern: '#' });
      await client.next();
      for (const [id, topic] of accepted.entries()) {
        client.send({ type: 'publish', id, event: envelope(topic, 1) });
        const delivered = await client.next();
        assert.is(delivered['type'], 'event', `${topic.length} characters under ${JSON.stringify(limits)}: ${String(delivered['code'])}`);
        assert.equal([(await client.next())['type']], ['ack']);
      }
      for (const [id, topic] of refused.entries()) {
        client.send({ type: 'publish', id, event: envelope(topic, 1) });
        const error = await client.next();
        assert.equal([error['type'], error['code'], error['id']], ['error', 'invalid_envelope', id]);
      }
      client.close();
    } finally {
      await server.stop();
    }
  }
});

test.run();
