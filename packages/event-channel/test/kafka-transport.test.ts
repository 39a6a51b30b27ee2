// kafka:// (issue #34), first slice: emit and subscribe on exact topics and
// patterns with a literal first segment, through a real Kafka-protocol server
// (librdkafka's mock cluster, see scripts/testing/kafka-server.ts): the shared
// transport suite (its patterns all start with a literal root), then what is
// Kafka's own. Every Kafka topic is made with one partition through the
// transport's ensureTopic (the mock has no CreateTopics and would auto-create 4).
import { Kafka, logLevel } from 'kafkajs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, startKafkaServer, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel, type EventwireError } from '../src/index.js';
import { KafkaTransport } from '../src/transport/kafka-transport.js';
import { collector, uniqueTopic, until, within, withKafkaServer } from './helpers.js';
import { runTransportSuite } from './transport-suite.js';

const available = kafkaServerAvailable();
const test = suite<{ server: KafkaServer }>('kafka transport (exact topics)');
const WAIT = 5000;

const channel = (server: KafkaServer): EventChannel => new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, ensureTopic: server.ensureTopic }) });

if (available) {
  runTransportSuite('kafka', async () => {
    const server = await startKafkaServer();
    return { connect: () => channel(server), teardown: () => server.stop() };
  });
}

if (withKafkaServer(test, available)) {

  test('an acknowledged emit arrives once, in order, at an exact-topic subscriber — not at one of another topic of the same Kafka topic', async ({ server }) => {
    const root = uniqueTopic('k');
    const publisher = channel(server);
    const subscriber = channel(server);
    try {
      const created = collector<number>(20);
      const other: string[] = [];
      await subscriber.on(`${root}.created`, (data) => created.push((data as { n: number }).n)).ready;
      await subscriber.on(`${root}.other`, (_data, event) => void other.push(event.topic)).ready;
      for (let n = 0; n < 20; n++) await publisher.emit(`${root}.created`, { n }, { ack: true });
      assert.equal(await within(created.done, WAIT, '20 events'), Array.from({ length: 20 }, (_, n) => n));
      assert.equal(other, []);
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('a record carries the envelope as its value, the topic as its key and content-type/eventwire-id/topic/source/time headers', async ({ server }) => {
    const root = uniqueTopic('h');
    const publisher = channel(server);
    try {
      await publisher.emit(`${root}.made`, { hello: 1 }, { ack: true });
    } finally {
      await publisher.close();
    }
    const admin = new Kafka({ clientId: 't', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(root);
    await admin.disconnect();
    assert.equal(offsets.map((partition) => partition.high), ['1']);
    const consumer = new Kafka({ clientId: 't', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING }).consumer({ groupId: uniqueTopic('g'), maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [root], fromBeginning: true });
      const got = collector<{ key: string; headers: Record<string, string>; value: Record<string, unknown> }>(1);
      await consumer.run({
        eachMessage: async ({ message }) =>
          got.push({
            key: message.key?.toString() ?? '',
            headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)])),
            value: JSON.parse(message.value?.toString() ?? 'null') as Record<string, unknown>,
          }),
      });
      const [record] = await within(got.done, 15_000, 'the record through a plain consumer');
      assert.is(record!.key, `${root}.made`);
      // Every header names the envelope's field (kafka-record.ts; the kcat interop test reads them too).
      assert.equal(record!.headers, {
        'content-type': 'application/json',
        'eventwire-id': record!.value['id'],
        'eventwire-topic': `${root}.made`,
        'eventwire-source': record!.value['source'],
        'eventwire-time': record!.value['time'],
      });
      assert.is(record!.value['topic'], `${root}.made`);
      assert.equal(record!.value['data'], { hello: 1 });
    } finally {
      await consumer.disconnect();
    }
  });

  test('a busy partition is not held back by idle ones: 200 events on one topic of a 4-partition Kafka topic (leaders 1, 1, 2, 3) arrive in order within 3 s', async ({ server }) => {
    // Idle partitions' fetches are held fetchWaitMs at the broker, and the mock answers one
    // record batch per partition per fetch: waiting for every leader's answer before the next
    // fetch, or queueing a fetch per partition on one connection, takes ~20 s for 200.
    const made = new Map<string, Promise<void>>();
    const fourPartitions = (kafkaTopic: string): Promise<void> => {
      let making = made.get(kafkaTopic);
      if (!making) {
        making = (async () => {
          await server.createTopic(kafkaTopic, 4);
          for (const [partition, leader] of [1, 1, 2, 3].entries()) await server.leader(kafkaTopic, partition, leader);
        })();
        made.set(kafkaTopic, making);
      }
      return making;
    };
    const open = (): EventChannel => new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, ensureTopic: fourPartitions }) });
    const root = uniqueTopic('busy');
    const [publisher, subscriber] = [open(), open()];
    try {
      const got = collector<number>(200);
      await subscriber.on(`${root}.hot`, (data) => got.push(data as number)).ready;
      await Promise.all(Array.from({ length: 200 }, (_, n) => publisher.emit(`${root}.hot`, n, { ack: true })));
      assert.equal(await within(got.done, 3000, '200 events'), Array.from({ length: 200 }, (_, n) => n));
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('a partition whose leadership moves is read from its new leader: nothing lost, nothing twice, in order, and silently (as a Kafka consumer retries)', async ({ server }) => {
    const root = uniqueTopic('move');
    const [publisher, subscriber] = [channel(server), channel(server)];
    const errors: string[] = [];
    for (const each of [publisher, subscriber]) each.onError((error) => void errors.push(error.code));
    try {
      const got = collector<number>(20);
      await subscriber.on(`${root}.x`, (data) => got.push(data as number)).ready;
      for (let n = 0; n < 10; n++) await publisher.emit(`${root}.x`, n, { ack: true });
      await until(() => got.items.length === 10, 'the first ten');
      // The topic was made with one partition; it moves to another broker, whichever leads it now.
      const admin = new Kafka({ clientId: 't', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const [meta] = (await admin.fetchTopicMetadata({ topics: [root] })).topics;
      await admin.disconnect();
      const from = meta!.partitions[0]!.leader;
      await server.leader(root, 0, from === 1 ? 2 : 1);
      for (let n = 10; n < 20; n++) await publisher.emit(`${root}.x`, n, { ack: true });
      assert.equal(await within(got.done, WAIT, 'the next ten after the move'), Array.from({ length: 20 }, (_, n) => n));
      assert.equal(errors, [], 'a leader move is not an error');
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test("new EventChannel({ url: 'kafka://…', kafka: { … } }) builds a kafka transport from the URL table, its options under the kafka key", async ({ server }) => {
    const root = uniqueTopic('url');
    const ensureTopic = (kafkaTopic: string): Promise<void> => server.createTopic(kafkaTopic, 1);
    const [publisher, subscriber] = [
      new EventChannel({ url: server.url, kafka: { ensureTopic, backoff: () => 50 } }),
      new EventChannel({ url: server.bootstrap.map((address) => `kafka://${address}`), kafka: { backoff: () => 50 } }),
    ];
    try {
      await publisher.emit(`${root}.ping`, 0, { ack: true });
      const got = collector<number>(1);
      await subscriber.on(`${root}.ping`, (data) => got.push(data as number)).ready;
      await publisher.emit(`${root}.ping`, 1, { ack: true });
      assert.equal(await within(got.done, WAIT, 'the event'), [1]);
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });
}

test.run();
