// Issue #29, item 4, on the pub/sub transports: an acknowledged emit settles
// within `requestTimeoutMs` of its emit call whatever the connection does.
// A publisher on redis:// (and nats://) emits acknowledged events at a steady
// rate while the server stops for three times the bound and comes back on its port
// (the ws:// case is event-broker's test/faults/ack-deadline.test.ts; the
// mechanism is the same outbox). Checked: every emit settled within the bound
// (plus scheduling slack), none pending, only `timeout` as a failure; emits
// once the publisher is open again are acknowledged; emits held through their
// whole bound are never delivered; a subscriber gets no event twice, and
// every acknowledged one made while both were connected.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer } from '../../../../scripts/testing/nats-server.js';
import { redisServerAvailable, startRedisServer } from '../../../../scripts/testing/redis-server.js';
import { EventChannel, type ChannelStatus } from '../../src/index.js';
import { until, within } from '../helpers.js';
import { AckProbe, DeliveryCount } from './ack-probe.js';

const BOUND_MS = 500;
/** Timers on a shared, loaded machine fire late; this is that lateness, not part of the bound. */
const SLACK_MS = 400;
const EMIT_EVERY_MS = 2;

/** A server the test can stop and start again on the same port. */
interface Server {
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

interface Case {
  readonly name: string;
  readonly available: () => boolean;
  readonly startServer: () => Promise<Server>;
  /** A channel reconnecting quickly; `requestTimeoutMs` for the publisher. */
  readonly connect: (url: string, requestTimeoutMs?: number) => EventChannel;
  /** Failures besides `timeout`: on nats:// a core publish whose round trip the drop cut fails `connection_closed` (outcome unknown). */
  readonly alsoFails?: readonly string[];
}

const cases: readonly Case[] = [
  {
    name: 'redis',
    available: redisServerAvailable,
    startServer: startRedisServer,
    connect: (url, requestTimeoutMs) => new EventChannel({ url, redis: { backoff: () => 20, ...(requestTimeoutMs !== undefined && { requestTimeoutMs }) } }),
  },
  {
    name: 'nats',
    available: natsServerAvailable,
    startServer: () => startNatsServer(),
    connect: (url, requestTimeoutMs) => new EventChannel({ url, nats: { reconnectTimeWaitMs: 20, ...(requestTimeoutMs !== undefined && { requestTimeoutMs }) } }),
    alsoFails: ['connection_closed'],
  },
];

/** performance.now() of every `open` a channel reports. */
function opens(channel: EventChannel): number[] {
  const opened: number[] = [];
  channel.onStatus((status: ChannelStatus) => {
    if (status.state === 'open') opened.push(performance.now());
  });
  return opened;
}

for (const fault of cases) {
  if (!fault.available()) continue;
  const test = suite<{ server: Server }>(`acknowledged emits settle within requestTimeoutMs (${fault.name}://, faults)`);
  test.before(async (context) => {
    context.server = await fault.startServer();
  });
  test.after(async (context) => {
    await context.server?.stop();
  });
  test('the server stops for three times the bound and comes back on its port', async ({ server }) => {
    const delivered = new DeliveryCount();
    const subscriber = fault.connect(server.url);
    const subscriberOpened = opens(subscriber);
    subscriber.on('fault.#', (data) => delivered.add((data as { seq: number }).seq));
    const publisher = fault.connect(server.url, BOUND_MS);
    const publisherOpened = opens(publisher);
    const probe = new AckProbe();
    try {
      await within(Promise.all([subscriber.ready(), publisher.ready()]), 3000, 'both channels');
      probe.start((seq) => publisher.emit('fault.tick', { seq }, { ack: true }), EMIT_EVERY_MS);
      await until(() => probe.count('acked') >= 50, 'acknowledged emits before the fault', 5000);
      await server.stop();
      const stoppedAt = performance.now();
      await until(() => probe.count('timeout') >= 100 && performance.now() - stoppedAt > 3 * BOUND_MS, 'emits timing out during the outage', 10_000);
      await server.start();
      const restartedAt = performance.now();
      const bothOpenSince = (): number => Math.max(publisherOpened.at(-1)!, subscriberOpened.at(-1)!);
      await until(
        () => publisherOpened.some((at) => at > restartedAt) && subscriberOpened.some((at) => at > restartedAt) && probe.ackedSince(bothOpenSince()) >= 50,
        'acknowledged emits after the restart',
        5000,
      );
      probe.stop();
      await probe.settle(BOUND_MS + SLACK_MS);

      assert.equal(probe.pending.map((record) => record.seq), [], 'no emit is left pending');
      assert.equal(probe.unexpected(['acked', 'timeout', ...(fault.alsoFails ?? [])]), {}, 'only acks and timeouts');
      const slow = probe.slowerThan(BOUND_MS + SLACK_MS);
      assert.equal(slow.length, 0, `${slow.length} of ${probe.records.length} emits settled later than ${BOUND_MS} + ${SLACK_MS} ms (slowest ${Math.round(probe.slowestMs)} ms; after the stop: ${probe.describe(slow, stoppedAt)})`);
      const reopenedAt = publisherOpened.at(-1)!;
      assert.equal(
        probe.records.filter((record) => record.startedAt > reopenedAt && record.outcome !== 'acked').map((record) => record.seq),
        [],
        'every emit after the reconnect is acknowledged',
      );
      // Held from a moment after the stop (the client has seen the close by then) through their whole bound.
      const expired = probe.records.filter((record) => record.startedAt > stoppedAt + 100 && record.startedAt + BOUND_MS < restartedAt);
      assert.ok(expired.length > 0);
      assert.equal(expired.filter((record) => record.outcome !== 'timeout').map((record) => record.seq), [], 'held emits time out');
      // Neither server keeps anything for a subscriber that was away: what both were connected for must arrive.
      const wanted = probe.records.filter((record) => record.outcome === 'acked' && (record.startedAt < stoppedAt - 50 || record.startedAt > bothOpenSince()));
      await until(() => wanted.every((record) => delivered.has(record.seq)), 'the subscriber has every acknowledged event made while both were connected', 5000);
      assert.equal(expired.filter((record) => delivered.has(record.seq)).map((record) => record.seq), [], 'no held emit was sent after its caller was told it failed');
      assert.equal(delivered.duplicates, [], 'no event delivered twice');
    } finally {
      probe.stop();
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test.run();
}
