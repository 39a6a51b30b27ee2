// The shared fixtures keep their promises: what starts something stops it
// when its `await using` scope ends (a broker, a raw client, the broker CLI, a
// nats-server, a cluster of brokers), a cluster that fails half-way stops what
// it had started, and a wait that times out says what it waited for and stops
// polling. A fixture that leaked a server or a port would let later tests see
// each other; these tests make that a failure here instead.
import { connect } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';
import { startBrokerCluster, startClusterBroker } from './cluster-helpers.js';
import { RawClient, runBrokerCli, startBroker, until, waitDefaults, waitForOutput, within, type BrokerProcess, type TestBroker } from './helpers.js';

const test = suite('shared test fixtures');

/** Whether something accepts TCP connections on `port` of 127.0.0.1 right now. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('the one default deadline is 5 s; until fails naming what it waited for, and stops polling', async () => {
  assert.is(waitDefaults.deadlineMs, 5000);
  let checks = 0;
  const started = performance.now();
  const failure = await until(() => (checks++, false), 'a condition that never holds', 50).then(
    () => undefined,
    (error: Error) => error,
  );
  assert.ok(performance.now() - started >= 45, 'waited for its deadline');
  assert.match(failure?.message ?? '', /Timed out after 50 ms waiting for a condition that never holds/);
  const atFailure = checks;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.is(checks, atFailure, 'no check after the deadline');
  assert.is(await within(Promise.resolve('done'), 50, 'a settled promise'), 'done');
});

test('await using: a broker and a raw client on it are closed when the scope ends', async () => {
  let port = 0;
  let client: RawClient | undefined;
  {
    await using broker = await startBroker();
    await using raw = await RawClient.native(broker.url);
    port = broker.port;
    client = raw;
    assert.ok(await listening(port));
  }
  assert.is((await within(client.closed, 1000, 'the client closed')).code !== undefined, true);
  assert.not.ok(await listening(port), 'the broker port is closed');
});

test('await using: the broker CLI is killed when the scope ends', async () => {
  let cli: BrokerProcess | undefined;
  {
    await using broker = runBrokerCli(['--port', '0', '--host', '127.0.0.1', '--quiet']);
    cli = broker;
    await waitForOutput(broker.output, /listening on (ws:\/\/[\d.]+:\d+)/, 'the CLI listening');
  }
  assert.ok(cli.child.exitCode !== null || cli.child.signalCode !== null, 'the process has exited');
});

if (!natsServerAvailable()) {
  test.skip('(nats-server not installed: the NATS fixture tests are skipped)', () => {});
} else {
  test('await using: a nats-server and a cluster of brokers over NATS are stopped when the scope ends', async () => {
    let serverPort = 0;
    {
      await using server = await startNatsServer();
      serverPort = server.port;
      assert.ok(await listening(serverPort));
    }
    assert.not.ok(await listening(serverPort), 'the nats-server is stopped');

    const ports: number[] = [];
    {
      await using cluster = await startBrokerCluster((server, node) => startClusterBroker(node, { cluster: { url: server.url, node } }), { size: 2 });
      assert.is(cluster.brokers.length, 2);
      assert.equal(cluster.brokers.map((broker) => broker.broker.stats().cluster?.state), ['open', 'open']);
      ports.push(...cluster.servers.map((server) => server.port), ...cluster.brokers.map((broker) => broker.port));
    }
    for (const port of ports) assert.not.ok(await listening(port), `port ${port} closed after the scope`);
  });

  test('a cluster that fails half-way stops the servers and brokers it had started', async () => {
    const ports: number[] = [];
    let started: TestBroker<never> | undefined;
    const failure = await startBrokerCluster<never>(
      async (server, node) => {
        ports.push(server.port);
        if (node === 'node-b') throw new Error('the second broker fails');
        started = await startBroker<never>({ cluster: { url: server.url, node } });
        ports.push(started.port);
        return started;
      },
      { size: 2 },
    ).then(
      () => undefined,
      (error: Error) => error,
    );
    assert.is(failure?.message, 'the second broker fails');
    assert.ok(started, 'the first broker had started');
    for (const port of ports) assert.not.ok(await listening(port), `port ${port} closed after the failure`);
  });
}

test.run();
