// History in a cluster lives in JetStream: three nats-server processes with
// JetStream, routed together, the stream replicated on all three, brokers on
// them. One offset space for every broker, so a client that loses its broker
// (kill -9, in the middle of a stream of events) fails over to another and
// resumes with every event exactly once, in order, no gap; a broker started
// later serves what was stored before it; the same event re-sent through
// another broker is stored once; plain nats.js publishes are stored too.
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventChannel, EventwireError, type EventEnvelope, type EventMap } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import { EventBrokerServer } from '../src/index.js';
import { startBrokerCluster, type BrokerCluster } from './cluster-helpers.js';
import { RawClient, runBrokerCli, startBroker, uniqueTopic, until, waitForOutput, within, type TestBroker } from './helpers.js';

const available = natsServerAvailable();
const WAIT = 10_000;
/** After a nats-server is killed the others take several seconds to notice and elect new JetStream leaders. */
const WAIT_AFTER_LOSS = 30_000;
const HISTORY = [{ pattern: 'room.#', maxEvents: 10_000 }];

interface Context extends BrokerCluster<EventMap> {
  stream: string;
}

const test = suite<Context>('history in a cluster (JetStream)');

async function historyBroker(server: NatsServer, node: string, stream: string, replicas = 3): Promise<TestBroker<EventMap>> {
  const handle = await startBroker({
    history: HISTORY,
    cluster: { url: server.url, node, reconnectTimeWaitMs: 50, history: { stream, replicas } },
  });
  assert.is(handle.broker.stats().history?.kind, 'jetstream');
  return handle;
}

async function historyPage(broker: TestBroker<EventMap>, pattern: string): Promise<EventEnvelope[]> {
  const response = await fetch(`${broker.httpUrl}/history/${encodeURIComponent(pattern)}?limit=1000`);
  assert.is(response.status, 200);
  return ((await response.json()) as { events: EventEnvelope[] }).events;
}

if (!available) {
  test.skip('(nats-server not installed: the cluster history tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.stream = `HISTORY_${process.pid}`;
    Object.assign(context, await startBrokerCluster((server, node) => historyBroker(server, node, context.stream), { jetstream: true }));
  });
  test.after((context) => context.stop?.());

  test('one offset space: an event gets the same offset on every broker, and every broker serves the whole history', async ({ brokers }) => {
    const [a, b, c] = brokers as [TestBroker<EventMap>, TestBroker<EventMap>, TestBroker<EventMap>];
    const root = uniqueTopic('room.h');
    const onC = new EventChannel({ url: c.url });
    const publisher = new EventChannel({ url: a.url });
    try {
      const got: EventEnvelope[] = [];
      await onC.on(`${root}.#`, (_data, event) => void got.push(event)).ready;
      for (let i = 1; i <= 5; i++) await publisher.emit(`${root}.msg`, { i }, { ack: true });
      await until(() => got.length === 5, 'five events on C', WAIT);
      assert.equal(got.map((event) => (event.data as { i: number }).i), [1, 2, 3, 4, 5], 'in order, once each');
      const epoch = a.broker.stats().history!.epoch;
      assert.ok(epoch.length > 0);
      assert.is(b.broker.stats().history!.epoch, epoch, 'one epoch for the cluster');
      for (const event of got) assert.ok(event.offset?.startsWith(`${epoch}:`), `offset ${event.offset}`);
      // Every broker's mirror has them, with the same offsets, whichever broker they entered.
      for (const broker of [a, b, c]) {
        await until(() => broker.broker.stats().history!.head >= c.broker.stats().history!.head, 'the mirror caught up', WAIT);
        assert.equal((await historyPage(broker, `${root}.#`)).map((event) => event.offset), got.map((event) => event.offset));
      }
    } finally {
      await Promise.all([onC.close(), publisher.close()]);
    }
  });

  test('kill -9 a broker while events stream: its client fails over to another broker and recovers every event once, in order, no gap', async ({ servers, brokers, stream }) => {
    const [, b] = brokers as [TestBroker<EventMap>, TestBroker<EventMap>];
    const dir = mkdtempSync(join(tmpdir(), 'cluster-history-'));
    const config = join(dir, 'broker.json');
    writeFileSync(config, JSON.stringify({ history: HISTORY, cluster: { url: servers[0]!.url, node: 'doomed', history: { stream, replicas: 3 } } }));
    const doomed = runBrokerCli(['--port', '0', '--host', '127.0.0.1', '--config', config, '--quiet']);
    const root = uniqueTopic('room.h');
    let client: EventChannel | undefined;
    const publisher = new EventChannel({ url: b.url });
    let stop = false;
    let publishing: Promise<void> | undefined;
    try {
      const [, doomedUrl] = await waitForOutput(doomed.output, /listening on (ws:\/\/[\d.]+:\d+)/, 'the CLI broker');
      client = new EventChannel({ url: [doomedUrl!, b.url], ws: { backoff: () => 10 } });
      const received: number[] = [];
      const gaps: string[] = [];
      client.onGap((gap) => gaps.push(`${gap.pattern}:${gap.reason}`));
      await client.on(`${root}.n`, (n) => void received.push(n as number)).ready;
      let sent = 0;
      publishing = (async () => {
        while (!stop) await publisher.emit(`${root}.n`, ++sent, { ack: true });
      })();
      await until(() => received.length >= 20, 'the client streaming from the doomed broker', WAIT);
      doomed.child.kill('SIGKILL');
      await within(doomed.exit, WAIT, 'the broker process gone');
      const atKill = sent;
      await until(() => sent >= atKill + 50, 'publishing on after the kill', WAIT);
      stop = true;
      await publishing;
      await until(() => received.length >= sent, `the client has all ${sent} (has ${received.length})`, WAIT);
      assert.equal(received, Array.from({ length: sent }, (_, i) => i + 1), 'every event exactly once, in order');
      assert.equal(gaps, [], 'nothing lost, so nothing reported lost');
      assert.ok(b.broker.stats().connections.native >= 2, 'the client now sits on B');
    } finally {
      stop = true;
      await publishing?.catch(() => {});
      doomed.child.kill('SIGKILL');
      await Promise.all([client?.close(), publisher.close()]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a broker started later mirrors what was stored before it; a re-sent event through another broker is stored once', async ({ servers, brokers, stream }) => {
    const [a] = brokers as [TestBroker<EventMap>];
    const root = uniqueTopic('room.h');
    const first = await fetch(`${a.httpUrl}/pubsub/${root}.early/publish`, { method: 'POST', body: JSON.stringify({ payload: 'early' }) });
    assert.is(first.status, 200);
    const late = await historyBroker(servers[2]!, 'node-late', stream);
    try {
      const page = await historyPage(late, `${root}.#`);
      assert.equal(page.map((event) => event.data), ['early'], 'served by a broker that was not running when it was stored');
      // The same envelope (same id) through two brokers, as a client re-sends after a failover: stored once.
      const event = { id: `once-${root}`, topic: `${root}.once`, source: 'test', time: new Date().toISOString(), data: { n: 1 } };
      for (const broker of [a, late]) {
        const raw = await RawClient.open(broker.url);
        raw.send({ type: 'hello', protocol: 1 });
        raw.send({ type: 'publish', id: 1, event });
        const ack = await raw.next((frame) => frame['id'] === 1);
        assert.is(ack['type'], 'ack');
        raw.close();
      }
      await until(() => late.broker.stats().history!.head >= a.broker.stats().history!.head, 'the late mirror caught up', WAIT);
      assert.equal((await historyPage(late, `${root}.#`)).map((event) => event.data), ['early', { n: 1 }]);
    } finally {
      await late.stop();
    }
  });

  test('plain nats.js: an envelope published on a history subject is stored, gets an offset and reaches WebSocket clients', async ({ servers, brokers, stream }) => {
    const [a] = brokers as [TestBroker<EventMap>];
    const root = uniqueTopic('room.h');
    const client = new EventChannel({ url: a.url });
    const plain = await connect({ servers: servers[1]!.url });
    try {
      const got: EventEnvelope[] = [];
      await client.on(`${root}.#`, (_data, event) => void got.push(event)).ready;
      const envelope = { id: `plain-${root}`, topic: `${root}.plain`, source: 'nats.js', time: new Date().toISOString(), data: { from: 'nats.js' } };
      plain.publish(envelope.topic, JSON.stringify(envelope));
      await until(() => got.length === 1, 'the plain publish on a WebSocket client', WAIT);
      assert.ok(got[0]!.offset, 'with an offset');
      assert.equal(got[0]!.data, { from: 'nats.js' });
      const manager = await jetstreamManager(plain);
      const info = await manager.streams.info(stream);
      assert.equal(info.config.subjects, ['room', 'room.>']);
      assert.is(info.config.max_msgs_per_subject, 10_000, 'the rule’s count, per topic (subject)');
      assert.is(info.config.num_replicas, 3);
    } finally {
      await plain.close();
      await client.close();
    }
  });

  test('a history pattern starting with a wildcard is refused: its stream would capture NATS’s own subjects', () => {
    try {
      new EventBrokerServer({ history: [{ pattern: '*.chat' }], cluster: 'nats://127.0.0.1:1' });
      assert.unreachable('constructed');
    } catch (error) {
      assert.instance(error, EventwireError);
      assert.is((error as EventwireError).code, 'invalid_pattern');
    }
  });

  test('JetStream off on the server: listen() fails at once with `unavailable`, saying to start nats-server with -js', async () => {
    const server = await startNatsServer();
    const reports: EventwireError[] = [];
    const broker = new EventBrokerServer({
      port: 0,
      host: '127.0.0.1',
      history: HISTORY,
      cluster: { url: server.url, node: 'no-js', history: { readyTimeoutMs: 60_000 } },
      onError: (error) => void reports.push(error),
      log: () => {},
    });
    try {
      const failure = await within(
        broker.listen().then(
          () => undefined,
          (error: unknown) => error,
        ),
        WAIT,
        'listen() refused well before the ready timeout',
      );
      assert.instance(failure, EventwireError);
      assert.is((failure as EventwireError).code, 'unavailable');
      assert.match((failure as EventwireError).message, /-js/);
    } finally {
      await broker.close();
      await server.stop();
    }
  });

  test('NATS away: history publishes are refused `unavailable` (nothing stored, nothing delivered); other topics go on locally', async () => {
    const server = await startNatsServer({ jetstream: true });
    const broker = await historyBroker(server, 'alone', `ALONE_${process.pid}`, 1);
    const client = new EventChannel({ url: broker.url });
    try {
      const got: string[] = [];
      await client.on('#', (_data, event) => void got.push(event.topic)).ready;
      await server.stop();
      await until(() => broker.broker.stats().cluster?.state !== 'open', 'the broker sees NATS gone', WAIT);
      const refused = await client.emit('room.away', {}, { ack: true }).then(
        () => undefined,
        (error: unknown) => error,
      );
      assert.instance(refused, EventwireError);
      assert.is((refused as EventwireError).code, 'unavailable');
      await client.emit('other.local', {}, { ack: true });
      await until(() => got.includes('other.local'), 'local delivery of a topic without history', WAIT);
      assert.not.ok(got.includes('room.away'), 'the refused event was not delivered');
      await server.start();
      await until(() => broker.broker.stats().cluster?.state === 'open', 'NATS back', WAIT);
      await client.emit('room.back', {}, { ack: true });
      await until(() => got.includes('room.back'), 'history publishes work again', WAIT);
    } finally {
      await client.close();
      await broker.stop();
      await server.stop();
    }
  });

  // Last: it kills a nats-server, which is not started again (its ports may have gone to other sockets).
  test('the nats-server under a broker dies: the broker moves to another, its mirror resumes, its clients miss nothing', async ({ servers, brokers, stream }) => {
    const [a] = brokers as [TestBroker<EventMap>];
    const root = uniqueTopic('room.h');
    const onDoomed = await historyBroker(servers[2]!, 'node-d', stream);
    const client = new EventChannel({ url: onDoomed.url });
    // The broker answers every publish (stored, or `unavailable` after its JetStream timeout); while the
    // stream elects a leader on a loaded machine that answer can take longer than the channel's default 10 s.
    const publisher = new EventChannel({ url: a.url, ws: { requestTimeoutMs: WAIT_AFTER_LOSS } });
    try {
      const received: number[] = [];
      const gaps: string[] = [];
      client.onGap((gap) => gaps.push(gap.reason));
      await client.on(`${root}.n`, (n) => void received.push(n as number)).ready;
      await publisher.emit(`${root}.n`, 0, { ack: true });
      await until(() => received.length === 1, 'the first event', WAIT);
      await servers[2]!.kill();
      for (let n = 1; n <= 20; n++) {
        // Refused `unavailable` while the stream elects a leader on the servers left: sent again.
        for (const deadline = Date.now() + WAIT_AFTER_LOSS; ; ) {
          const sent = await publisher.emit(`${root}.n`, n, { ack: true }).then(
            () => true,
            (error: EventwireError) => {
              if (error.code !== 'unavailable' || Date.now() > deadline) throw error;
              return false;
            },
          );
          if (sent) break;
        }
      }
      await until(() => received.length === 21, 'all 21 on the broker that lost its server', WAIT_AFTER_LOSS);
      assert.equal(received, Array.from({ length: 21 }, (_, n) => n), 'once each, in order');
      assert.equal(gaps, []);
      assert.ok(onDoomed.broker.stats().cluster!.reconnects >= 1, 'the broker moved to another server');
    } finally {
      await Promise.all([client.close(), publisher.close()]);
      await onDoomed.stop();
    }
  });
}

test.run();
