// Fault: a cluster broker whose history lives in JetStream is killed with
// SIGKILL and restarted while its clients storm back to resume, with a large
// history already stored. A restarted broker mirrors the stream before it can
// serve a resume; admitted earlier, a client resumed from a mirror that did
// not yet hold what the stream held, and lost events without a gap (or got an
// `epoch` gap before the stream was even found). Counted per subscriber:
// every event once, in order, and no gap (the stream holds every event).
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventChannel, type EventMap } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../../scripts/testing/nats-server.js';
import { runBrokerCli, startBroker, until, waitForOutput, within, type BrokerProcess, type TestBroker } from '../helpers.js';

const available = natsServerAvailable();
const WAIT = 30_000;
const HISTORY = [{ pattern: 'room.#', maxEvents: 10_000 }];
/** Stored before the restart: enough that mirroring it takes a while (the window this test is about). */
const STORED = 80_000;
const SUBSCRIBERS = 10;

interface Context {
  server: NatsServer;
  entry: TestBroker<EventMap>;
  stream: string;
  dir: string;
}

const test = suite<Context>('fault: a cluster broker restarted during a resume storm');

if (!available) {
  test.skip('(nats-server not installed: the cluster history restart fault is skipped)', () => {});
} else {
  test.before(async (context) => {
    context.server = await startNatsServer({ jetstream: true });
    context.stream = `RESTART_${process.pid}`;
    context.dir = mkdtempSync(join(tmpdir(), 'history-restart-'));
    // The broker the publisher uses; it creates the stream.
    context.entry = await startBroker({ history: HISTORY, cluster: { url: context.server.url, node: 'entry', history: { stream: context.stream } } });
  });
  test.after(async (context) => {
    await context.entry?.stop();
    await context.server?.stop();
    if (context.dir) rmSync(context.dir, { recursive: true, force: true });
  });

  test('every subscriber gets every event once, in order, with no gap, across kill -9 and a restart that mirrors a large history', async ({ server, entry, stream, dir }) => {
    // A large history, stored straight into the stream by a plain NATS client.
    const plain = await connect({ servers: server.url });
    const time = new Date().toISOString();
    for (let i = 0; i < STORED; i++) {
      const topic = `room.bulk.t${i % 200}`;
      plain.publish(topic, JSON.stringify({ id: `bulk-${process.pid}-${i}`, topic, source: 'bulk', time, data: { i } }));
    }
    await plain.flush();
    const manager = await jetstreamManager(plain);
    let stored = 0;
    const counting = (async () => {
      while (stored < STORED) stored = (await manager.streams.info(stream)).state.messages;
    })();
    await within(counting, WAIT, `${STORED} events in the stream`);
    await plain.close();

    const config = join(dir, 'broker.json');
    writeFileSync(config, JSON.stringify({ history: HISTORY, cluster: { url: server.url, node: 'restarting', history: { stream } } }));
    let broker: BrokerProcess = runBrokerCli(['--port', '0', '--host', '127.0.0.1', '--config', config, '--quiet']);
    const [, url, port] = await waitForOutput(broker.output, /listening on (ws:\/\/[\d.]+:(\d+))/, 'the CLI broker', WAIT);
    const root = `room.r${process.pid}`;
    const subscribers = Array.from({ length: SUBSCRIBERS }, () => ({
      channel: new EventChannel({ url: url!, ws: { backoff: () => 5 } }),
      received: [] as number[],
      gaps: [] as string[],
    }));
    const publisher = new EventChannel({ url: entry.url });
    let sent = 0;
    let stop = false;
    let publishing: Promise<void> | undefined;
    try {
      for (const subscriber of subscribers) {
        subscriber.channel.onGap((gap) => subscriber.gaps.push(`${gap.pattern}:${gap.reason}`));
        await subscriber.channel.on(`${root}.n`, (n) => void subscriber.received.push(n as number)).ready;
      }
      publishing = (async () => {
        while (!stop) await publisher.emit(`${root}.n`, ++sent, { ack: true });
      })();
      await until(() => subscribers.every((subscriber) => subscriber.received.length >= 10), 'every subscriber streaming', WAIT);
      broker.child.kill('SIGKILL');
      await within(broker.exit, WAIT, 'the killed broker gone');
      // Back on the same port: the subscribers' reconnect loop (5 ms) hits it as soon as it binds.
      broker = runBrokerCli(['--port', port!, '--host', '127.0.0.1', '--config', config, '--quiet']);
      await waitForOutput(broker.output, /listening on ws:/, 'the restarted broker', WAIT);
      const atRestart = sent;
      await until(() => sent >= atRestart + 100, 'publishing on after the restart', WAIT);
      stop = true;
      await publishing;
      const expected = Array.from({ length: sent }, (_, i) => i + 1);
      await until(
        () => subscribers.every((subscriber) => subscriber.gaps.length > 0 || subscriber.received.at(-1) === sent),
        'every subscriber has the last event (or was told of a gap)',
        WAIT,
      );
      for (const [index, subscriber] of subscribers.entries()) {
        assert.equal(subscriber.gaps, [], `subscriber ${index}: no gap (the stream holds every event)`);
        const missing = sent - new Set(subscriber.received).size;
        assert.equal(subscriber.received, expected, `subscriber ${index}: every event once, in order (${missing} missing)`);
      }
    } finally {
      stop = true;
      await publishing?.catch(() => {});
      await Promise.all([publisher.close(), ...subscribers.map((subscriber) => subscriber.channel.close())]);
      broker.child.kill('SIGKILL');
      await within(broker.exit, WAIT, 'the broker gone');
    }
  });


  test('readyTimeoutMs bounds a stall, not a load: a broker mirroring the large stream for longer than it still starts', async ({ server, stream }) => {
    const started = performance.now();
    const late = await startBroker({ history: HISTORY, cluster: { url: server.url, node: 'late', history: { stream, readyTimeoutMs: 250 } } });
    try {
      const took = performance.now() - started;
      assert.ok(late.broker.stats().history!.head >= STORED, 'the whole stream mirrored before listen() resolved');
      // Otherwise the case proves nothing: the load must have outlasted the bound.
      assert.ok(took > 250, `the load took ${took.toFixed(0)} ms`);
    } finally {
      await late.stop();
    }
  });
}

test.run();
