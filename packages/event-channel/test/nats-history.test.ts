// nats:// with history: three nats-server processes with JetStream, routed
// together, and the stream a broker cluster keeps (EVENTWIRE_HISTORY,
// replicated on all three). Patterns the stream covers are read from it:
// every event carries its offset (the brokers' epoch), a channel whose
// server dies gets what was stored while it reconnected, once and in order,
// and `on(…, { since })` reads the stream. Patterns it does not cover stay
// on core NATS.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsCluster, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import { EventChannel, type EventEnvelope, type EventwireError, type HistoryGap } from '../src/index.js';
import { HISTORY_STREAM, historyEpoch } from '../src/protocol/index.js';
import { uniqueTopic, until } from './helpers.js';

const available = natsServerAvailable();
const WAIT = 15_000;
/** After a nats-server is killed the others take several seconds to notice and elect new JetStream leaders. */
const WAIT_AFTER_LOSS = 30_000;

interface Context {
  servers: NatsServer[];
  admin: NatsConnection;
  manager: JetStreamManager;
  epoch: string;
}

const test = suite<Context>('nats transport: history from JetStream');

/** An acknowledged emit (stored in JetStream), again while the stream is between leaders. */
async function store(channel: EventChannel, topic: string, data: unknown): Promise<void> {
  const deadline = Date.now() + WAIT_AFTER_LOSS;
  for (;;) {
    try {
      await channel.emit(topic, data, { ack: true });
      return;
    } catch (error) {
      if (Date.now() > deadline || (error as EventwireError).code !== 'unavailable') throw error;
    }
  }
}

if (!available) {
  test.skip('(nats-server not installed: the NATS history tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.servers = await startNatsCluster(3, { jetstream: true });
    context.admin = await connect({ servers: context.servers.map((server) => server.url) });
    // A NATS cluster elects its JetStream leader after it starts: until then the API times out.
    const deadline = Date.now() + WAIT;
    for (;;) {
      try {
        context.manager = await jetstreamManager(context.admin, { timeout: 1000 });
        const info = await context.manager.streams.add({ name: HISTORY_STREAM, subjects: ['hist', 'hist.>'], num_replicas: 3 });
        context.epoch = await historyEpoch(info.config.name, info.created);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  });
  test.after(async (context) => {
    await context.admin.close();
    await Promise.all(context.servers.map((server) => server.stop()));
  });

  test('covered patterns read the stream: each event once (overlapping patterns too), with the cluster epoch’s offset', async ({ servers, epoch }) => {
    const root = uniqueTopic('hist.r');
    const subscriber = new EventChannel({ url: servers[0]!.url });
    const publisher = new EventChannel({ url: servers[1]!.url });
    try {
      const got: EventEnvelope[] = [];
      await subscriber.on(`${root}.#`, (_data, event) => void got.push(event)).ready;
      await subscriber.on(`${root}.*`, () => {}).ready;
      for (const topic of [`${root}.a`, `${root}.b.c`, `${root}.d`]) await publisher.emit(topic, { topic }, { ack: true });
      await until(() => got.length >= 3, 'three events', WAIT);
      assert.equal(got.map((event) => event.topic), [`${root}.a`, `${root}.b.c`, `${root}.d`], 'in order');
      assert.is(subscriber.stats().received, 3, 'each reached the channel once, though two patterns match two of them');
      const seqs = got.map((event) => Number(event.offset!.split(':')[1]));
      for (const event of got) assert.ok(event.offset!.startsWith(`${epoch}:`), `offset ${event.offset} in the stream's epoch`);
      assert.ok(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, 'offsets rise');
    } finally {
      await Promise.all([subscriber.close(), publisher.close()]);
    }
  });

  test('on(…, { since }): after an offset, earliest, the last n, and another epoch as an `epoch` gap; then live, nothing twice', async ({ servers }) => {
    const root = uniqueTopic('hist.r');
    const publisher = new EventChannel({ url: servers[1]!.url });
    const readers: EventChannel[] = [];
    const reader = (): EventChannel => {
      const channel = new EventChannel({ url: servers[2]!.url });
      readers.push(channel);
      return channel;
    };
    try {
      const offsets: string[] = [];
      const recorder = reader();
      await recorder.on(`${root}.#`, (_data, event) => void offsets.push(event.offset!)).ready;
      for (let n = 1; n <= 5; n++) await store(publisher, `${root}.m`, n);
      await until(() => offsets.length === 5, 'five offsets', WAIT);

      const after: number[] = [];
      await reader().on(`${root}.#`, (n) => void after.push(n as number), { since: offsets[2]! }).ready;
      const earliest: number[] = [];
      await reader().on(`${root}.#`, (n) => void earliest.push(n as number), { since: 'earliest' }).ready;
      const last: number[] = [];
      await reader().on(`${root}.#`, (n) => void last.push(n as number), { since: { last: 2 } }).ready;
      const other: number[] = [];
      const gaps: HistoryGap[] = [];
      const stranger = reader();
      stranger.onGap((gap) => void gaps.push(gap));
      await stranger.on(`${root}.#`, (n) => void other.push(n as number), { since: 'SOMEOTHEREPOCH00:3' }).ready;
      await until(() => after.length >= 2 && earliest.length >= 5 && last.length >= 2 && other.length >= 5, 'the replays', WAIT);
      await store(publisher, `${root}.m`, 6);
      await until(() => after.includes(6) && earliest.includes(6) && last.includes(6) && other.includes(6), 'live after the replay', WAIT);
      assert.equal(after, [4, 5, 6]);
      assert.equal(earliest, [1, 2, 3, 4, 5, 6]);
      assert.equal(last, [4, 5, 6]);
      assert.equal(other, [1, 2, 3, 4, 5, 6]);
      assert.equal(gaps.map((gap) => gap.reason), ['epoch']);
    } finally {
      await Promise.all([publisher.close(), ...readers.map((channel) => channel.close())]);
    }
  });

  test('patterns the stream does not cover stay on core NATS (no offset; `since` is a `no_history` gap); history: false turns it off', async ({ servers }) => {
    const root = uniqueTopic('hist.r');
    const outside = uniqueTopic('plain');
    const channel = new EventChannel({ url: servers[1]!.url });
    const coreOnly = new EventChannel({ url: servers[2]!.url, nats: { history: false } });
    try {
      const got: EventEnvelope[] = [];
      const gaps: HistoryGap[] = [];
      channel.onGap((gap) => void gaps.push(gap));
      await channel.on(`${outside}.#`, (_data, event) => void got.push(event), { since: 'earliest' }).ready;
      const fromCore: EventEnvelope[] = [];
      await coreOnly.on(`${root}.#`, (_data, event) => void fromCore.push(event)).ready;
      await channel.emit(`${outside}.x`, 1, { ack: true });
      await channel.emit(`${root}.x`, 2, { ack: true });
      await until(() => got.length === 1 && fromCore.length === 1, 'both', WAIT);
      assert.is(got[0]!.offset, undefined, 'core NATS: no offset');
      assert.is(fromCore[0]!.offset, undefined, 'history: false reads core NATS');
      assert.equal(gaps.map((gap) => gap.reason), ['no_history']);
    } finally {
      await Promise.all([channel.close(), coreOnly.close()]);
    }
  });

  test('a stream subscribe that cannot be set up is refused `unavailable`, and the next subscribe of the pattern tries again', async () => {
    const server = await startNatsServer({ jetstream: true });
    const admin = await connect({ servers: server.url });
    const channel = new EventChannel({ url: server.url });
    try {
      const manager = await jetstreamManager(admin);
      await manager.streams.add({ name: HISTORY_STREAM, subjects: ['solo', 'solo.>'] });
      await channel.ready();
      // The channel found the stream on connect; it is gone before the subscribe.
      await manager.streams.delete(HISTORY_STREAM);
      const refused = await channel.on('solo.x', () => {}).ready.then(
        () => undefined,
        (error: EventwireError) => error.code,
      );
      assert.is(refused, 'unavailable');
      await manager.streams.add({ name: HISTORY_STREAM, subjects: ['solo', 'solo.>'] });
      const got: unknown[] = [];
      await channel.on('solo.x', (data) => void got.push(data)).ready;
      await channel.emit('solo.x', 'after', { ack: true });
      await until(() => got.length === 1, 'delivery on the second subscribe', WAIT);
    } finally {
      await channel.close();
      await admin.close();
      await server.stop();
    }
  });

  test('its server dies: what was stored while the channel reconnected arrives after, once each, in order', async ({ servers }) => {
    const root = uniqueTopic('hist.r');
    const subscriber = new EventChannel({ url: servers[0]!.url, nats: { reconnectTimeWaitMs: 100 } });
    const publisher = new EventChannel({ url: servers[1]!.url });
    try {
      const got: number[] = [];
      await subscriber.on(`${root}.n`, (n) => void got.push(n as number)).ready;
      await publisher.emit(`${root}.n`, 0, { ack: true });
      await until(() => got.length === 1, 'the first event', WAIT);
      await servers[0]!.kill();
      // Stored by the two servers left (a quorum of three), each acknowledged by JetStream.
      for (let n = 1; n <= 20; n++) await store(publisher, `${root}.n`, n);
      await until(() => got.length === 21, 'all 21 after the reconnect', WAIT_AFTER_LOSS);
      assert.equal(got, Array.from({ length: 21 }, (_, n) => n));
    } finally {
      // Last, and not started again: its ports may have gone to other sockets meanwhile.
      await Promise.all([subscriber.close(), publisher.close()]);
    }
  });
}

test.run();
