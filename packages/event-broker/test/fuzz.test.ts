// Property: no sequence of hostile frames takes down the broker, the
// connection that sent them, or anyone else's delivery.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RawClient, startBroker } from './helpers.js';

const test = suite('fuzz: hostile native frames');

const topicish = fc.oneof(
  fc.constantFrom('a', 'a.b', 'a.*', 'a.#', '#', '*', '', '.', 'a..b', 'a.#.b', 'x'.repeat(300), 'constructor', '__proto__'),
  fc.string({ maxLength: 20 }),
);
const value = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined));
const envelopeish = fc.record(
  { id: value, topic: fc.oneof(topicish, value), source: value, time: value, data: value, metadata: value, offset: value },
  { requiredKeys: [] },
);
const frame = fc.oneof(
  fc.string({ maxLength: 200 }), // raw text, mostly not JSON
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        type: fc.oneof(fc.constantFrom('hello', 'subscribe', 'unsubscribe', 'publish', 'ping', 'resume', 'history', 'event', 'welcome'), fc.string({ maxLength: 8 }), value),
        id: fc.oneof(fc.integer(), fc.string({ maxLength: 70 }), value),
        pattern: fc.oneof(topicish, value),
        protocol: fc.oneof(fc.constant(1), value),
        event: fc.oneof(envelopeish, value),
        // resume / history
        patterns: fc.oneof(fc.array(topicish, { maxLength: 5 }), value),
        since: fc.oneof(fc.constantFrom('earliest', 'x:1', ':', 'a:-1', 'a:1e3', '01J:99999999999999999999'), fc.string({ maxLength: 12 }), value),
        last: fc.oneof(fc.integer({ min: -5, max: 5000 }), value),
        limit: fc.oneof(fc.integer({ min: -5, max: 5000 }), value),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
);

test('random frames get answers or errors; the connection and the broker keep working', async () => {
  // With history on, so resume and history frames reach real stores.
  const server = await startBroker({ maxSubscriptionsPerConnection: 50, history: [{ pattern: 'a.#' }, { pattern: 'health.#', maxEvents: 10 }] });
  const watcher = await RawClient.native(server.url);
  watcher.send({ type: 'subscribe', id: 'w', pattern: 'health.#' });
  await watcher.next((f) => f['id'] === 'w');
  const publisher = await RawClient.native(server.url);
  let round = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 1, maxLength: 40 }), async (frames) => {
        round++;
        const client = await RawClient.native(server.url);
        try {
          for (const text of frames) client.send(text);
          // The connection survived and processed everything in order: the ping comes back.
          client.send({ type: 'ping', id: `alive-${round}` });
          const pong = await client.next((f) => f['type'] === 'pong' && f['id'] === `alive-${round}`, 5000);
          assert.ok(pong);
          for (const answer of client.received) assert.type(answer['type'], 'string');
        } finally {
          client.close();
        }
        // And the broker still routes for everyone else.
        publisher.send({
          type: 'publish',
          id: `h${round}`,
          event: { id: `h${round}`, topic: 'health.check', source: 'fuzz', time: new Date().toISOString(), data: round },
        });
        const delivered = await watcher.next((f) => f['type'] === 'event' && (f['event'] as { data: number }).data === round);
        assert.ok(delivered);
      }),
      { numRuns: 150 },
    );
  } finally {
    watcher.close();
    publisher.close();
    await server.stop();
  }
});

// The Pusher surface: its own frames, hostile. Every answer is a Pusher
// frame with an event name; a ping after them still comes back.
const pusherChannel = fc.oneof(
  fc.constantFrom('orders', 'private-a', 'presence-room.1', 'private-encrypted-x', '#server-to-user-1', 'a..b', '', 'x'.repeat(250), 'bad channel', '__proto__'),
  fc.string({ maxLength: 20 }),
);
const pusherFrame = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        event: fc.oneof(
          fc.constantFrom('pusher:subscribe', 'pusher:unsubscribe', 'pusher:ping', 'pusher:pong', 'pusher:signin', 'client-x', 'pusher_internal:member_added', 'pusher:error'),
          fc.string({ maxLength: 12 }),
          value,
        ),
        channel: fc.oneof(pusherChannel, value),
        data: fc.oneof(
          fc.record(
            { channel: fc.oneof(pusherChannel, value), auth: fc.oneof(fc.string({ maxLength: 80 }), value), channel_data: fc.oneof(fc.string({ maxLength: 80 }), value), user_data: value },
            { requiredKeys: [] },
          ),
          fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
          value,
        ),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
);

test('random Pusher frames get pusher:error or their answers; the socket and the broker keep working', async () => {
  const server = await startBroker({ pusher: true, maxSubscriptionsPerConnection: 50 });
  server.broker.channel('presence-room.{id}', () => ({ name: 'x' }));
  const watcher = await RawClient.open(`${server.url}/app/app-key?protocol=7`);
  await watcher.next((f) => f['event'] === 'pusher:connection_established');
  watcher.send({ event: 'pusher:subscribe', data: { channel: 'health' } });
  await watcher.next((f) => f['event'] === 'pusher_internal:subscription_succeeded');
  let round = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(pusherFrame, { minLength: 1, maxLength: 40 }), async (frames) => {
        round++;
        const client = await RawClient.open(`${server.url}/app/app-key?protocol=7`);
        try {
          await client.next((f) => f['event'] === 'pusher:connection_established');
          for (const text of frames) client.send(text);
          client.send({ event: 'pusher:ping', data: {} });
          assert.ok(await client.next((f) => f['event'] === 'pusher:pong', 5000));
          for (const answer of client.received) assert.type(answer['event'], 'string');
        } finally {
          client.close();
        }
        await server.broker.publish('health' as never, round as never);
        assert.ok(await watcher.next((f) => f['event'] === 'health' && JSON.parse(f['data'] as string) === round));
      }),
      { numRuns: 100 },
    );
  } finally {
    watcher.close();
    await server.stop();
  }
});

test.run();
