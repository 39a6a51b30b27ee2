// The history stream's reader (transport/stream-reader.ts) on a real
// nats-server with JetStream: it stops only when closed. The faults are the
// library's own moves, made on the real consumer at the awkward moment: its
// messages ended under the reader (what nats.js does after 30 failed
// re-creations, a bad request or a lost subscription), and a restart whose
// requests are answered after a newer restart's.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import * as jetstreamModule from '@nats-io/jetstream';
import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient } from '@nats-io/jetstream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import type { EventwireError } from '../src/index.js';
import { StreamReader, streamRetryDelay } from '../src/transport/stream-reader.js';
import { until } from './helpers.js';

const available = natsServerAvailable();
const WAIT = 10_000;
const STREAM = 'READER_TEST';

interface Context {
  server: NatsServer;
  connection: NatsConnection;
  js: JetStreamClient;
}

const test = suite<Context>('stream reader: never left ended');

/**
 * The real client, with every messages object the reader's consumers
 * return recorded in `made`; `hold()` keeps the next consumer lookup
 * waiting until the returned function is called.
 */
function watched(js: JetStreamClient): { js: JetStreamClient; made: ConsumerMessages[]; hold: () => () => void } {
  const made: ConsumerMessages[] = [];
  let gate: Promise<void> | undefined;
  const get = async (...args: Parameters<JetStreamClient['consumers']['get']>) => {
    const held = gate;
    gate = undefined;
    if (held) await held;
    const consumer = await js.consumers.get(...args);
    const consume = consumer.consume.bind(consumer);
    consumer.consume = async (options) => {
      const messages = await consume(options);
      made.push(messages);
      return messages;
    };
    return consumer;
  };
  const consumers = new Proxy(js.consumers, { get: (target, key) => (key === 'get' ? get : Reflect.get(target, key)) });
  return {
    js: new Proxy(js, { get: (target, key) => (key === 'consumers' ? consumers : Reflect.get(target, key)) }),
    made,
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((resolve) => (release = resolve));
      return release;
    },
  };
}

/** Whether nats.js has ended these messages (its iterator's `done`). */
function ended(messages: ConsumerMessages): boolean {
  return (messages as unknown as { done: boolean }).done;
}

if (!available) {
  test.skip('(nats-server not installed: the stream reader tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.server = await startNatsServer({ jetstream: true });
    context.connection = await connect({ servers: context.server.url });
    const manager = await jetstreamManager(context.connection);
    await manager.streams.add({ name: STREAM, subjects: ['rd.>'] });
    context.js = jetstream(context.connection, { timeout: 3000 });
  });
  test.after(async (context) => {
    await context.connection.close();
    await context.server.stop();
  });

  test('retry delays are bounded (125 ms … 1 s) and never 0', () => {
    assert.equal([1, 2, 3, 4, 50].map((attempt) => streamRetryDelay(attempt, () => 0)), [125, 250, 500, 500, 500]);
    assert.equal([1, 2, 3, 4, 50].map((attempt) => streamRetryDelay(attempt, () => 0.999999)), [250, 500, 1000, 1000, 1000]);
  });

  for (const end of [{ how: 'with an error', error: new Error('injected: the library gave up on its consumer') }, { how: 'without one', error: undefined }]) {
    test(`messages the library ends (${end.how}) are made again: what is stored after arrives, once each, in order, and the end is reported`, async ({ js }) => {
      const subject = `rd.end${end.error ? 'e' : 'n'}`;
      const client = watched(js);
      const got: number[] = [];
      const failures: EventwireError[] = [];
      const reader = new StreamReader({
        module: jetstreamModule,
        js: client.js,
        stream: STREAM,
        subject,
        from: 'new',
        take: (message) => void got.push(message.json<number>()),
        failed: (error) => void failures.push(error),
      });
      try {
        await reader.start();
        await js.publish(subject, JSON.stringify(1));
        await until(() => got.length === 1, 'the first event', WAIT);
        // What PullConsumerMessagesImpl does when it gives up (stop(err)), or is drained (stop()).
        const first = client.made[0]!;
        assert.type((first as unknown as { stop: unknown }).stop, 'function', 'nats.js messages still end through stop()');
        (first as unknown as { stop: (error?: Error) => void }).stop(end.error);
        await until(() => ended(first), 'the library ended them', WAIT);
        for (let n = 2; n <= 5; n++) await js.publish(subject, JSON.stringify(n));
        await until(() => got.length === 5, 'the events stored after the end', WAIT);
        assert.equal(got, [1, 2, 3, 4, 5]);
        assert.equal(failures.map((error) => error.code), ['unavailable'], 'the end is reported once');
        assert.is(client.made.filter((messages) => !ended(messages)).length, 1, 'one reader reads');
      } finally {
        await reader.close();
      }
    });
  }

  test('a restart answered after a newer one is closed, not made the reader: one consumer reads, nothing twice', async ({ js }) => {
    const subject = 'rd.late';
    const client = watched(js);
    const got: number[] = [];
    const reader = new StreamReader({
      module: jetstreamModule,
      js: client.js,
      stream: STREAM,
      subject,
      from: 'new',
      take: (message) => void got.push(message.json<number>()),
      failed: () => {},
    });
    try {
      await reader.start();
      await js.publish(subject, JSON.stringify(1));
      await until(() => got.length === 1, 'the first event', WAIT);
      // The first restart's lookup waits (a slow JetStream answer); a second restart (the next reconnect) finishes meanwhile.
      const release = client.hold();
      const late = reader.restart();
      await reader.restart();
      assert.is(client.made.length, 2, 'the newer restart made its consumer');
      release();
      await late;
      assert.is(client.made.length, 3, 'the late restart made one too');
      assert.ok(ended(client.made[0]!), 'the first consumer was closed by the restart');
      assert.ok(!ended(client.made[1]!), 'the newer restart’s consumer reads');
      await until(() => ended(client.made[2]!), 'the late consumer closed', WAIT);
      await js.publish(subject, JSON.stringify(2));
      await until(() => got.length === 2, 'the next event', WAIT);
      assert.equal(got, [1, 2]);
    } finally {
      await reader.close();
    }
  });
}

test.run();
