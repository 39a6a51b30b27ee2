// The test kit (@eventwire/event-broker/testing) on virtual time: the real
// broker and real ws:// channels over in-process pipes, with every timer,
// Date and performance.now() on a clock the test moves. Each case is a
// fault or a deadline a real-socket test would wait for in real time.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SignJWT } from 'jose';
import { z } from 'zod';
import { defineEvents, type ChannelStatus, type EventEnvelope, type HistoryGap } from '@eventwire/event-channel';
import { createTestHub, type TestHub } from '../src/testing/index.js';
import { rejectionCodeOf } from './helpers.js';

const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'order.shipped': z.object({ id: z.string() }),
  'fraud.review': z.object({ orderId: z.string() }),
});

const test = suite('test hub, virtual time');

/** Runs `body` with a hub, closing it whatever happens. */
async function withHub(options: Parameters<typeof createTestHub<typeof shop>>[0], body: (hub: TestHub<typeof shop>) => Promise<void>): Promise<void> {
  const hub = await createTestHub<typeof shop>(options);
  try {
    await body(hub);
  } finally {
    await hub.close();
  }
}

test('channels connect, emit with acks and are routed with no socket; the clock starts where asked and is given back', async () => {
  const started = Date.now();
  await withHub({ config: { events: shop }, clock: { now: Date.UTC(2030, 0, 1) } }, async (hub) => {
    const orders = hub.channel({ source: 'orders' });
    const reader = hub.channel({ source: 'reader' });
    const got: EventEnvelope[] = [];
    await reader.on('order.created', (_data, event) => void got.push(event)).ready;
    await orders.emit('order.created', { id: 'o1', total: 5 }, { ack: true });
    const routed = await hub.next('order.created');
    assert.equal(routed.data, { id: 'o1', total: 5 });
    assert.is(routed.source, 'orders');
    assert.is(routed.time, '2030-01-01T00:00:00.000Z', 'Date is the hub clock');
    await hub.settle();
    assert.equal(got.map((event) => event.data), [{ id: 'o1', total: 5 }]);
    assert.is(hub.broker.address, undefined, 'nothing listens');
    assert.is(hub.broker.stats().connections.native, 2);
    assert.is(hub.now, Date.UTC(2030, 0, 1), 'no time passed');
  });
  assert.ok(Date.now() >= started, 'real Date again after close');
  assert.ok(Math.abs(performance.now() - process.uptime() * 1000) < 60_000, 'real performance.now again');
});

test("a hook's refusal reaches the emitter as `rejected`; setup hooks emit derived events the hub sees", async () => {
  const config = {
    events: shop,
    setup(broker: import('../src/server.js').EventBrokerServer<typeof shop>) {
      broker.intercept('order.created', (event, ctx) => {
        if (event.data.total <= 0) ctx.reject('total must be positive');
      });
      broker.observe('order.created', (event, ctx) => {
        if (event.data.total >= 1000) ctx.emit('fraud.review', { orderId: event.data.id });
      });
    },
  };
  await withHub({ config }, async (hub) => {
    const orders = hub.channel();
    assert.is(await rejectionCodeOf(orders.emit('order.created', { id: 'o0', total: 0 }, { ack: true })), 'rejected');
    await orders.emit('order.created', { id: 'o1', total: 5000 }, { ack: true });
    const review = await hub.next('fraud.review');
    assert.equal(review.data, { orderId: 'o1' });
    assert.equal(hub.emitted('order.#').map((event) => event.data.id), ['o1'], 'the refused one was never routed');
  });
});

test("an acknowledged emit's deadline fires at exactly its bound of virtual time (performance.now is virtual too)", async () => {
  const config = {
    events: shop,
    interceptTimeoutMs: 60_000,
    setup(broker: import('../src/server.js').EventBrokerServer<typeof shop>) {
      broker.intercept('order.created', () => new Promise<void>(() => {})); // never answers
    },
  };
  await withHub({ config }, async (hub) => {
    const orders = hub.channel({ ws: { requestTimeoutMs: 500 } });
    await orders.ready();
    let outcome: string | undefined | 'pending' = 'pending';
    const emitted = orders.emit('order.created', { id: 'o1', total: 5 }, { ack: true });
    void rejectionCodeOf(emitted).then((code) => (outcome = code));
    await hub.advance(499);
    assert.is(outcome, 'pending', 'not before its bound');
    await hub.advance(1);
    assert.is(outcome, 'timeout', 'at its bound');
  });
});

test('a connection cut by the broker reconnects at its backoff of virtual time and resumes: every event once, in order, no gap', async () => {
  await withHub({ config: { events: shop, history: [{ pattern: 'order.#', maxEvents: 100 }] } }, async (hub) => {
    const publisher = hub.channel();
    const reader = hub.channel({ ws: { backoff: () => 1000 } });
    const ids: string[] = [];
    const gaps: HistoryGap[] = [];
    const states: ChannelStatus['state'][] = [];
    reader.onGap((gap) => gaps.push(gap));
    reader.onStatus((status) => states.push(status.state));
    await reader.on('order.created', (order) => void ids.push(order.id)).ready;
    await publisher.emit('order.created', { id: 'o1', total: 1 }, { ack: true });
    await hub.settle();

    hub.disconnect(reader);
    for (const id of ['o2', 'o3', 'o4']) await publisher.emit('order.created', { id, total: 1 }, { ack: true });
    await hub.advance(999);
    assert.equal(ids, ['o1'], 'nothing while away');
    assert.is(states.at(-1), 'reconnecting');
    await hub.advance(1);
    await publisher.emit('order.created', { id: 'o5', total: 1 }, { ack: true });
    await hub.settle();
    assert.equal(ids, ['o1', 'o2', 'o3', 'o4', 'o5']);
    assert.equal(gaps, []);
    assert.is(states.at(-1), 'open');
  });
});

test('more missed than one replay sends: the reader is told of a replay_limit gap', async () => {
  await withHub({ config: { events: shop, maxReplayEvents: 2, history: [{ pattern: 'order.#', maxEvents: 100 }] } }, async (hub) => {
    const publisher = hub.channel();
    const reader = hub.channel({ ws: { backoff: () => 100 } });
    const gaps: HistoryGap[] = [];
    reader.onGap((gap) => gaps.push(gap));
    await reader.on('order.created', () => {}).ready;
    await publisher.emit('order.created', { id: 'o1', total: 1 }, { ack: true });
    await hub.settle();
    hub.disconnect(reader);
    for (const id of ['o2', 'o3', 'o4', 'o5']) await publisher.emit('order.created', { id, total: 1 }, { ack: true });
    await hub.advance(100);
    assert.equal(
      gaps.map((gap) => [gap.pattern, gap.reason]),
      [['order.created', 'replay_limit']],
    );
  });
});

test('history ages out as virtual time passes', async () => {
  await withHub({ config: { events: shop, history: [{ pattern: 'order.#', maxAge: '1h' }] } }, async (hub) => {
    const publisher = hub.channel();
    await publisher.emit('order.created', { id: 'o1', total: 1 }, { ack: true });
    await hub.advance(59 * 60_000);
    const replayed = async (): Promise<unknown[]> => {
      const got: unknown[] = [];
      await hub.channel().on('order.#', (data) => void got.push(data), { since: 'earliest' }).ready;
      await hub.settle();
      return got;
    };
    assert.equal(await replayed(), [{ id: 'o1', total: 1 }]);
    await hub.advance(2 * 60_000);
    assert.equal(await replayed(), []);
  });
});

// How long an hour takes in real time is a benchmark's figure (bench/RESULTS.md, #36), not this test's.
test('an hour of virtual time with live connections: every heartbeat runs and is answered, timer by timer', async () => {
  await withHub({ config: { events: shop, heartbeatMs: 1000 } }, async (hub) => {
    const a = hub.channel();
    const b = hub.channel({ ws: { heartbeatMs: 60_000 } }); // its own pings would count as signs of life
    await Promise.all([a.ready(), b.ready()]);
    await hub.advance(3_600_000);
    assert.is(hub.now, 3_600_000);
    assert.is(hub.broker.stats().heartbeatTimeouts, 0, 'every probe answered');
    assert.is(hub.broker.stats().connections.native, 2);
    hub.pause(b); // and the heartbeat still runs after the hour: a reader that stops is found within two beats
    await hub.advance(2000);
    assert.is(hub.broker.stats().heartbeatTimeouts, 1);
  });
});

test('a reader that stops reading is dropped by the heartbeat, and catches up after it reads again', async () => {
  await withHub({ config: { events: shop, heartbeatMs: 1000, history: [{ pattern: 'order.#', maxEvents: 100 }] } }, async (hub) => {
    const publisher = hub.channel();
    const reader = hub.channel({ ws: { backoff: () => 50, heartbeatMs: 60_000 } });
    const ids: string[] = [];
    await reader.on('order.created', (order) => void ids.push(order.id)).ready;
    hub.pause(reader);
    await publisher.emit('order.created', { id: 'o1', total: 1 }, { ack: true });
    await hub.advance(2000);
    assert.is(hub.broker.stats().heartbeatTimeouts, 1);
    assert.equal(ids, [], 'what was sent to the stalled socket died with it');
    hub.resume(reader);
    await hub.advance(50);
    assert.equal(ids, ['o1'], 'recovered on resume from history');
  });
});

test('presence: members and leaves as a connection is cut', async () => {
  const config = {
    events: shop,
    apiKeys: [
      { key: 'ada-key-0123456789', user: 'ada' },
      { key: 'bob-key-0123456789', user: 'bob' },
    ],
    channels: { 'presence-room.{roomId}': (user: { id: string } | undefined) => (user ? { name: user.id } : false) },
  };
  await withHub({ config }, async (hub) => {
    const ada = hub.channel({ token: 'ada-key-0123456789' });
    const bob = hub.channel({ token: 'bob-key-0123456789', ws: { backoff: () => 60_000 } });
    const room = ada.presence('presence-room.7');
    const left: string[] = [];
    room.onLeave((member) => left.push(member.id));
    await room.ready;
    await bob.presence('presence-room.7').ready;
    await hub.settle();
    assert.equal(room.members().map((member) => member.id).sort(), ['ada', 'bob']);
    hub.disconnect(bob);
    await hub.settle();
    assert.equal(left, ['bob']);
  });
});

test('JWTs are verified on the hub clock: a token expires when virtual time passes its exp, and the channel is told', async () => {
  const secret = 'a-test-secret-of-32-characters!!';
  const key = new TextEncoder().encode(secret);
  await withHub({ config: { events: shop, jwtSecret: secret, jwtClockToleranceSec: 0 } }, async (hub) => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setExpirationTime(Math.floor(hub.now / 1000) + 60).sign(key);
    const errors: string[] = [];
    const ada = hub.channel({ token, onError: (error) => errors.push(error.code) });
    await hub.settle();
    assert.is(ada.status.state, 'open', 'verified within settle');
    await hub.advance(59_000);
    assert.is(ada.status.state, 'open');
    await hub.advance(2000);
    assert.is(ada.status.state, 'closed', 'cut at expiry, and a fixed token cannot be renewed');
    assert.ok(errors.includes('token_expired') || errors.includes('unauthorized'), errors.join());
  });
});

test('a channel with a wrong key is closed with unauthorized, as by a real broker', async () => {
  await withHub({ config: { events: shop, apiKeys: [{ key: 'ada-key-0123456789', user: 'ada' }] } }, async (hub) => {
    const errors: string[] = [];
    const stranger = hub.channel({ token: 'not-a-key-0123456789', onError: (error) => errors.push(error.code) });
    await hub.settle();
    assert.is(stranger.status.state, 'closed');
    assert.ok(errors.includes('unauthorized'), errors.join());
  });
});

test('next: each routed event once, in order, filtered by where; past `within` it times out at that virtual instant', async () => {
  await withHub({ events: shop }, async (hub) => {
    const orders = hub.channel();
    for (const id of ['o1', 'o2', 'o3']) await orders.emit('order.created', { id, total: id === 'o2' ? 50 : 5 }, { ack: true });
    assert.is((await hub.next('order.created', { where: (event) => event.data.total > 10 })).data.id, 'o2');
    assert.is((await hub.next('order.{id}')).data.id, 'o1');
    assert.is((await hub.next('order.created')).data.id, 'o3');
    const before = hub.now;
    assert.is(await rejectionCodeOf(hub.next('order.shipped', { within: 5000 })), 'timeout');
    assert.is(hub.now - before, 5000);
  });
});

test('a raw client of another surface (Synap pub/sub) connects through hub.WebSocket', async () => {
  await withHub({ config: { events: shop } }, async (hub) => {
    const raw = new hub.WebSocket(`${hub.url}pubsub/ws?topics=order.*`);
    const messages: { type: string; topic?: string; message?: string }[] = [];
    raw.onmessage = (event) => void messages.push(JSON.parse(String(event.data)));
    await hub.settle();
    await hub.channel().emit('order.shipped', { id: 'o9' }, { ack: true });
    await hub.settle();
    const delivered = messages.filter((message) => message.type === 'message');
    assert.equal(delivered.map((message) => [message.topic, JSON.parse(message.message!)]), [['order.shipped', { id: 'o9' }]]);
  });
});

test('one hub holds the clock at a time; a hub on real time is refused beside it (its waits would never end), and so is a bad start or an endless advance', async () => {
  await withHub({ config: { events: shop } }, async (hub) => {
    assert.is(await rejectionCodeOf(createTestHub({})), 'invalid_config');
    assert.is(await rejectionCodeOf(createTestHub({ clock: false })), 'invalid_config');
    assert.is(await rejectionCodeOf(hub.advance(Number.POSITIVE_INFINITY)), 'invalid_config');
    assert.is(await rejectionCodeOf(hub.advance(-1)), 'invalid_config');
  });
  assert.is(await rejectionCodeOf(createTestHub({ clock: { now: new Date('not a date') } })), 'invalid_config');
  const real = await createTestHub({ clock: false });
  try {
    assert.is(await rejectionCodeOf(createTestHub({})), 'invalid_config', 'virtual time would take the real hub\'s timers');
  } finally {
    await real.close();
  }
  {
    await using scoped = await createTestHub({});
    void scoped;
  }
  await (await createTestHub({})).close(); // the scope gave the clock back
});

test("the broker's close waits behind a client that stopped reading; never read, the broker drops it after its grace and the client reconnects", async () => {
  await withHub({ config: { events: shop }, authenticate: () => ({ id: 'ada', expiresAt: Date.now() + 1000 }) }, async (hub) => {
    const closes: string[] = [];
    const ada = hub.channel({ token: 'any', ws: { backoff: () => 60_000 }, onError: (error) => closes.push(error.code) });
    await ada.ready();
    hub.pause(ada);
    await hub.advance(1000); // the credentials expire: the broker starts a 4001 close
    assert.is(ada.status.state, 'open', 'the close frame waits behind the unread ones');
    await hub.advance(999);
    assert.is(ada.status.state, 'open');
    await hub.advance(1); // the broker's 1 s grace for the handshake: it drops the socket
    assert.is(ada.status.state, 'reconnecting', 'a drop (1006), not the 4001 it never read');
    assert.ok(closes.includes('connection_closed'), closes.join());
  });
});

test.run();
