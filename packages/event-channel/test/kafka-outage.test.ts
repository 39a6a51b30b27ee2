// kafka:// when Kafka goes away and comes back (issue #34), on the mock
// cluster with every broker taken down and up (scripts/testing/kafka-server.ts):
// status `reconnecting` with the cause, readers resumed from their positions —
// Kafka kept the log, so what another channel produced meanwhile arrives once,
// in order, with no gap (unlike redis:// and postgres://) —, emits held and
// sent in order after, a channel started while Kafka is down, acknowledged
// emits bounded while down, and no busy loop.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { Kafka, logLevel } from 'kafkajs';
import { EventChannel, type EventwireError, type HistoryGap } from '../src/index.js';
import { KafkaTransport } from '../src/transport/kafka-transport.js';
import { collector, nextStatus, uniqueTopic, until, within, withKafkaServer } from './helpers.js';

const available = kafkaServerAvailable();
const test = suite<{ server: KafkaServer }>('kafka transport: Kafka away and back');
const WAIT = 10_000;

function channel(server: KafkaServer, options: { backoff?: (attempt: number) => number; requestTimeoutMs?: number } = {}): EventChannel {
  return new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, ensureTopic: server.ensureTopic, ...options }), onError: () => {} });
}

if (withKafkaServer(test, available, { each: true })) {

  test('every broker down and up: reconnecting with the cause, then open; what another channel produced meanwhile and the emits held arrive once, in order, with no gap', async ({ server }) => {
    const root = uniqueTopic('out');
    // This channel's next attempt comes 2 s after the loss: the other one is back and produces in between.
    const away = channel(server, { backoff: () => 2000 });
    const other = channel(server);
    try {
      const got = collector<string>(8);
      const all: string[] = [];
      const gaps: HistoryGap[] = [];
      away.onGap((gap) => void gaps.push(gap));
      await away.on(`${root}.x`, (data) => got.push(data as string)).ready;
      await away.on(`${root}.#`, (data) => void all.push(data as string)).ready;
      await other.on(`${root}.y`, () => {}).ready;
      await away.emit(`${root}.x`, 'before', { ack: true });
      const down = Promise.all([nextStatus(away, 'reconnecting'), nextStatus(other, 'reconnecting')]);
      await server.down();
      const [reconnecting] = await within(down, WAIT, 'both reconnecting');
      assert.is(reconnecting.state === 'reconnecting' && reconnecting.error?.code, 'connection_closed');
      assert.ok(reconnecting.state === 'reconnecting' && reconnecting.error?.cause, 'the cause is kept');
      const held = ['held-1', 'held-2', 'held-3'].map((text) => away.emit(`${root}.x`, text, { ack: true }));
      const otherOpen = nextStatus(other, 'open', WAIT);
      await server.up();
      await within(otherOpen, WAIT, 'the other channel open again');
      for (const n of [1, 2, 3, 4]) await other.emit(`${root}.x`, `other-${n}`, { ack: true });
      assert.is.not(away.status.state, 'open', 'the other produced while this channel was still away (its backoff is 2 s)');
      await within(Promise.all(held), WAIT, 'held emits sent after the reconnect');
      assert.equal(await within(got.done, WAIT, 'eight events'), ['before', 'other-1', 'other-2', 'other-3', 'other-4', 'held-1', 'held-2', 'held-3']);
      assert.equal(all, ['before', 'other-1', 'other-2', 'other-3', 'other-4', 'held-1', 'held-2', 'held-3'], 'the pattern too, once each');
      assert.equal(gaps, [], 'Kafka kept the log: nothing missed, no gap');
      // Subscriptions made after the reconnect work.
      const after = collector<string>(1);
      await away.on(`${root}.after`, (data) => after.push(data as string)).ready;
      await other.emit(`${root}.after`, 'after', { ack: true });
      assert.equal(await within(after.done, WAIT, 'after'), ['after']);
    } finally {
      await Promise.all([away.close(), other.close()]);
    }
  });

  test('a channel started while Kafka is down connects when it comes up: its subscription goes live, its held emit is sent, no gap; close while reconnecting ends at once', async ({ server }) => {
    const root = uniqueTopic('late');
    await server.down();
    const late = channel(server);
    const gaps: HistoryGap[] = [];
    late.onGap((gap) => void gaps.push(gap));
    try {
      const got = collector<string>(1);
      const subscribed = late.on(`${root}.x`, (data) => got.push(data as string)).ready;
      const waiting = await within(nextStatus(late, 'reconnecting'), WAIT, 'reconnecting');
      assert.is(waiting.state === 'reconnecting' && waiting.error?.code, 'connection_closed');
      const emitted = late.emit(`${root}.x`, 'held', { ack: true });
      const open = nextStatus(late, 'open', WAIT);
      await server.up();
      await within(open, WAIT, 'open once Kafka is up');
      await within(subscribed, WAIT, 'the subscription made while down is live');
      await within(emitted, WAIT, 'the held emit');
      assert.equal(await within(got.done, WAIT, 'delivered'), ['held']);
      assert.equal(gaps, []);
    } finally {
      await late.close();
    }
    await server.down();
    const gone = channel(server);
    await within(nextStatus(gone, 'reconnecting'), WAIT, 'reconnecting to nothing');
    await within(gone.close(), 1000, 'close while reconnecting');
    assert.is(gone.status.state, 'closed');
  });

  test('no busy loop while Kafka is away: over 2 s, reconnect attempts follow the backoff (one timer each) and the process stays nearly idle', async ({ server }) => {
    const root = uniqueTopic('idle');
    let attempts = 0;
    const watched = channel(server, {
      backoff: () => {
        attempts++;
        return 200;
      },
    });
    try {
      await watched.on(`${root}.x`, () => {}).ready;
      await watched.on(`${root}.y`, () => {}).ready;
      const down = nextStatus(watched, 'reconnecting');
      await server.down();
      await within(down, WAIT, 'reconnecting');
      const [startAttempts, startCpu, startedAt] = [attempts, process.cpuUsage(), Date.now()];
      await new Promise((resolve) => setTimeout(resolve, 2000)); // the outage being measured, not a synchronisation
      const cpu = process.cpuUsage(startCpu);
      const elapsedMs = Date.now() - startedAt;
      const made = attempts - startAttempts;
      // One attempt per 200 ms timer, plus the connect each takes: at most ~elapsed/200.
      assert.ok(made >= 1 && made <= Math.ceil(elapsedMs / 200) + 1, `attempts during the outage: ${made}`);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      assert.ok(cpuMs < elapsedMs * 0.25, `CPU during a ${elapsedMs} ms outage: ${cpuMs} ms`);
      const open = nextStatus(watched, 'open', WAIT);
      await server.up();
      await within(open, WAIT, 'open again');
    } finally {
      await watched.close();
    }
  });

  test('an acknowledged emit while Kafka is away fails with timeout within its bound, never resolves, and is not sent late', async ({ server }) => {
    const root = uniqueTopic('bound');
    const bounded = channel(server, { requestTimeoutMs: 800 });
    const reader = channel(server);
    try {
      const got: string[] = [];
      await reader.on(`${root}.x`, (data) => void got.push(data as string)).ready;
      await bounded.emit(`${root}.x`, 'first', { ack: true });
      // A channel that only publishes learns of the outage from its produce, which settles within its bound all the same.
      const down = nextStatus(bounded, 'reconnecting');
      await server.down();
      const started = Date.now();
      const failure = await within(
        bounded.emit(`${root}.x`, 'while-down', { ack: true }).then(
          () => undefined,
          (error: EventwireError) => error,
        ),
        3000,
        'the emit settles',
      );
      assert.is(failure?.code, 'timeout');
      assert.ok(Date.now() - started < 800 + 500, `settled after ${Date.now() - started} ms`);
      await within(down, WAIT, 'reconnecting');
      const again = await bounded.emit(`${root}.x`, 'while-known-down', { ack: true }).then(
        () => undefined,
        (error: EventwireError) => error,
      );
      assert.is(again?.code, 'timeout', 'held in the outbox, never handed to kafkajs, and failed at its deadline');
      const open = Promise.all([nextStatus(bounded, 'open', WAIT), nextStatus(reader, 'open', WAIT)]);
      await server.up();
      await within(open, WAIT, 'open again');
      await bounded.emit(`${root}.x`, 'last', { ack: true });
      const last = collector<string>(1);
      const seen = setInterval(() => got.includes('last') && last.push('last'), 10);
      await within(last.done, WAIT, 'the last event').finally(() => clearInterval(seen));
      assert.equal(got, ['first', 'last'], 'the timed-out emit was never sent');
    } finally {
      await Promise.all([bounded.close(), reader.close()]);
    }
  });
}

if (available) {
  test('another cluster at the same addresses (the mock killed and started again, its log gone): reconnecting, an epoch gap for each live subscription, then what is produced there arrives', async ({ server }) => {
    const root = uniqueTopic('new');
    const subscriber = channel(server);
    const publisher = channel(server);
    try {
      const got: string[] = [];
      const gaps: HistoryGap[] = [];
      subscriber.onGap((gap) => void gaps.push(gap));
      await subscriber.on(`${root}.x`, (data) => void got.push(data as string)).ready;
      await subscriber.on(`${root}.#`, () => {}).ready;
      await publisher.emit(`${root}.x`, 'old', { ack: true });
      await until(() => got.includes('old'), 'the first event', WAIT);
      const down = nextStatus(subscriber, 'reconnecting', WAIT);
      await server.kill();
      await server.restart();
      await within(down, WAIT, 'reconnecting: the positions belong to the old cluster');
      await until(() => gaps.length === 2, 'a gap per live subscription', WAIT);
      assert.equal(gaps.map((gap) => [gap.pattern, gap.reason]).sort(), [
        [`${root}.#`, 'epoch'],
        [`${root}.x`, 'epoch'],
      ]);
      await publisher.emit(`${root}.x`, 'new', { ack: true });
      await until(() => got.includes('new'), 'an event on the new cluster', WAIT);
      assert.equal(got, ['old', 'new']);
    } finally {
      await Promise.all([subscriber.close(), publisher.close()]);
    }
  });

  // librdkafka 2.0.2's mock keeps about 5 MiB of record batches per partition
  // and drops the oldest batch past that (measured: five 1 MiB records to a
  // 1-partition topic, the fifth moved the log start to 1 — ListOffsets
  // earliest; 200 records of 1 KB did not move it). 8 events of 1 MiB
  // produced while a subscriber is away move the log start past its position.
  test('retention passes a subscriber away: on its return, one trimmed gap for each live pattern on that Kafka topic, then what the log still holds, in order, once', async ({ server }) => {
    const root = uniqueTopic('trim');
    const away = channel(server, { backoff: () => 3000 });
    const other = channel(server);
    try {
      const got: number[] = [];
      const gaps: HistoryGap[] = [];
      away.onGap((gap) => void gaps.push(gap));
      await away.on(`${root}.x`, (data) => void got.push((data as { n: number }).n)).ready;
      await away.on(`${root}.#`, () => {}).ready;
      await away.on('#', () => {}).ready;
      // A reader, so the other channel notices the outage too.
      await other.on(`${root}.y`, () => {}).ready;
      await other.emit(`${root}.x`, { n: 0 }, { ack: true });
      await until(() => got.length === 1, 'the first event', WAIT);
      const down = Promise.all([nextStatus(away, 'reconnecting'), nextStatus(other, 'reconnecting')]);
      await server.down();
      await within(down, WAIT, 'both reconnecting');
      const otherOpen = nextStatus(other, 'open', WAIT);
      await server.up();
      await within(otherOpen, WAIT, 'the other channel open again');
      const pad = 'p'.repeat(1 << 20);
      for (let n = 1; n <= 8; n++) await other.emit(`${root}.x`, { n, pad }, { ack: true });
      for (let n = 9; n <= 11; n++) await other.emit(`${root}.x`, { n }, { ack: true });
      assert.is.not(away.status.state, 'open', 'all of it produced while this channel was still away (its backoff is 3 s)');
      await until(() => got.includes(11), 'the last event', WAIT);
      assert.equal(gaps.map((gap) => [gap.pattern, gap.reason]).sort(), [
        ['#', 'trimmed'],
        [`${root}.#`, 'trimmed'],
        [`${root}.x`, 'trimmed'],
      ]);
      const after = got.slice(1);
      assert.ok(after[0]! > 1, `the first events were dropped by retention (first after the gap: ${after[0]})`);
      assert.equal(after, Array.from({ length: 12 - after[0]! }, (_, i) => after[0]! + i), 'the rest once, in order');
    } finally {
      await Promise.all([away.close(), other.close()]);
    }
  });

  test('a record written twice with one event id (a produce sent again after its answer was lost) is handed on once', async ({ server }) => {
    const root = uniqueTopic('dup');
    await server.createTopic(root, 1);
    const subscriber = channel(server);
    const producer = new Kafka({ clientId: 'dup', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING }).producer();
    try {
      const got: number[] = [];
      await subscriber.on(`${root}.x`, (data) => void got.push((data as { n: number }).n)).ready;
      await producer.connect();
      const record = (n: number) => {
        const envelope = { id: `id-${n}`, topic: `${root}.x`, source: 'test', time: new Date().toISOString(), data: { n } };
        return { key: envelope.topic, value: JSON.stringify(envelope), headers: { 'eventwire-id': envelope.id, 'eventwire-topic': envelope.topic } };
      };
      await producer.send({ topic: root, acks: -1, messages: [record(1), record(2), record(2), record(3), record(1)] });
      await until(() => got.includes(3), 'the last record', WAIT);
      // Close hands on everything the log held (read to its end): the second copy of 1 included, were it let through.
      await subscriber.close();
      assert.equal(got, [1, 2, 3], 'each id once: the copies right behind are dropped, as is one a few records later');
    } finally {
      await Promise.all([subscriber.close(), producer.disconnect()]);
    }
  });
}

test.run();
