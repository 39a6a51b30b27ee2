// nats:// against a real nats-server: the shared transport conformance suite,
// then what is NATS's own: the topic ↔ subject mapping (a trailing # is the
// parent subject and `>`, with no duplicates), interop with plain nats.js
// code both ways, a raw non-envelope message, toOthers, and a server restart
// with emits held in the outbox meanwhile.
import { connect } from '@nats-io/transport-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import { EventChannel, natsSubjectsFor, parseNatsUrl, type EventEnvelope, type EventwireError } from '../src/index.js';
import { collector, nextStatus, uniqueTopic, until, within } from './helpers.js';
import { runTransportSuite } from './transport-suite.js';

const available = natsServerAvailable();

if (available) {
  runTransportSuite('nats', async () => {
    const server = await startNatsServer();
    return { connect: () => new EventChannel({ url: server.url }), teardown: () => server.stop() };
  });
}

const test = suite<{ server: NatsServer }>('nats transport');

const WAIT = 3000;

test('subjects: dotted topics as they are, * as *, a trailing # as the parent and >', () => {
  assert.equal(natsSubjectsFor('order.created'), ['order.created']);
  assert.equal(natsSubjectsFor('order.*.shipped'), ['order.*.shipped']);
  assert.equal(natsSubjectsFor('order.#'), ['order', 'order.>']);
  assert.equal(natsSubjectsFor('#'), ['>']);
  assert.equal(parseNatsUrl('nats://a:4222,b:4223').servers, ['nats://a:4222', 'nats://b:4223']);
  assert.equal(parseNatsUrl('nats://ada:s%3Acret@h:1').credentials, { user: 'ada', pass: 's:cret' });
  assert.equal(parseNatsUrl('nats://tok@h:1').credentials, { token: 'tok' });
});

if (!available) {
  test.skip('(nats-server not installed: the NATS tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.server = await startNatsServer();
  });
  test.after(async (context) => {
    await context.server.stop();
  });

  test('a trailing # gets the topic itself and everything below, each once, even beside an overlapping *', async ({ server }) => {
    const root = uniqueTopic('n');
    const publisher = new EventChannel({ url: server.url });
    const subscriber = new EventChannel({ url: server.url });
    try {
      const all: string[] = [];
      const star: string[] = [];
      await subscriber.on(`${root}.#`, (_data, event) => void all.push(event.topic)).ready;
      await subscriber.on(`${root}.*`, (_data, event) => void star.push(event.topic)).ready;
      for (const topic of [root, `${root}.a`, `${root}.x.y`, `${root}other`, `${root}.end`]) await publisher.emit(topic, {});
      // One publisher's order holds per subscription: once .end is in, everything before it is.
      await until(() => all.includes(`${root}.end`) && star.includes(`${root}.end`), 'the last event on both patterns', WAIT);
      assert.equal(all, [root, `${root}.a`, `${root}.x.y`, `${root}.end`]);
      assert.equal(star, [`${root}.a`, `${root}.end`]);
      assert.is(subscriber.stats().received, 4, 'each event reached the channel once, though NATS sent some twice');
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('plain nats.js code and a channel understand each other; a raw message is reported, not a crash', async ({ server }) => {
    const topic = uniqueTopic('n');
    const errors: EventwireError[] = [];
    const channel = new EventChannel({ url: server.url, onError: (error) => errors.push(error) });
    const plain = await connect({ servers: server.url });
    try {
      // A plain subscriber with no eventwire code sees the envelope as JSON.
      const seen = plain.subscribe(topic, { max: 1 });
      await plain.flush();
      await channel.ready();
      const sent = await channel.emit(topic, { n: 1 }, { ack: true });
      for await (const message of seen) assert.equal(message.json(), sent);
      // An envelope published by plain nats.js reaches the channel; a non-envelope is counted and dropped.
      const got = collector<EventEnvelope>(1);
      await channel.on(topic, (_data, event) => got.push(event)).ready;
      plain.publish(topic, 'not json at all');
      plain.publish(topic, JSON.stringify({ hello: 'no envelope' }));
      const envelope = { id: '01J00000000000000000000000', topic, source: 'urn:plain-nats', time: new Date().toISOString(), data: { from: 'nats.js' } };
      plain.publish(topic, JSON.stringify(envelope));
      const [event] = await within(got.done, WAIT, 'the envelope from nats.js');
      assert.equal(event!.data, { from: 'nats.js' });
      assert.equal(errors.map((error) => error.code), ['invalid_envelope', 'invalid_envelope']);
      assert.is(channel.stats().invalid, 1, 'the JSON non-envelope counted by the channel (the non-JSON one by the transport)');
      assert.is(channel.status.state, 'open');
    } finally {
      await plain.close();
      await channel.close();
    }
  });

  test('toOthers leaves the emitting channel out; except names another channel by its connectionId', async ({ server }) => {
    const topic = uniqueTopic('n');
    const [ada, bob, carol] = [new EventChannel({ url: server.url }), new EventChannel({ url: server.url }), new EventChannel({ url: server.url })];
    try {
      const got: Record<string, string[]> = { ada: [], bob: [], carol: [] };
      await Promise.all(Object.entries({ ada, bob, carol }).map(([name, channel]) => channel.on(topic, (data) => void got[name]!.push((data as { n: string }).n)).ready));
      await ada.emit(topic, { n: 'others' }, { toOthers: true, ack: true });
      await ada.emit(topic, { n: 'not-bob' }, { except: bob.connectionId!, ack: true });
      await ada.emit(topic, { n: 'all' }, { ack: true });
      // 'all' is the publisher's last: once each has it, each has everything it will get.
      await until(() => Object.values(got).every((list) => list.includes('all')), 'everyone got the last', WAIT);
      assert.equal(got, { ada: ['not-bob', 'all'], bob: ['others', 'all'], carol: ['others', 'not-bob', 'all'] });
      // The plain header is on the wire for any NATS consumer to honour.
      const plain = await connect({ servers: server.url });
      const seen = plain.subscribe(topic, { max: 1 });
      await plain.flush();
      await ada.emit(topic, { n: 'h' }, { toOthers: true, ack: true });
      for await (const message of seen) assert.is(message.headers?.get('Eventwire-Except'), ada.connectionId);
      await plain.close();
    } finally {
      await Promise.all([ada.close(), bob.close(), carol.close()]);
    }
  });

  test('a server restart: reconnecting, then open with subscriptions live; emits made meanwhile are held and sent in order', async () => {
    const server = await startNatsServer();
    // One channel publishes to itself: on reconnect the client re-sends its
    // subscriptions before the outbox is flushed, on the same connection, so
    // the order is deterministic. (Across two connections NATS core promises
    // nothing for a subscriber that is not back yet: that is history's job.)
    const channel = new EventChannel({ url: server.url, nats: { reconnectTimeWaitMs: 50 } });
    const other = new EventChannel({ url: server.url, nats: { reconnectTimeWaitMs: 50 } });
    const topic = uniqueTopic('n');
    try {
      const got = collector<number>(3);
      await channel.on(topic, (data) => got.push((data as { n: number }).n)).ready;
      await other.on(topic, () => {}).ready;
      const down = nextStatus(channel, 'reconnecting');
      const otherDown = nextStatus(other, 'reconnecting');
      await server.stop();
      const reconnecting = await within(down, WAIT, 'reconnecting');
      assert.is(reconnecting.state === 'reconnecting' && reconnecting.error?.code, 'connection_closed');
      await within(otherDown, WAIT, 'the other reconnecting');
      const held = [1, 2, 3].map((n) => channel.emit(topic, { n }));
      const up = Promise.all([nextStatus(channel, 'open', 10_000), nextStatus(other, 'open', 10_000)]);
      await server.start();
      await within(up, 10_000, 'both open again');
      await within(Promise.all(held), WAIT, 'held emits sent');
      assert.equal(await within(got.done, WAIT, 'in order after the restart'), [1, 2, 3]);
      // And the other channel's subscription is live again too.
      const after = collector<unknown>(1);
      await other.on(topic, (data) => after.push(data)).ready;
      await channel.emit(topic, { n: 4 });
      await within(after.done, WAIT, 'delivery to the other after the restart');
    } finally {
      await Promise.all([channel.close(), other.close()]);
      await server.stop();
    }
  });

  test('a server that is not there yet: reconnecting with backoff until it is; close() while waiting ends at once', async () => {
    const server = await startNatsServer();
    await server.stop();
    const channel = new EventChannel({ url: server.url, nats: { backoff: () => 20 } });
    const waiting = await within(nextStatus(channel, 'reconnecting'), WAIT, 'reconnecting');
    assert.is(waiting.state === 'reconnecting' && waiting.error?.code, 'connection_closed');
    const open = nextStatus(channel, 'open', 10_000);
    await server.start();
    await within(open, 10_000, 'open once the server is up');
    await server.stop();
    const gone = new EventChannel({ url: 'nats://127.0.0.1:1', nats: { backoff: () => 20 } });
    await within(nextStatus(gone, 'reconnecting'), WAIT, 'reconnecting to nothing');
    await within(gone.close(), 1000, 'close while reconnecting');
    assert.is(gone.status.state, 'closed');
    await channel.close();
  });

  test('a topic NATS cannot carry is refused before anything is sent', async ({ server }) => {
    const channel = new EventChannel({ url: server.url });
    try {
      for (const topic of ['has space', 'a.>', 'tab\there', '']) {
        const error = await channel.emit(topic, {}).then(() => undefined, (failure: EventwireError) => failure);
        assert.is(error?.code, 'invalid_topic', topic);
      }
      const error = await Promise.resolve()
        .then(() => channel.on('a.>' as string, () => {}))
        .then(() => undefined, (failure: EventwireError) => failure);
      assert.is(error?.code, 'invalid_pattern');
    } finally {
      await channel.close();
    }
  });
}

test.run();
