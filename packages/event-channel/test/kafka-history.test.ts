// History on kafka:// (issue #34), read from Kafka's own log through a real
// Kafka-protocol server (librdkafka's mock cluster, scripts/testing/kafka-server.ts):
// the shared history suite (history kept for `hist.#`, every Kafka topic made
// with one partition, as kafka-transport.test.ts does), then what is Kafka's
// own — a restart resumed from an offset, `{ last: n }` on a Kafka topic
// shared with other topics, epoch and trimmed gaps, and the multi-partition
// limit.
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, startKafkaServer, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel, type EventEnvelope, type EventwireError, type HistoryGap } from '../src/index.js';
import { parseOffset } from '../src/offset.js';
import { kafkaEpoch, kafkaReadStart, withOffset } from '../src/transport/kafka-history.js';
import { KafkaTransport } from '../src/transport/kafka-transport.js';
import { collector, uniqueTopic, within } from './helpers.js';
import { runHistorySuite } from './history-suite.js';

const available = kafkaServerAvailable();
const WAIT = 5000;

function open(server: KafkaServer, options: { history?: readonly string[]; fetchWaitMs?: number; onError?: (error: EventwireError) => void } = {}): EventChannel {
  const transport = new KafkaTransport({
    url: server.url,
    backoff: () => 50,
    ensureTopic: server.ensureTopic,
    ...(options.history && { history: options.history }),
    ...(options.fetchWaitMs !== undefined && { fetchWaitMs: options.fetchWaitMs }),
  });
  return new EventChannel({ transport, ...(options.onError && { onError: options.onError }) });
}

/** A plain producer, for filling a partition faster than one acknowledged emit at a time. */
async function producerFor(server: KafkaServer): Promise<Producer> {
  const producer = new Kafka({ clientId: 'fill', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  return producer;
}

const unit = suite('kafka history: where reading after an offset starts');

unit('the same epoch inside the log: from the offset after it, no gap', () => {
  assert.equal(kafkaReadStart({ epoch: 'E', seq: 5 }, { epoch: 'E', start: 0n, end: 9n }), { from: 5n });
  // Caught up: nothing to read, nothing missed.
  assert.equal(kafkaReadStart({ epoch: 'E', seq: 9 }, { epoch: 'E', start: 0n, end: 9n }), { from: 9n });
  // The record it had is gone, but nothing after it: nothing missed.
  assert.equal(kafkaReadStart({ epoch: 'E', seq: 4 }, { epoch: 'E', start: 4n, end: 9n }), { from: 4n });
});

unit('another epoch, or past the end (the topic made again): epoch, from the log start', () => {
  assert.equal(kafkaReadStart({ epoch: 'F', seq: 5 }, { epoch: 'E', start: 2n, end: 9n }), { from: 2n, gap: 'epoch' });
  assert.equal(kafkaReadStart({ epoch: 'E', seq: 10 }, { epoch: 'E', start: 2n, end: 9n }), { from: 2n, gap: 'epoch' });
});

unit('before the log start (retention dropped what followed it): trimmed, from the log start', () => {
  assert.equal(kafkaReadStart({ epoch: 'E', seq: 3 }, { epoch: 'E', start: 4n, end: 9n }), { from: 4n, gap: 'trimmed' });
});

unit('epochs differ by cluster, Kafka topic and partition', () => {
  const epochs = new Set([kafkaEpoch('c1', 'orders', 0), kafkaEpoch('c2', 'orders', 0), kafkaEpoch('c1', 'billing', 0), kafkaEpoch('c1', 'orders', 1)]);
  assert.is(epochs.size, 4);
  assert.is(kafkaEpoch('c1', 'orders', 0), kafkaEpoch('c1', 'orders', 0));
});

unit("a live record's event gets its offset, over one a producer put there", () => {
  assert.equal(withOffset({ id: 'a', offset: 'old:1' }, 'E:2'), { id: 'a', offset: 'E:2' });
});

unit.run();

if (!available) {
  suite('kafka history').skip('(cc or librdkafka-dev not installed: no Kafka test server)', () => {});
} else {
  runHistorySuite('kafka', async () => {
    const server = await startKafkaServer();
    return { connect: () => open(server, { history: ['hist.#'] }), teardown: () => server.stop() };
  });

  const test = suite<{ server: KafkaServer }>('kafka history');
  test.before(async (context) => {
    context.server = await startKafkaServer();
  });
  test.after(async (context) => {
    await context.server.stop();
  });

  test('a channel started again with the last offset it had gets exactly what it missed, then live — not the other topics of the Kafka topic', async ({ server }) => {
    const root = uniqueTopic('restart');
    const publisher = open(server);
    let subscriber = open(server);
    try {
      const before = collector<EventEnvelope>(5);
      await subscriber.on(`${root}.a`, (_data, event) => before.push(event)).ready;
      for (let n = 0; n < 5; n++) {
        await publisher.emit(`${root}.a`, n, { ack: true });
        await publisher.emit(`${root}.b`, -n, { ack: true });
      }
      const lastOffset = (await within(before.done, WAIT, 'five events')).at(-1)!.offset!;
      await subscriber.close();
      for (let n = 5; n < 10; n++) {
        await publisher.emit(`${root}.a`, n, { ack: true });
        await publisher.emit(`${root}.b`, -n, { ack: true });
      }
      subscriber = open(server);
      const gaps: HistoryGap[] = [];
      subscriber.onGap((gap) => gaps.push(gap));
      const after = collector<unknown>(6);
      await subscriber.on(`${root}.a`, (data) => after.push(data), { since: lastOffset }).ready;
      await publisher.emit(`${root}.a`, 10, { ack: true });
      assert.equal(await within(after.done, WAIT, 'what was missed, then live'), [5, 6, 7, 8, 9, 10]);
      assert.equal(gaps, []);
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('{ last: n } finds the newest n of a topic behind many records of other topics on the same Kafka topic', async ({ server }) => {
    const root = uniqueTopic('last');
    const publisher = open(server);
    const reader = open(server);
    const producer = await producerFor(server);
    try {
      for (let n = 1; n <= 5; n++) await publisher.emit(`${root}.wanted`, n, { ack: true });
      // 1200 records of another topic after them: more than two of the chunks read back from the end.
      const filler = Array.from({ length: 1200 }, (_, n) => ({ key: `${root}.other`, value: JSON.stringify({ id: `f${n}`, topic: `${root}.other`, source: 'fill', time: new Date().toISOString(), data: n }) }));
      await producer.send({ topic: root, acks: -1, messages: filler });
      const got = collector<unknown>(4);
      await reader.on(`${root}.wanted`, (data) => got.push(data), { since: { last: 3 } }).ready;
      await publisher.emit(`${root}.wanted`, 6, { ack: true });
      assert.equal(await within(got.done, WAIT, 'the newest three, then live'), [3, 4, 5, 6]);
    } finally {
      await producer.disconnect();
      await Promise.all([publisher.close(), reader.close()]);
    }
  });

  test("an offset of another epoch (another Kafka topic's, or past the end of this one) is an epoch gap, then everything from the log start", async ({ server }) => {
    const [root, elsewhere] = [uniqueTopic('epoch'), uniqueTopic('elsewhere')];
    const publisher = open(server);
    const watcher = open(server);
    try {
      const seen = collector<EventEnvelope>(3);
      await watcher.on(`${elsewhere}.x`, (_data, event) => seen.push(event)).ready;
      await watcher.on(`${root}.x`, (_data, event) => seen.push(event)).ready;
      await publisher.emit(`${elsewhere}.x`, 'other', { ack: true });
      await publisher.emit(`${root}.x`, 1, { ack: true });
      await publisher.emit(`${root}.x`, 2, { ack: true });
      const [other, first] = await within(seen.done, WAIT, 'three events');
      const own = parseOffset(first!.offset!)!;
      assert.is.not(parseOffset(other!.offset!)!.epoch, own.epoch);
      const pastTheEnd = `${own.epoch}:${own.seq + 100}`;
      for (const since of [other!.offset!, pastTheEnd]) {
        const reader = open(server);
        try {
          const gaps: HistoryGap[] = [];
          reader.onGap((gap) => gaps.push(gap));
          const got = collector<unknown>(2);
          await reader.on(`${root}.x`, (data) => got.push(data), { since }).ready;
          assert.equal(await within(got.done, WAIT, 'the whole log'), [1, 2]);
          assert.equal(gaps.map((gap) => [gap.reason, gap.lastOffset]), [['epoch', since]]);
        } finally {
          await reader.close();
        }
      }
    } finally {
      await Promise.all([publisher.close(), watcher.close()]);
    }
  });

  test('an offset retention dropped the records after (the mock keeps ~5 MiB per partition) is a trimmed gap, then what the log still holds', async ({ server }) => {
    const root = uniqueTopic('trim');
    const publisher = open(server);
    const watcher = open(server);
    const producer = await producerFor(server);
    try {
      const seen = collector<EventEnvelope>(1);
      await watcher.on(`${root}.x`, (_data, event) => seen.push(event)).ready;
      await publisher.emit(`${root}.x`, 'first', { ack: true });
      const [first] = await within(seen.done, WAIT, 'the first event');
      await publisher.emit(`${root}.x`, 'dropped', { ack: true });
      // 14 half-MiB records of another topic: the mock drops its oldest records past 5 MiB.
      const big = 'x'.repeat(512 * 1024);
      for (let n = 0; n < 14; n++) await producer.send({ topic: root, acks: -1, messages: [{ key: `${root}.filler`, value: big }] });
      const admin = new Kafka({ clientId: 'trim', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const [bounds] = await admin.fetchTopicOffsets(root);
      await admin.disconnect();
      assert.ok(Number(bounds!.low) > 2, `the mock trimmed the partition (log start ${bounds!.low})`);
      await publisher.emit(`${root}.x`, 'kept', { ack: true });
      const reader = open(server);
      try {
        const gaps: HistoryGap[] = [];
        reader.onGap((gap) => gaps.push(gap));
        const got = collector<unknown>(2);
        await reader.on(`${root}.x`, (data) => got.push(data), { since: first!.offset! }).ready;
        await publisher.emit(`${root}.x`, 'live', { ack: true });
        assert.equal(await within(got.done, WAIT, 'what is left, then live'), ['kept', 'live']);
        assert.equal(gaps.map((gap) => gap.reason), ['trimmed']);
      } finally {
        await reader.close();
      }
    } finally {
      await producer.disconnect();
      await Promise.all([publisher.close(), watcher.close()]);
    }
  });

  test('a pattern on a Kafka topic of several partitions has no history (one sequence per pattern): a no_history gap, then live', async ({ server }) => {
    const root = uniqueTopic('multi');
    // Made first: ensureTopic then finds it there and leaves it as it is.
    await server.createTopic(root, 3);
    const publisher = open(server);
    const reader = open(server);
    try {
      await publisher.emit(`${root}.x`, 'stored', { ack: true });
      const gaps: HistoryGap[] = [];
      reader.onGap((gap) => gaps.push(gap));
      const got = collector<unknown>(1);
      await reader.on(`${root}.x`, (data) => got.push(data), { since: 'earliest' }).ready;
      await publisher.emit(`${root}.x`, 'live', { ack: true });
      assert.equal(await within(got.done, WAIT, 'live'), ['live']);
      assert.equal(gaps.map((gap) => gap.reason), ['no_history']);
    } finally {
      await Promise.all([publisher.close(), reader.close()]);
    }
  });

  test("reading history does not wait behind the live reader's long poll: 20 stored events of an idle Kafka topic replayed while it holds 2 s fetches", async ({ server }) => {
    // The mock answers one record batch per fetch, and a broker answers a
    // connection's requests in order: on the live reader's connection each
    // history fetch would wait out a 2 s poll of the idle topic (~40 s for 20).
    const root = uniqueTopic('poll');
    const publisher = open(server);
    const reader = open(server, { fetchWaitMs: 2000 });
    try {
      for (let n = 0; n < 20; n++) await publisher.emit(`${root}.x`, n, { ack: true });
      await reader.on(`${root}.idle`, () => {}).ready;
      const got = collector<unknown>(20);
      await within(reader.on(`${root}.x`, (data) => got.push(data), { since: 'earliest' }).ready, WAIT, 'the replay');
      assert.equal(await within(got.done, WAIT, '20 events'), Array.from({ length: 20 }, (_, n) => n));
    } finally {
      await Promise.all([publisher.close(), reader.close()]);
    }
  });

  test('history never gets ahead of the live reader (it reads on its own connection): what it returns was already handed on live, so the channel can drop the live copy', async ({ server }) => {
    // The channel drops live events history gave only while the replay runs:
    // an event the replay read past the live reader would come again after it.
    const root = uniqueTopic('ahead');
    const publisher = open(server);
    const transport = new KafkaTransport({ url: server.url, backoff: () => 50, ensureTopic: server.ensureTopic, fetchWaitMs: 500 });
    const delivered = new Set<unknown>();
    transport.connect({
      deliver: (envelope) => delivered.add((envelope as EventEnvelope).data),
      status: () => {},
      error: () => {},
      gap: () => {},
      presence: () => {},
      member: () => {},
    });
    try {
      await transport.subscribe(`${root}.x`);
      for (let n = 0; n < 10; n++) {
        await publisher.emit(`${root}.x`, n, { ack: true });
        const page = await transport.readHistory(`${root}.x`, { since: 'earliest' });
        const ahead = page.events.map((event) => (event as EventEnvelope).data).filter((data) => !delivered.has(data));
        assert.equal(ahead, [], `read ahead of the live reader after event ${n}`);
      }
    } finally {
      await Promise.all([publisher.close(), transport.close()]);
    }
  });

  test('a since that is not an offset is invalid_payload', async ({ server }) => {
    const root = uniqueTopic('bad');
    const errors: EventwireError[] = [];
    const reader = open(server, { onError: (error) => errors.push(error) });
    try {
      await reader.on(`${root}.x`, () => {}, { since: 'not-an-offset' }).ready;
      assert.equal(errors.map((error) => error.code), ['invalid_payload']);
    } finally {
      await reader.close();
    }
  });

  test.run();
}
