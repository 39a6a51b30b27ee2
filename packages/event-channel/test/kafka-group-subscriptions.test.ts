// kafka:// with `group` (issue #34): a subscribe or unsubscribe that changes
// the Kafka topics a member reads restarts its consumer (kafkajs subscribes
// before run and cannot drop a topic) — subscribe resolves once the group is
// joined with the new list; an unsubscribe rejoins without the dropped topic.
// On librdkafka's mock cluster (scripts/testing/kafka-server.ts); each
// restart is a rejoin of the group (~3 s there).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel } from '../src/index.js';
import { KafkaTransport, type KafkaTransportOptions } from '../src/transport/kafka-transport.js';
import { uniqueTopic, until, within, withKafkaServer } from './helpers.js';

const available = kafkaServerAvailable();
const test = suite<{ server: KafkaServer }>('kafka consumer groups: subscriptions changed while running');
// A join waits out the group's rebalance (session timeout 6 s, the mock's initial delay 3 s); bounded, with room for a loaded machine.
const JOIN_MS = 30_000;
const WAIT = 8000;

function channel(server: KafkaServer, options: Partial<KafkaTransportOptions> = {}): EventChannel {
  return new EventChannel({
    transport: new KafkaTransport({ url: server.url, backoff: () => 50, fetchWaitMs: 20, ensureTopic: server.ensureTopic, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, ...options }),
    onError: () => {},
  });
}

if (withKafkaServer(test, available)) {

  test('a member adds a Kafka topic, then drops one: the subscribe is live when it resolves; the other topic still read across the rejoin without the dropped one', async ({ server }) => {
    const [first, second] = [uniqueTopic('ga'), uniqueTopic('gb')];
    const publisher = channel(server);
    const member = channel(server, { group: uniqueTopic('g') });
    try {
      const got: string[] = [];
      const handler = (data: unknown, event: { topic: string }): void => void got.push(`${event.topic}:${String(data)}`);
      const offFirst = member.on(`${first}.#`, handler);
      await within(offFirst.ready, JOIN_MS, 'the first join');
      await publisher.emit(`${first}.x`, 1, { ack: true });
      await until(() => got.length === 1, 'the first topic read', WAIT);
      // Another Kafka topic: a new consumer with both, joined before the subscribe resolves.
      await within(member.on(`${second}.#`, handler).ready, JOIN_MS, 'the rejoin with the second topic');
      await publisher.emit(`${first}.x`, 2, { ack: true });
      await publisher.emit(`${second}.y`, 3, { ack: true });
      await until(() => got.length === 3, 'both topics read after the rejoin', WAIT);
      assert.equal([...got].sort(), [`${first}.x:1`, `${first}.x:2`, `${second}.y:3`]);
      // The first dropped (a rejoin without it, in the background): the second still read, across that rejoin.
      offFirst();
      await publisher.emit(`${first}.x`, 4, { ack: true });
      for (let n = 5; n < 10; n++) await publisher.emit(`${second}.y`, n, { ack: true });
      await until(() => got.length >= 8, 'the second topic still read', JOIN_MS);
      assert.equal(got.slice(3), [5, 6, 7, 8, 9].map((n) => `${second}.y:${n}`));
    } finally {
      await Promise.all([publisher.close(), member.close()]);
    }
  });
}

test.run();
