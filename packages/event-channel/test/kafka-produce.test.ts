// kafka:// (issue #34): how emits become produces. One produce is in flight at
// a time (a re-send cannot reorder a publisher); the emits that wait behind it
// go together as the next one, each settled on its own. What the log holds is
// read back through kafkajs's cluster layer, which keeps each record's batch
// (its first offset): one produce of several records to one partition is one
// record batch. The server is librdkafka's mock cluster
// (scripts/testing/kafka-server.ts).
import { Kafka, logLevel } from 'kafkajs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel } from '../src/index.js';
import { KafkaTransport } from '../src/transport/kafka-transport.js';
import { internalCluster } from '../src/transport/kafkajs-cluster.js';
import { collector, expectCode, uniqueTopic, until, within, withKafkaServer } from './helpers.js';

const available = kafkaServerAvailable();
const test = suite<{ server: KafkaServer }>('kafka produce');
const WAIT = 10_000;

interface Logged {
  readonly n: number;
  /** The first offset of the record batch the record was written in. */
  readonly batch: string;
}

/** Every record of a 1-partition Kafka topic, from offset 0 to `count`, with its record batch. */
async function readLog(server: KafkaServer, kafkaTopic: string, count: number): Promise<Logged[]> {
  const cluster = internalCluster(new Kafka({ clientId: 't', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING }), { allowAutoTopicCreation: false });
  await cluster.connect();
  const logged: Logged[] = [];
  try {
    await cluster.addTargetTopic(kafkaTopic);
    const [partition] = cluster.findTopicPartitionMetadata(kafkaTopic);
    assert.ok(partition, 'the topic has a partition');
    const broker = await cluster.findBroker({ nodeId: String(partition.leader) });
    let position = 0n;
    // The mock answers one record batch per fetch: fetch on while each brings records.
    const fetchAll = async (): Promise<boolean> => {
      for (;;) {
        const answer = await broker.fetch({ maxWaitTime: 20, topics: [{ topic: kafkaTopic, partitions: [{ partition: partition.partitionId, fetchOffset: String(position), maxBytes: 4 << 20 }] }] });
        const before = position;
        for (const message of answer.responses.flatMap((response) => response.partitions).flatMap((fetched) => fetched.messages)) {
          if (BigInt(message.offset) < position) continue;
          position = BigInt(message.offset) + 1n;
          // kafkajs's decoder keeps the batch header on each record (not in its types).
          const batch = (message as { batchContext?: { firstOffset?: string } }).batchContext?.firstOffset;
          assert.type(batch, 'string', 'kafkajs keeps the record batch on each record');
          logged.push({ n: (JSON.parse(String(message.value)) as { data: { n: number } }).data.n, batch: batch! });
        }
        if (logged.length >= count) return true;
        if (position === before) return false;
      }
    };
    await until(fetchAll, `${count} records in the log`, WAIT);
  } finally {
    await cluster.disconnect();
  }
  return logged;
}

if (withKafkaServer(test, available)) {

  test('emits made while a produce is in flight go together as the next produce (≤ 500 records): each settled, once and in order in the log and at a subscriber', async ({ server }) => {
    const root = uniqueTopic('batch');
    const ensureTopic = (kafkaTopic: string): Promise<void> => server.createTopic(kafkaTopic, 1);
    const publisher = new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, ensureTopic, fetchWaitMs: 20 }) });
    const subscriber = new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, ensureTopic: async () => {}, fetchWaitMs: 20 }) });
    const COUNT = 1201;
    try {
      await publisher.emit(`${root}.first`, { n: -1 }, { ack: true });
      const received = collector<number>(COUNT);
      await subscriber.on(`${root}.made`, (data) => received.push((data as { n: number }).n)).ready;
      // All emitted in one turn: the first goes alone, the rest wait behind it.
      await within(Promise.all(Array.from({ length: COUNT }, (_, n) => publisher.emit(`${root}.made`, { n }, { ack: true }))), WAIT, 'every emit acknowledged');
      assert.equal(await within(received.done, WAIT, `${COUNT} events`), Array.from({ length: COUNT }, (_, n) => n));

      const logged = (await readLog(server, root, COUNT + 1)).slice(1);
      assert.equal(
        logged.map((each) => each.n),
        Array.from({ length: COUNT }, (_, n) => n),
        'once each, in order',
      );
      const sizes = new Map<string, number>();
      for (const { batch } of logged) sizes.set(batch, (sizes.get(batch) ?? 0) + 1);
      // One record per produce would be 1,201 batches; the bound is 500 records a produce.
      assert.ok(sizes.size <= 10, `${sizes.size} record batches for ${COUNT} emits`);
      assert.ok(Math.max(...sizes.values()) <= 500, `a batch of ${Math.max(...sizes.values())} records (bound 500)`);
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  // The default ensureTopic sends CreateTopics to the cluster's controller.
  // librdkafka's mock has no CreateTopics and names no controller a client can
  // find, so what is shown here is the fallback: the channel works on what the
  // cluster auto-creates (4 partitions on the mock), with no error reported.
  // The create request itself is not shown: no real Kafka is available here
  // (a fake listener answering CreateTopics would test our reading of our own
  // guess at Kafka, not Kafka).
  test('by default, on a cluster that cannot create topics (the mock): no error, events on auto-created topics — order per eventwire topic (4 partitions), each once', async ({ server }) => {
    const root = uniqueTopic('auto');
    const publisher = new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, fetchWaitMs: 20 }) });
    const subscriber = new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, fetchWaitMs: 20 }) });
    const errors: string[] = [];
    for (const each of [publisher, subscriber]) each.onError((error) => void errors.push(error.code));
    try {
      const a = collector<number>(50);
      const b = collector<number>(50);
      await subscriber.on(`${root}.a`, (data) => a.push((data as { n: number }).n)).ready;
      await subscriber.on(`${root}.b`, (data) => b.push((data as { n: number }).n)).ready;
      // A second Kafka topic: the cluster's refusal was remembered, and this one works the same.
      const other = uniqueTopic('auto2');
      const c = collector<number>(1);
      await subscriber.on(`${other}.c`, (data) => c.push((data as { n: number }).n)).ready;
      await Promise.all(Array.from({ length: 50 }, (_, n) => [publisher.emit(`${root}.a`, { n }, { ack: true }), publisher.emit(`${root}.b`, { n }, { ack: true })]).flat());
      await publisher.emit(`${other}.c`, { n: 7 }, { ack: true });
      const expected = Array.from({ length: 50 }, (_, n) => n);
      assert.equal(await within(a.done, WAIT, 'topic a'), expected);
      assert.equal(await within(b.done, WAIT, 'topic b'), expected);
      assert.equal(await within(c.done, WAIT, 'the second Kafka topic'), [7]);
      assert.equal(errors, []);
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('ensureTopic false: no creation asked, what the cluster auto-creates is used; partitions not a whole number from 1 is invalid_config', async ({ server }) => {
    const root = uniqueTopic('off');
    const channel = new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, fetchWaitMs: 20, ensureTopic: false }) });
    try {
      const got = collector<number>(1);
      await channel.on(`${root}.x`, (data) => got.push((data as { n: number }).n)).ready;
      await channel.emit(`${root}.x`, { n: 1 }, { ack: true });
      assert.equal(await within(got.done, WAIT, 'the event'), [1]);
    } finally {
      await channel.close();
    }
    for (const partitions of [0, -1, 1.5, Number.NaN]) await expectCode(() => new KafkaTransport({ url: server.url, partitions }), 'invalid_config');
  });
}

test.run();
