// The Kafka topic of an eventwire first segment (issue #34): characters
// Kafka refuses escaped as `.HH` per UTF-8 byte, common names unchanged,
// the mapping injective and taken back only from its own output; names over
// Kafka's 249 refused invalid_topic; a prefix in front. Then a topic whose
// first segment Kafka would refuse (`$sio-session`) round-trips through the
// mock cluster, under a prefix, for an exact and a `#` subscriber.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, startKafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel, type EventwireError } from '../src/index.js';
import { KafkaTransport, kafkaTopicOf } from '../src/transport/kafka-transport.js';
import { checkKafkaPrefix, firstSegmentOf, kafkaTopicName } from '../src/transport/kafka-topic-name.js';
import { expectCode, until, uniqueTopic } from './helpers.js';

const test = suite('kafka topic names');

const table: [string, string][] = [
  ['orders', 'orders'],
  ['Order_Events-2', 'Order_Events-2'],
  ['$sio-session', '.24sio-session'],
  ['_EVENTWIRE', '_EVENTWIRE'],
  ['café', 'caf.C3.A9'],
  ['a/b:c', 'a.2Fb.3Ac'],
  ['🙂', '.F0.9F.99.82'],
];

test('the mapping table: common names unchanged, others escaped per UTF-8 byte, and back', () => {
  for (const [segment, name] of table) {
    assert.is(kafkaTopicName(segment), name, segment);
    assert.is(firstSegmentOf(name), segment, name);
    assert.is(kafkaTopicName(segment, 'app1.'), `app1.${name}`);
    assert.is(firstSegmentOf(`app1.${name}`, 'app1.'), segment);
  }
  assert.is(kafkaTopicOf('$sio-session.abc.def'), '.24sio-session');
  assert.is(kafkaTopicOf('orders.created', 'p-'), 'p-orders');
});

test('names no segment maps to are not taken back: other prefixes, non-canonical or broken escapes, internal topics', () => {
  for (const name of ['.41', '.4', '.zz', 'a.', '__consumer_offsets.2E', '.C3', '.2E', '.20', '.3E', 'a..']) assert.is(firstSegmentOf(name), undefined, name);
  assert.is(firstSegmentOf('other.orders', 'app1.'), undefined);
  assert.is(firstSegmentOf('app1.', 'app1.'), undefined);
});

test('injective on random first segments, and every output a Kafka name taken back to its segment', () => {
  const segment = fc.string({ unit: 'binary', minLength: 1, maxLength: 20 }).filter((text) => !/[\s>.]/u.test(text) && !/\p{Cs}/u.test(text));
  fc.assert(
    fc.property(segment, segment, (a, b) => {
      const [nameA, nameB] = [kafkaTopicName(a), kafkaTopicName(b)];
      assert.ok(/^[A-Za-z0-9._-]+$/.test(nameA), nameA);
      assert.is(firstSegmentOf(nameA), a);
      if (a !== b) assert.is.not(nameA, nameB);
    }),
    { numRuns: 3000 },
  );
});

test('a prefix Kafka would not take is refused at construction with invalid_config', async () => {
  for (const prefix of ['a b', 'x$', '__x', 'p'.repeat(249)]) assert.throws(() => checkKafkaPrefix(prefix), (error: EventwireError) => error.code === 'invalid_config');
  await expectCode(() => new KafkaTransport({ url: 'kafka://127.0.0.1:1', prefix: 'bad/prefix' }), 'invalid_config');
  checkKafkaPrefix('');
  checkKafkaPrefix('team-a.');
});

const available = kafkaServerAvailable();
if (available) {
  test('over 249 characters once escaped: emit and subscribe refused with invalid_topic; a $sio-session topic round-trips under a prefix, for an exact and a # subscriber', async () => {
    const server = await startKafkaServer();
    const made = new Set<string>();
    const ensureTopic = (kafkaTopic: string): Promise<void> => (made.add(kafkaTopic), server.ensureTopic(kafkaTopic));
    const options = { url: server.url, backoff: () => 50, ensureTopic, prefix: 'app1.', topicRefreshMs: 100 };
    const publisher = new EventChannel({ transport: new KafkaTransport(options), onError: () => {} });
    const subscriber = new EventChannel({ transport: new KafkaTransport(options), onError: () => {} });
    try {
      // 84 × '$' is 252 characters escaped, 257 with the prefix.
      const long = `${'$'.repeat(84)}.x`;
      await expectCode(() => publisher.emit(long, 1, { ack: true }), 'invalid_topic');
      await expectCode(() => subscriber.on(long, () => {}).ready, 'invalid_topic');
      const topic = `$sio-session.${uniqueTopic('s')}`;
      const exact: unknown[] = [];
      const all: string[] = [];
      await subscriber.on(topic, (data) => void exact.push(data)).ready;
      await subscriber.on('#', (_data, event) => void all.push(event.topic)).ready;
      await publisher.emit(topic, { hello: 1 }, { ack: true });
      await until(() => exact.length === 1 && all.length === 1, 'the event', 5000);
      assert.equal(exact, [{ hello: 1 }]);
      assert.equal(all, [topic]);
      assert.ok(made.has('app1..24sio-session'), [...made].join(','));
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
      await server.stop();
    }
  });
} else {
  test.skip('(cc or librdkafka-dev not installed: no Kafka test server)', () => {});
}

test.run();
