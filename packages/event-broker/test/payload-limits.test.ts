// #37: the shape limits beside the size limit — maxPayloadDepth configured
// and enforced at exactly its value, refused typed where data is not a
// publish's (Synap metadata), and applied to what arrives over the cluster
// from a plain NATS client, which no broker checked.
import { connect } from '@nats-io/transport-node';
import { MAX_PAYLOAD_DEPTH } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';
import { BrokerConfigError, EventBrokerServer, brokerDefaults, createBrokerFromConfig } from '../src/index.js';
import { RawClient, startBroker, until } from './helpers.js';

const test = suite('payload shape limits');

const nested = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

test('maxPayloadDepth: data exactly that deep is published, one level more is invalid_payload on the socket and over HTTP', async () => {
  const server = await startBroker({ maxPayloadDepth: 4 });
  const client = await RawClient.native(server.url);
  try {
    const publish = async (id: string, data: string): Promise<Record<string, unknown>> => {
      client.send(`{"type":"publish","id":"${id}","event":{"id":"${id}","topic":"d.x","source":"t","time":"${new Date().toISOString()}","data":${data}}}`);
      return client.next((frame) => frame['id'] === id);
    };
    assert.is((await publish('four', nested(4)))['type'], 'ack');
    const refused = await publish('five', nested(5));
    assert.equal([refused['type'], refused['code'], refused['eventId']], ['error', 'invalid_payload', 'five']);
    const http = await fetch(`${server.httpUrl}/pubsub/d.x/publish`, { method: 'POST', body: `{"payload":${nested(5)}}` });
    assert.is(http.status, 400);
    assert.is(((await http.json()) as { error: { code: string } }).error.code, 'invalid_payload');
    assert.is(server.broker.stats().rejected, 2, 'counted as refused publishes');
  } finally {
    client.close();
    await server.stop();
  }
});

test('maxPayloadDepth is 1 to MAX_PAYLOAD_DEPTH: other values are refused when the broker is made, and by the config schema', async () => {
  assert.is(brokerDefaults.maxPayloadDepth, 128);
  for (const bad of [0, MAX_PAYLOAD_DEPTH + 1, 1.5]) {
    assert.throws(() => new EventBrokerServer({ maxPayloadDepth: bad }), RangeError, String(bad));
  }
  try {
    await createBrokerFromConfig({ port: 0, maxPayloadDepth: MAX_PAYLOAD_DEPTH + 1 });
    assert.unreachable('a depth past the maximum was accepted');
  } catch (error) {
    assert.instance(error, BrokerConfigError);
  }
  const configured = await createBrokerFromConfig({ port: 0, maxPayloadDepth: 2, quiet: true });
  try {
    const { url } = await configured.broker.listen();
    const client = await RawClient.native(url);
    client.send(`{"type":"publish","id":"p","event":{"id":"p","topic":"d.y","source":"t","time":"${new Date().toISOString()}","data":[[[1]]]}}`);
    assert.is((await client.next((frame) => frame['id'] === 'p'))['code'], 'invalid_payload');
    client.close();
  } finally {
    await configured.close();
  }
});

test('Synap metadata of hostile shape is invalid_payload (400), not a 500: it is written as JSON text', async () => {
  const server = await startBroker();
  try {
    for (const metadata of [nested(10_000), '{"n":1e400}']) {
      const response = await fetch(`${server.httpUrl}/pubsub/m.x/publish`, { method: 'POST', body: `{"payload":1,"metadata":{"deep":${metadata}}}` });
      assert.is(response.status, 400, metadata.slice(0, 20));
      assert.is(((await response.json()) as { error: { code: string } }).error.code, 'invalid_payload');
    }
    const command = await fetch(`${server.httpUrl}/api/v1/command`, {
      method: 'POST',
      body: `{"command":"pubsub.publish","request_id":"r","payload":{"topic":"m.x","payload":1,"metadata":{"deep":${nested(10_000)}}}}`,
    });
    assert.equal([command.status, ((await command.json()) as { code: string }).code], [200, 'invalid_payload']);
  } finally {
    await server.stop();
  }
});

if (natsServerAvailable()) {
  test('over the cluster: an event of hostile shape from a plain NATS client is dropped, counted and reported; the next is delivered', async () => {
    const nats = await startNatsServer();
    const server = await startBroker({ cluster: { url: nats.url, node: 'shape' } });
    const plain = await connect({ servers: nats.url });
    const client = await RawClient.native(server.url);
    try {
      await until(() => server.broker.stats().cluster?.state === 'open', 'joined');
      client.send({ type: 'subscribe', id: 's', pattern: 'c.x' });
      await client.next((frame) => frame['id'] === 's');
      const envelope = (id: string, data: string): string => `{"id":"${id}","topic":"c.x","source":"urn:plain","time":"${new Date().toISOString()}","data":${data}}`;
      // The broker's NATS subscription follows the client's asynchronously: probe until it is there.
      const deadline = Date.now() + 5000;
      let probes = 0;
      while (!client.received.some((frame) => frame['type'] === 'event') && Date.now() < deadline) {
        plain.publish('c.x', envelope(`01J00000000000000000000P${probes++}`, '"probe"'));
        await plain.flush();
        await until(() => client.received.some((frame) => frame['type'] === 'event'), 'a probe', 50).catch(() => {});
      }
      const invalidBefore = server.broker.stats().fromClusterInvalid;
      plain.publish('c.x', envelope('01J000000000000000000000A1', nested(10_000)));
      plain.publish('c.x', envelope('01J000000000000000000000A2', '{"n":1e400}'));
      plain.publish('c.x', envelope('01J000000000000000000000A3', '{"ok":true}'));
      const next = await client.next((frame) => frame['type'] === 'event' && (frame['event'] as { id: string }).id.startsWith('01J000000000000000000000A'), 5000);
      assert.equal((next['event'] as { id: string; data: unknown }).data, { ok: true }, 'the hostile ones were not delivered');
      assert.is(server.broker.stats().fromClusterInvalid - invalidBefore, 2);
      // Reported with its code (at most one report a second: a flood of garbage must not flood the log).
      assert.ok(server.errors.some((error) => error.code === 'invalid_payload'));
      assert.not.ok(server.errors.some((error) => error.code === 'internal'));
    } finally {
      client.close();
      await plain.close();
      await server.stop();
      await nats.stop();
    }
  });
} else {
  if (process.env['CI'] === 'true') throw new Error('nats-server is required under CI');
  test.skip('(nats-server not installed: the cluster case is skipped)', () => {});
}

test.run();
