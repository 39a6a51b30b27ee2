// kafka:// at rest does not spin: kafkajs 2.2.4's request queue re-arms a
// timer with a negative delay whenever nothing is pending (tulios/kafkajs
// #1556), about a thousand wake-ups a second per connection doing nothing;
// loadKafkajs (transport/kafkajs-cluster.ts) stops that. Counted, not timed:
// the queue's checks over one idle second of a subscribed channel are those
// its fetches cause (a fetch every fetchWaitMs per leader), not a loop's.
// The CPU it saves is in bench/RESULTS.md.
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, startKafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel } from '../src/index.js';
import { uniqueTopic } from './helpers.js';

const test = suite('kafka transport at rest');

if (!kafkaServerAvailable()) {
  test.skip('(cc or librdkafka-dev not installed: no Kafka test server)', () => {});
} else {
  test("an idle subscribed channel's kafkajs request queues check only when there is something to check (no timer loop)", async () => {
    const server = await startKafkaServer();
    const channel = new EventChannel({ url: server.url, kafka: { ensureTopic: server.ensureTopic, fetchWaitMs: 100 } });
    // The class kafkajs's connections use (the same module instance the transport loaded).
    const RequestQueue = createRequire(import.meta.url)('kafkajs/src/network/requestQueue/index.js') as { prototype: { checkPendingRequests(): void } };
    const original = RequestQueue.prototype.checkPendingRequests;
    let checks = 0;
    try {
      const topic = uniqueTopic('idle');
      await channel.on(`${topic}.x`, () => {}).ready;
      await channel.emit(`${topic}.x`, 1, { ack: true });
      RequestQueue.prototype.checkPendingRequests = function (this: unknown) {
        checks++;
        original.call(this);
      };
      await new Promise((resolve) => setTimeout(resolve, 1000));
      // One fetch loop (one leader) at 100 ms: ~10 fetches, a check each; the loop made ~1,000 per connection.
      assert.ok(checks < 100, `${checks} queue checks in an idle second`);
    } finally {
      RequestQueue.prototype.checkPendingRequests = original;
      await channel.close();
      await server.stop();
    }
  });
}

test.run();
