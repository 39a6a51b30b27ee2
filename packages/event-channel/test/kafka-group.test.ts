// kafka:// with `group` (issue #34): channels in one Kafka consumer group
// share the records of their Kafka topics — each handled by one member —
// while a plain channel still gets every one. On librdkafka's mock cluster
// (scripts/testing/kafka-server.ts): a group's first join waits the
// broker's initial rebalance delay (~3 s) and a rejoin after a member
// leaves waits for the others' next heartbeat, so sessionTimeoutMs is 6 s
// and heartbeats every 500 ms here (the mock has no DescribeGroups, so the
// assignment is seen only through who receives what).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, startKafkaServer, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel, type EventwireError, type HistoryGap } from '../src/index.js';
import { KafkaTransport, type KafkaTransportOptions } from '../src/transport/kafka-transport.js';
import { expectCode, nextStatus, uniqueTopic, until, within, withKafkaServer } from './helpers.js';

const available = kafkaServerAvailable();
const test = suite<{ server: KafkaServer }>('kafka consumer groups');
/** A join: the broker's initial rebalance delay (3 s), or a rejoin bounded by the session timeout. */
// A join waits out the group's rebalance (session timeout 6 s, the mock's initial delay 3 s); bounded, with room for a loaded machine.
const JOIN_MS = 30_000;
const WAIT = 8000;
/** Keys (eventwire topics) spread over both partitions of a 2-partition Kafka topic by the default (murmur2) partitioner. */
const KEYS = 16;

function channel(server: KafkaServer, options: Partial<KafkaTransportOptions> = {}): EventChannel {
  return new EventChannel({
    transport: new KafkaTransport({
      url: server.url,
      backoff: () => 50,
      fetchWaitMs: 20,
      // Topics here are made by the test with 2 partitions.
      ensureTopic: async () => {},
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
      ...options,
    }),
    onError: () => {},
  });
}

interface Got {
  readonly topic: string;
  readonly n: number;
  readonly id: string;
}

/** Subscribes `on` to `pattern`, collecting what arrives. */
async function collect(on: EventChannel, pattern: string): Promise<Got[]> {
  const got: Got[] = [];
  await on.on(pattern, (data, event) => void got.push({ topic: event.topic, n: (data as { n: number }).n, id: event.id })).ready;
  return got;
}

/** Within each topic, `n` only grows (one partition per topic, read in order by whoever holds it). */
function inTopicOrder(got: readonly Got[]): boolean {
  const last = new Map<string, number>();
  for (const { topic, n } of got) {
    if ((last.get(topic) ?? -1) >= n) return false;
    last.set(topic, n);
  }
  return true;
}

const numbers = (got: readonly Got[]): number[] => got.map((each) => each.n).sort((a, b) => a - b);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, n) => from + n);

if (withKafkaServer(test, available)) {

  test('two members of one group share the work — each event once, in per-topic order, what was there before read with groupStart earliest — a plain channel gets all; a member closed, the other takes over its partitions from the committed offsets', async ({ server }) => {
    const root = uniqueTopic('grp');
    await server.createTopic(root, 2);
    const group = uniqueTopic('g');
    const publisher = channel(server);
    const plain = channel(server);
    const [a, b] = [channel(server, { group, groupStart: 'earliest' }), channel(server, { group, groupStart: 'earliest' })];
    try {
      const emit = async (from: number, to: number): Promise<void> => {
        for (let n = from; n < to; n++) await publisher.emit(`${root}.k${n % KEYS}`, { n }, { ack: true });
      };
      // Before any member: a new group with groupStart 'earliest' reads them.
      await emit(0, 10);
      const plainGot = await collect(plain, `${root}.#`);
      // Joined together: one generation, each member a partition (a join waits the initial rebalance delay).
      const [aGot, bGot] = await within(Promise.all([collect(a, `${root}.#`), collect(b, `${root}.#`)]), JOIN_MS, 'both members joined');
      await emit(10, 40);
      await until(() => aGot.length + bGot.length >= 40 && plainGot.length >= 30, '40 events at the group, 30 at the plain channel', WAIT);
      assert.equal(numbers([...aGot, ...bGot]), range(0, 40), 'each event handled by exactly one member');
      assert.ok(aGot.length > 0 && bGot.length > 0, `both members had a share (${aGot.length}/${bGot.length})`);
      assert.ok(inTopicOrder(aGot) && inTopicOrder(bGot), 'each share in per-topic order');
      assert.equal(numbers(plainGot), range(10, 40), 'the plain channel gets every event after its subscribe');

      // A leaves (closed: its offsets committed, its partitions handed on at the next rebalance).
      const bBefore = bGot.length;
      await a.close();
      const aFinal = aGot.length;
      await emit(40, 60);
      await until(() => bGot.length >= bBefore + 20 && plainGot.length >= 50, 'the 20 events after the close at the remaining member', JOIN_MS);
      assert.equal(numbers(bGot.slice(bBefore)), range(40, 60), 'everything after the close arrives at the remaining member, once, none handled before');
      assert.ok(inTopicOrder(bGot), 'in per-topic order across the takeover');
      assert.is(aGot.length, aFinal);
      assert.equal(numbers([...aGot, ...bGot]), range(0, 60), 'none lost, none twice: the closed member committed what it handled');
      assert.equal(numbers(plainGot), range(10, 60));
    } finally {
      await Promise.all([publisher.close(), plain.close(), a.close(), b.close()]);
    }
  });

  test("groupStart 'latest' (the default): a new group's position is fixed when its members' subscribes resolve — every event emitted after that arrives once, also on partitions a later member takes over", async ({ server }) => {
    const root = uniqueTopic('late');
    await server.createTopic(root, 2);
    const group = uniqueTopic('g');
    const publisher = channel(server);
    const [a, b] = [channel(server, { group }), channel(server, { group })];
    try {
      const emit = async (from: number, to: number): Promise<void> => {
        for (let n = from; n < to; n++) await publisher.emit(`${root}.k${n % KEYS}`, { n }, { ack: true });
      };
      await emit(0, 10);
      // A alone: both partitions, from their ends — nothing of the 10 before.
      const aGot = await within(collect(a, `${root}.#`), JOIN_MS, 'the first member joined');
      await emit(10, 20);
      await until(() => aGot.length >= 10, 'the 10 after the first join at the only member', WAIT);
      // B joins: a rebalance hands it a partition; emitted at once after its subscribe resolves.
      const bGot = await within(collect(b, `${root}.#`), JOIN_MS, 'the second member joined');
      await emit(20, 40);
      await until(() => aGot.length + bGot.length >= 30, 'the 30 after the first join across the group', WAIT);
      assert.equal(numbers([...aGot, ...bGot]), range(10, 40), 'none before the first join, every one after, once');
      assert.ok(inTopicOrder(aGot) && inTopicOrder(bGot), 'each share in per-topic order');
      // No since on a group channel: the group's committed offsets are its position (PROTOCOL.md §4.6).
      const gaps: HistoryGap[] = [];
      a.onGap((gap) => void gaps.push(gap));
      await a.on(`${root}.#`, () => {}, { since: 'earliest' }).ready;
      await until(() => gaps.length > 0, 'the gap of a since on a group channel', WAIT);
      assert.equal(gaps.map((gap) => gap.reason), ['no_history']);
    } finally {
      await Promise.all([publisher.close(), a.close(), b.close()]);
    }
  });

  test('Kafka away and back: a group member reports reconnecting, then open; what was produced meanwhile arrives once, from the committed offsets, with no gap', async () => {
    // A server of its own: every broker is taken down.
    await using server = await startKafkaServer();
    const root = uniqueTopic('gout');
    await server.createTopic(root, 2);
    const publisher = channel(server);
    const member = channel(server, { group: uniqueTopic('g') });
    try {
      const gaps: unknown[] = [];
      member.onGap((gap) => void gaps.push(gap));
      const got = await within(collect(member, `${root}.#`), JOIN_MS, 'the member joined');
      const emit = async (from: number, to: number): Promise<void> => {
        for (let n = from; n < to; n++) await publisher.emit(`${root}.k${n % KEYS}`, { n }, { ack: true });
      };
      await emit(0, 10);
      await until(() => got.length >= 10, 'the 10 before the outage', WAIT);
      const reconnecting = nextStatus(member, 'reconnecting', JOIN_MS);
      await server.down();
      assert.is((await reconnecting).state, 'reconnecting');
      // Held by the publisher while down, produced once Kafka is back.
      const sent = emit(10, 20);
      const open = nextStatus(member, 'open', 2 * JOIN_MS);
      await server.up();
      await open;
      await within(sent, WAIT, 'the held emits');
      await until(() => got.length >= 20, 'the 10 produced while the member was away', JOIN_MS);
      assert.equal(numbers(got), range(0, 20), 'each once');
      assert.ok(inTopicOrder(got));
      assert.equal(gaps, []);
    } finally {
      await Promise.all([publisher.close(), member.close()]);
    }
  });

  test('a group channel refuses a pattern with a wildcard first segment (invalid_pattern) and bad group options (invalid_config)', async ({ server }) => {
    const member = channel(server, { group: uniqueTopic('g') });
    try {
      await expectCode(() => member.on('#', () => {}).ready, 'invalid_pattern');
      await expectCode(() => member.on('*.made', () => {}).ready, 'invalid_pattern');
    } finally {
      await member.close();
    }
    for (const bad of [{ group: '' }, { group: 'g', groupStart: 'first' as 'earliest' }, { group: 'g', sessionTimeoutMs: 0 }]) {
      const error = await expectCode(() => channel(server, bad), 'invalid_config');
      assert.is((error as EventwireError).code, 'invalid_config');
    }
  });
}

test.run();
