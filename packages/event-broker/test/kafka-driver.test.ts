// The kafka broadcasting driver (#34): a service broadcasts into the Kafka a
// broker cluster shares (`createBroadcaster(kafkaDriver({ url }))`), and every
// broker on it delivers to its own clients; a plain kafka:// channel reads the
// same records. On librdkafka's mock cluster (scripts/testing/kafka-server.ts),
// one-partition Kafka topics made through the same ensureTopic by the driver's
// channel and the brokers (the mock has no CreateTopics and would auto-create
// four). Here and not in event-channel's tests: it needs the broker.
import { EventChannel } from '@eventwire/event-channel';
import { createBroadcaster, kafkaDriver } from '@eventwire/event-channel/broadcasting';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, startKafkaServer } from '../../../scripts/testing/kafka-server.js';
import { barrier, broadcastingClient } from './broadcasting-client.js';
import { startBroker, until, type TestBroker } from './helpers.js';

const test = suite('broadcasting API: the kafka driver');

if (!kafkaServerAvailable()) {
  test.skip('(cc or librdkafka-dev not installed: no Kafka test server)', () => {});
} else {
  test('into Kafka: to a plain kafka:// subscriber and to the clients of every broker clustered on it; toOthers(socketId) leaves that one out; the brokers\' hooks do not run', async () => {
    const kafka = await startKafkaServer();
    const ensureTopic = kafka.ensureTopic;
    const hooked: string[] = [];
    const brokers: TestBroker<never>[] = [];
    const driver = kafkaDriver({ url: kafka.url, kafka: { ensureTopic } });
    const reader = new EventChannel({ url: kafka.url, kafka: { ensureTopic, fetchWaitMs: 20 } });
    const clients: Array<Awaited<ReturnType<typeof broadcastingClient>>> = [];
    try {
      for (const node of ['ka', 'kb']) {
        brokers.push(
          await startBroker<never>({ cluster: { url: kafka.url, node, reconnectTimeWaitMs: 50, kafka: { ensureTopic, fetchWaitMs: 20 } } }, (broker) =>
            void broker.observe('orders' as never, (() => void hooked.push(node)) as never),
          ),
        );
      }
      const [a, b] = brokers as [TestBroker<never>, TestBroker<never>];
      const plain: Array<{ data: unknown; metadata: unknown }> = [];
      await reader.on('orders', (data, event) => void plain.push({ data, metadata: event.metadata })).ready;
      const onA = await broadcastingClient(a, 'ada', 'orders');
      const onB = await broadcastingClient(b, 'bob', 'orders');
      const actor = await broadcastingClient(b, 'cy', 'orders');
      clients.push(onA, onB, actor);
      await until(() => a.broker.stats().cluster?.state === 'open' && b.broker.stats().cluster?.state === 'open', 'both brokers joined');
      const broadcast = createBroadcaster(driver);
      // A broker reads a Kafka topic from its end as it was when its first client asked: probe until both read it.
      await until(async () => {
        await broadcast({ broadcastOn: () => 'orders', broadcastAs: () => 'probe' });
        return onA.named('probe').length > 0 && onB.named('probe').length > 0;
      }, 'both brokers read orders');

      await broadcast({ broadcastOn: () => 'orders', broadcastAs: () => 'OrderShipped', broadcastWith: () => ({ id: 'o1', carrier: 'DHL' }) }).toOthers(actor.socketId);
      await until(() => onA.named('OrderShipped').length === 1 && onB.named('OrderShipped').length === 1, 'both brokers delivered');
      await until(() => plain.some((event) => (event.metadata as { event?: string } | undefined)?.event === 'OrderShipped'), 'the plain kafka:// subscriber got it');
      await barrier(actor);
      await barrier(onA);
      await barrier(onB);
      for (const page of [onA, onB]) assert.equal(page.named('OrderShipped'), [{ event: 'OrderShipped', channel: 'orders', data: { id: 'o1', carrier: 'DHL' } }]);
      assert.equal(actor.named('OrderShipped'), [], 'the socket named by toOthers, on broker B, was left out');
      assert.equal(
        plain.filter((event) => (event.metadata as { event?: string } | undefined)?.event === 'OrderShipped'),
        [{ data: { id: 'o1', carrier: 'DHL' }, metadata: { event: 'OrderShipped' } }],
        'once, with the name in metadata.event',
      );
      assert.equal(hooked, [], 'the events entered no broker');
    } finally {
      for (const client of clients) client.socket.close();
      await Promise.all([driver.close(), reader.close()]);
      await Promise.all(brokers.map((broker) => broker.stop()));
      await kafka.stop();
    }
  });
}

test.run();
