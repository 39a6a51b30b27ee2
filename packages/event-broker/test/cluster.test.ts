// Brokers sharing one event space over a real NATS cluster: three
// nats-server processes routed together, one broker on each. WebSocket
// clients on different brokers see each other's events (patterns with * and
// #, once each, in publisher order), plain nats.js code takes part both
// ways, a raw message is counted and dropped, and a broker killed with -9
// has its clients fail over. (What every engine does, losing its server
// included, is the shared suite's: cluster-engine-suite.ts.)
//
// NATS spreads a new subscription to the other servers of a cluster
// asynchronously, so before a cross-broker expectation each test waits for a
// probe on the newest pattern to come through (bounded), never for a time.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { EventChannel, defineEvents, type EventEnvelope, type EventMap } from '@eventwire/event-channel';
import { z } from 'zod';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import type { ClusterStats } from '../src/index.js';
import { awaitRoute, startBrokerCluster, startClusterBroker, type BrokerCluster } from './cluster-helpers.js';
import { runBrokerCli, startBroker, uniqueTopic, until, waitForOutput, within, type TestBroker } from './helpers.js';

const available = natsServerAvailable();
const WAIT = 5000;

type Context = BrokerCluster<EventMap>;

const test = suite<Context>('broker cluster over NATS');

const clusterBroker = (server: NatsServer, node: string): Promise<TestBroker<EventMap>> =>
  startClusterBroker(node, { cluster: { url: server.url, node, reconnectTimeWaitMs: 50 } });

if (!available) {
  test.skip('(nats-server not installed: the cluster tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    Object.assign(context, await startBrokerCluster(clusterBroker));
  });
  test.after((context) => context.stop?.());

  test('clients on different brokers see each other: * and #, each event once, in publisher order, HTTP too', async ({ brokers }) => {
    const [a, b, c] = brokers as [TestBroker<EventMap>, TestBroker<EventMap>, TestBroker<EventMap>];
    const root = uniqueTopic('cl');
    const onA = new EventChannel({ url: a.url });
    const onB = new EventChannel({ url: b.url });
    try {
      const star: string[] = [];
      const all: string[] = [];
      await onA.on(`${root}.*`, (_data, event) => void star.push(event.topic)).ready;
      await onA.on(`${root}.#`, (_data, event) => void all.push(event.topic)).ready;
      // Only `#` matches x.probe: once it arrives, both patterns are routed (sent in this order).
      await awaitRoute(onB, `${root}.x.probe`, () => all.includes(`${root}.x.probe`));
      star.length = 0;
      all.length = 0;
      // Probes sent before the route existed were dropped by NATS, so none is still on its way.
      const receivedBefore = onA.stats().received;
      const sequence = Array.from({ length: 50 }, (_, n) => `${root}.${n % 2 === 0 ? 'e' : 'deep.o'}${n}`);
      for (const topic of sequence) await onB.emit(topic, {});
      // And an HTTP publish on the third broker.
      const response = await fetch(`${c.httpUrl}/pubsub/${root}.http/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: { via: 'http' } }) });
      assert.is(response.status, 200);
      await until(() => all.includes(`${root}.http`), 'the HTTP publish on A', WAIT);
      // One connection per broker on NATS: B's events reach A in order; the HTTP one came after.
      // A probe still on its way when the loop ended may land after the reset: not part of the check.
      const lateProbes = all.filter((topic) => topic.endsWith('.probe')).length;
      assert.equal(all.filter((topic) => !topic.endsWith('.probe')), [...sequence, `${root}.http`]);
      assert.equal(star, [...sequence.filter((topic) => topic.split('.').length === 2), `${root}.http`]);
      assert.is(onA.stats().received - receivedBefore - lateProbes, sequence.length + 1, 'no duplicates though two NATS subscriptions match');
      // The other way: B subscribes, A publishes.
      const back: string[] = [];
      await onB.on(`${root}.back.*`, (_data, event) => void back.push(event.topic)).ready;
      await awaitRoute(onA, `${root}.back.probe`, () => back.includes(`${root}.back.probe`));
      await onA.emit(`${root}.back.1`, {});
      await until(() => back.includes(`${root}.back.1`), 'A → B', WAIT);
      // Stats per node and for the cluster.
      const cluster = (await (await fetch(`${a.httpUrl}/cluster`)).json()) as ClusterStats;
      assert.equal(cluster.nodes.map((node) => node.cluster?.node).sort(), ['node-a', 'node-b', 'node-c']);
      assert.is(cluster.total.nodes, 3);
      assert.ok(cluster.total.published >= sequence.length + 1);
      const health = (await (await fetch(`${a.httpUrl}/health`)).json()) as { status: string; cluster: { node: string; state: string } };
      assert.equal([health.status, health.cluster], ['healthy', { node: 'node-a', state: 'open' }]);
    } finally {
      await Promise.all([onA.close(), onB.close()]);
    }
  });

  test('an HTTP publish on A answers this broker\'s count with cluster: true, while B\'s subscriber receives it (REST and command API)', async ({ brokers }) => {
    const [a, b] = brokers as [TestBroker<EventMap>, TestBroker<EventMap>];
    const root = uniqueTopic('cm');
    const onB = new EventChannel({ url: b.url });
    const probeOnA = new EventChannel({ url: a.url });
    try {
      const got: string[] = [];
      await onB.on(`${root}.#`, (_data, event) => void got.push(event.topic)).ready;
      await awaitRoute(probeOnA, `${root}.probe`, () => got.includes(`${root}.probe`));
      const rest = (await (await fetch(`${a.httpUrl}/pubsub/${root}.rest/publish`, { method: 'POST', body: JSON.stringify({ payload: 1 }) })).json()) as Record<string, unknown>;
      const command = (await (
        await fetch(`${a.httpUrl}/api/v1/command`, { method: 'POST', body: JSON.stringify({ command: 'pubsub.publish', request_id: 'r1', payload: { topic: `${root}.command`, payload: 2 } }) })
      ).json()) as { payload: Record<string, unknown> };
      await until(() => got.includes(`${root}.rest`) && got.includes(`${root}.command`), 'both on B', WAIT);
      // Nobody on A subscribed: the count is A's (0), and the answer says the cluster got it too.
      for (const answer of [rest, command.payload]) {
        assert.is(answer['subscribers_matched'], 0);
        assert.is(answer['cluster'], true);
      }
    } finally {
      await Promise.all([onB.close(), probeOnA.close()]);
    }
    // A broker alone answers as Synap does: no cluster field.
    await using single = await startBroker({ allowUnknownTopics: true });
    const alone = (await (await fetch(`${single.httpUrl}/pubsub/${root}.alone/publish`, { method: 'POST', body: JSON.stringify({ payload: 1 }) })).json()) as Record<string, unknown>;
    assert.equal(Object.keys(alone).sort(), ['message_id', 'subscribers_matched', 'subscribers_notified', 'topic']);
  });

  test('interest-based: a broker subscribes on NATS only to what its clients hold, and lets go after the last', async ({ brokers }) => {
    const [a] = brokers as [TestBroker<EventMap>];
    const root = uniqueTopic('cl');
    const before = a.broker.stats().cluster!.interest;
    const first = new EventChannel({ url: a.url });
    const second = new EventChannel({ url: a.url });
    try {
      await first.on(`${root}.#`, () => {}).ready;
      await second.on(`${root}.#`, () => {}).ready;
      assert.is(a.broker.stats().cluster!.interest, before + 1, 'one NATS subscription for two clients on one pattern');
      const held = a.broker.stats().subscriptions;
      await second.close();
      await until(() => a.broker.stats().subscriptions === held - 1, 'the second left', WAIT);
      assert.is(a.broker.stats().cluster!.interest, before + 1, 'still one local subscriber');
      await first.close();
      await until(() => a.broker.stats().cluster!.interest === before, 'dropped with the last subscriber', WAIT);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  test('plain nats.js takes part both ways; a message that is not an event is counted and dropped', async ({ brokers, servers }) => {
    const [a, b] = brokers as [TestBroker<EventMap>, TestBroker<EventMap>];
    const root = uniqueTopic('cl');
    const plain: NatsConnection = await connect({ servers: servers[2]!.url });
    const onA = new EventChannel({ url: a.url });
    try {
      // A plain subscriber (no eventwire code) on the third server sees a WebSocket client's event.
      const seen: unknown[] = [];
      plain.subscribe(`${root}.from-ws`, { callback: (_error, message) => void seen.push(message.json()) });
      plain.subscribe(`${root}.probe`, { callback: (_error, message) => void seen.push(message.json()) });
      await plain.flush();
      await awaitRoute(onA, `${root}.probe`, () => seen.length > 0);
      const sent = await onA.emit(`${root}.from-ws`, { n: 1 }, { ack: true });
      await until(() => seen.some((message) => (message as EventEnvelope).id === sent.id), 'the plain subscriber got it', WAIT);
      assert.equal(seen.find((message) => (message as EventEnvelope).id === sent.id), sent);
      // An envelope published by plain nats.js reaches a WebSocket client of broker B.
      const onB = new EventChannel({ url: b.url });
      const got: EventEnvelope[] = [];
      await onB.on(`${root}.in`, (_data, event) => void got.push(event)).ready;
      const invalidBefore = b.broker.stats().cluster!.invalid;
      const envelope = (n: number): EventEnvelope => ({ id: `01J0000000000000000000000${n}`, topic: `${root}.in`, source: 'urn:plain-nats', time: new Date().toISOString(), data: { n } });
      // Probe until B's interest reached the plain client's server, then the real ones.
      const deadline = Date.now() + WAIT;
      while (got.length === 0 && Date.now() < deadline) {
        plain.publish(`${root}.in`, JSON.stringify(envelope(0)));
        await until(() => got.length > 0, 'probe', 50).catch(() => {});
      }
      got.length = 0;
      plain.publish(`${root}.in`, 'not json');
      plain.publish(`${root}.in`, JSON.stringify({ no: 'envelope' }));
      plain.publish(`${root}.in`, JSON.stringify(envelope(1)));
      await until(() => got.some((event) => event.id === envelope(1).id), 'the envelope from nats.js', WAIT);
      assert.equal(got.map((event) => event.data), [{ n: 1 }]);
      const stats = b.broker.stats();
      assert.is(stats.cluster!.invalid - invalidBefore, 2, 'both non-events counted (the non-JSON one by the link, the other by the broker)');
      assert.is(stats.fromClusterInvalid, 1, 'the broker saw the JSON non-envelope');
      // Reported, throttled: two drops back to back are one report (a flood is not a log line per message).
      const reports = b.errors.filter((error) => /^cluster: a message from NATS was dropped/.test(error.message));
      assert.is(reports.length, 1, reports.map((error) => error.message).join('\n'));
      assert.is(reports[0]!.code, 'invalid_envelope');
      await onB.close();
    } finally {
      await plain.close();
      await onA.close();
    }
  });

  test('kill -9 a broker: its clients fail over to another broker of the list and get events again', async ({ brokers, servers }) => {
    const [, b] = brokers as [TestBroker<EventMap>, TestBroker<EventMap>];
    const doomed = runBrokerCli(['--port', '0', '--host', '127.0.0.1', '--cluster', servers[0]!.url, '--quiet']);
    const root = uniqueTopic('cl');
    let client: EventChannel | undefined;
    const publisher = new EventChannel({ url: b.url });
    try {
      const [, doomedUrl] = await waitForOutput(doomed.output, /listening on (ws:\/\/[\d.]+:\d+)/, 'the CLI broker');
      await waitForOutput(doomed.output, /cluster: node \S+ joined/, 'the CLI broker on NATS');
      // The list: the doomed broker first, then B.
      client = new EventChannel({ url: [doomedUrl!, b.url], ws: { backoff: () => 10 } });
      const got: string[] = [];
      await client.on(`${root}.#`, (_data, event) => void got.push(event.topic)).ready;
      await awaitRoute(publisher, `${root}.before`, () => got.includes(`${root}.before`));
      const reopened = new Promise<void>((resolve) => {
        let lost = false;
        client!.onStatus((status) => {
          if (status.state === 'reconnecting') lost = true;
          if (lost && status.state === 'open') resolve();
        });
      });
      doomed.child.kill('SIGKILL');
      await within(doomed.exit, WAIT, 'the broker process gone');
      await within(reopened, WAIT, 'the client open again, on B');
      // Resubscribed on B: B's own publishes reach it at once (no NATS hop needed).
      await publisher.emit(`${root}.after`, {}, { ack: true });
      await until(() => got.includes(`${root}.after`), 'delivery after the failover', WAIT);
      assert.ok(b.broker.stats().connections.native >= 2, 'the client now sits on B');
    } finally {
      doomed.child.kill('SIGKILL');
      await Promise.all([client?.close(), publisher.close()]);
    }
  });
}

test('an event from NATS that fails this broker\'s event map is dropped, counted and reported, never delivered nor counted as a refused publish', async () => {
  if (!available) return;
  const server = await startNatsServer();
  const shop = defineEvents({ 'order.created': z.object({ id: z.string() }) });
  const handle = await startBroker({ events: shop, cluster: { url: server.url, node: 'typed' } });
  const plain = await connect({ servers: server.url });
  const channel = new EventChannel({ url: handle.url, events: shop });
  try {
    await until(() => handle.broker.stats().cluster?.state === 'open', 'joined', WAIT);
    const got: unknown[] = [];
    let probes = 0;
    await channel.on('order.created', (data) => void (data.id === 'probe' ? probes++ : got.push(data))).ready;
    const envelope = (id: string, data: unknown) => JSON.stringify({ id, topic: 'order.created', source: 'urn:plain', time: new Date().toISOString(), data });
    // The broker's NATS subscription follows the channel's asynchronously: probe until it is there.
    const deadline = Date.now() + WAIT;
    while (probes === 0 && Date.now() < deadline) {
      plain.publish('order.created', envelope('01J000000000000000000000P0', { id: 'probe' }));
      await until(() => probes > 0, 'probe', 50).catch(() => {});
    }
    plain.publish('order.created', envelope('01J000000000000000000000A1', { id: 42 }));
    plain.publish('order.created', envelope('01J000000000000000000000A2', { id: 'o2' }));
    await until(() => got.length === 1, 'the valid one', WAIT);
    assert.equal(got, [{ id: 'o2' }]);
    const stats = handle.broker.stats();
    assert.equal([stats.fromCluster - probes, stats.fromClusterInvalid, stats.rejected], [1, 1, 0]);
    assert.ok(handle.errors.some((error) => error.code === 'invalid_payload' && /cluster/.test(error.message)), 'reported with its code');
  } finally {
    await channel.close();
    await plain.close();
    await handle.stop();
    await server.stop();
  }
});

test.run();
