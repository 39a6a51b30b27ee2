// kafka:// patterns whose first segment is a wildcard (`#`, `*.made`; issue
// #34): they read every Kafka topic of the channel and find the ones made
// after the subscribe with a Metadata poll every topicRefreshMs. A Kafka
// topic that existed at the subscribe is read from its end, one found later
// from the subscribe time — so an event arrives once, and nothing produced
// before the subscribe does. One mock cluster per test: a wildcard reads
// every topic there is.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel, type HistoryGap } from '../src/index.js';
import { KafkaTransport, type KafkaTransportOptions } from '../src/transport/kafka-transport.js';
import { nextStatus, uniqueTopic, until, within, withKafkaServer } from './helpers.js';

const available = kafkaServerAvailable();
const test = suite<{ server: KafkaServer }>('kafka transport: wildcard first segments');
const WAIT = 10_000;

function channel(server: KafkaServer, options: Partial<KafkaTransportOptions> = {}): EventChannel {
  return new EventChannel({ transport: new KafkaTransport({ url: server.url, backoff: () => 50, ensureTopic: server.ensureTopic, topicRefreshMs: 100, ...options }), onError: () => {} });
}

/** Collects data per pattern; `seen(text)` once it arrived. */
function recorder(): { readonly got: string[]; handler: (data: unknown) => void; seen: (text: string) => boolean } {
  const got: string[] = [];
  return { got, handler: (data) => void got.push(data as string), seen: (text) => got.includes(text) };
}

if (withKafkaServer(test, available, { each: true })) {

  test('# and *.made receive from a Kafka topic that existed and from one made after the subscribe, once each, and nothing produced before the subscribe', async ({ server }) => {
    const publisher = channel(server);
    const subscriber = channel(server);
    try {
      const existing = uniqueTopic('ex');
      await publisher.emit(`${existing}.made`, 'before', { ack: true });
      const all = recorder();
      const madeOnly = recorder();
      await subscriber.on('#', all.handler).ready;
      await subscriber.on('*.made', madeOnly.handler).ready;
      await publisher.emit(`${existing}.made`, 'e1', { ack: true });
      await publisher.emit(`${existing}.other`, 'e2', { ack: true });
      // Made now (the publisher's first emit creates it), read once the subscriber's poll finds it.
      const later = uniqueTopic('new');
      await publisher.emit(`${later}.made`, 'n1', { ack: true });
      await publisher.emit(`${later}.x`, 'n2', { ack: true });
      await until(() => all.seen('n2') && all.seen('e2') && madeOnly.seen('n1'), 'the later Kafka topic found and read', WAIT);
      // Markers: each Kafka topic is in order, so once they are in, nothing of it is still on its way.
      await publisher.emit(`${existing}.made`, 'e-end', { ack: true });
      await publisher.emit(`${later}.made`, 'n-end', { ack: true });
      await until(() => all.seen('e-end') && all.seen('n-end') && madeOnly.seen('e-end') && madeOnly.seen('n-end'), 'the markers', WAIT);
      assert.equal(all.got.filter((text) => text.startsWith('e')), ['e1', 'e2', 'e-end']);
      assert.equal(all.got.filter((text) => text.startsWith('n')), ['n1', 'n2', 'n-end']);
      assert.is(all.got.length, 6, `once each: ${all.got.join(',')}`);
      assert.equal(madeOnly.got.filter((text) => text.startsWith('e')), ['e1', 'e-end']);
      assert.equal(madeOnly.got.filter((text) => text.startsWith('n')), ['n1', 'n-end']);
      assert.is(madeOnly.got.length, 4, `once each: ${madeOnly.got.join(',')}`);
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('a literal pattern and # on one Kafka topic: each event once per pattern, also after the literal one is unsubscribed', async ({ server }) => {
    const publisher = channel(server);
    const subscriber = channel(server);
    try {
      const root = uniqueTopic('both');
      const literal = recorder();
      const all = recorder();
      const literalSub = subscriber.on(`${root}.#`, literal.handler);
      await literalSub.ready;
      await subscriber.on('#', all.handler).ready;
      await publisher.emit(`${root}.a`, 'one', { ack: true });
      await until(() => literal.seen('one') && all.seen('one'), 'one', WAIT);
      literalSub();
      await publisher.emit(`${root}.a`, 'two', { ack: true });
      await publisher.emit(`${root}.a`, 'end', { ack: true });
      await until(() => all.seen('end'), 'end', WAIT);
      assert.equal(literal.got, ['one']);
      assert.equal(all.got, ['one', 'two', 'end']);
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('Kafka away and back: # resumes the Kafka topics it read and finds one made while this channel was away, from the subscribe time, with no gap', async ({ server }) => {
    const other = channel(server);
    // The next attempt comes 2 s after the loss: the other channel is back and produces in between.
    const away = channel(server, { backoff: () => 2000 });
    try {
      const old = uniqueTopic('old');
      await other.emit(`${old}.x`, 'before', { ack: true });
      // A reader, so the other channel learns of the outage from its fetch (a channel that only publishes learns from its next produce).
      await other.on(`${old}.y`, () => {}).ready;
      const all = recorder();
      const gaps: HistoryGap[] = [];
      away.onGap((gap) => void gaps.push(gap));
      await away.on('#', all.handler).ready;
      await other.emit(`${old}.x`, 'o1', { ack: true });
      await until(() => all.seen('o1'), 'o1', WAIT);
      const down = Promise.all([nextStatus(away, 'reconnecting'), nextStatus(other, 'reconnecting')]);
      await server.down();
      await within(down, WAIT, 'both reconnecting');
      const otherOpen = nextStatus(other, 'open', WAIT);
      const awayOpen = nextStatus(away, 'open', WAIT);
      await server.up();
      await within(otherOpen, WAIT, 'the other channel open again');
      const fresh = uniqueTopic('fresh');
      await other.emit(`${old}.x`, 'o2', { ack: true });
      await other.emit(`${fresh}.x`, 'f1', { ack: true });
      assert.is.not(away.status.state, 'open', 'produced while this channel was still away');
      await within(awayOpen, WAIT, 'open again');
      await other.emit(`${fresh}.x`, 'f2', { ack: true });
      await until(() => all.seen('o2') && all.seen('f2'), 'o2 and f2', WAIT);
      assert.equal(all.got.filter((text) => text.startsWith('o') || text === 'before'), ['o1', 'o2']);
      assert.equal(all.got.filter((text) => text.startsWith('f')), ['f1', 'f2']);
      assert.equal(gaps, []);
    } finally {
      await Promise.all([away.close(), other.close()]);
    }
  });
}

test.run();
