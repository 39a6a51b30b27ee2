// Pusher cache channels (`cache-*`, `private-cache-*`, `presence-cache-*`)
// against pusher-js, Laravel Echo and the official server library, unchanged:
// a new subscriber gets the channel's last event right after
// subscription_succeeded, or `pusher:cache_miss`; raw sockets check the exact
// order on the wire.
import { EventChannel, type HistoryGap } from '@eventwire/event-channel';
import Echo from 'laravel-echo';
import PusherServer from 'pusher';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BrokerUser, PusherAppOptions } from '../src/index.js';
import { echoClient, pusherClient, type PusherClient, subscribed } from './pusher-js.js';
import { RawClient, pusherSocket, startBroker, until, within, type TestBroker } from './helpers.js';

const app: PusherAppOptions = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789' };
const tokens: Record<string, BrokerUser> = { 'alice-token': { id: 'alice' }, 'bob-token': { id: 'bob' } };

type Context = { server: TestBroker<never>; clients: Array<{ disconnect(): void }> };
const test = suite<Context>('pusher cache channels');

test.before(async (context) => {
  context.clients = [];
  context.server = (await startBroker(
    {
      pusher: { apps: [app] },
      allowAnonymous: true,
      authenticate: ({ token }) => (token === undefined ? undefined : tokens[token]),
    },
    (broker) => {
      broker.channel('private-cache-user.{id}', (user, { id }) => user?.id === id);
      broker.channel('presence-cache-room.{room}', (user) => (user ? { name: user.id } : false));
    },
  )) as never;
});
test.after.each((context) => {
  for (const client of context.clients.splice(0)) client.disconnect();
});
test.after(async (context) => {
  await context.server.stop();
});

function pusherJs(context: Context): PusherClient {
  const client = pusherClient(context.server, app.key);
  context.clients.push(client);
  return client;
}

function echo(context: Context, token: string): Echo<'pusher'> {
  const instance = echoClient(context.server, app.key, token);
  context.clients.push(instance);
  return instance;
}

function serverLibrary(context: Context): PusherServer {
  return new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(context.server.port), useTLS: false });
}

/** A raw Pusher socket subscribed to a public channel: every frame it got on that channel, from subscription_succeeded on. */
async function rawSubscribe(context: Context, channel: string): Promise<{ client: RawClient; frames: () => Array<Record<string, unknown>> }> {
  const { client } = await pusherSocket(context.server, app.key);
  client.send({ event: 'pusher:subscribe', data: { channel } });
  await client.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded' && frame['channel'] === channel);
  return { client, frames: () => client.received.filter((frame) => frame['channel'] === channel) };
}

test('a trigger before anyone subscribed: pusher-js gets it right after subscription_succeeded, once, and then live events', async (context) => {
  await serverLibrary(context).trigger('cache-price', 'PriceChanged', { price: 1 });
  await serverLibrary(context).trigger('cache-price', 'PriceChanged', { price: 2 });
  const client = pusherJs(context);
  const channel = client.subscribe('cache-price');
  const seen: Array<[string, unknown]> = [];
  channel.bind_global((event: string, data: unknown) => seen.push([event, data]));
  await subscribed(channel, 'cache-price subscribed');
  await until(() => seen.length === 2, 'the cached event');
  assert.equal(seen, [
    ['pusher:subscription_succeeded', {}],
    ['PriceChanged', { price: 2 }],
  ]);
  await serverLibrary(context).trigger('cache-price', 'PriceChanged', { price: 3 });
  await until(() => seen.length === 3, 'the live event');
  assert.equal(seen[2], ['PriceChanged', { price: 3 }]);

  // On the wire: succeeded, then the very frame live subscribers were sent.
  const raw = await rawSubscribe(context, 'cache-price');
  try {
    const cached = await raw.client.next((frame) => frame['channel'] === 'cache-price');
    assert.equal(cached, { event: 'PriceChanged', channel: 'cache-price', data: JSON.stringify({ price: 3 }) });
    assert.equal(
      raw.frames().map((frame) => frame['event']),
      ['pusher_internal:subscription_succeeded', 'PriceChanged'],
    );
  } finally {
    raw.client.close();
  }
});

test('an empty cache channel answers pusher:cache_miss (no data) right after subscription_succeeded; a plain channel says nothing', async (context) => {
  const client = pusherJs(context);
  const channel = client.subscribe('cache-empty');
  const seen: string[] = [];
  channel.bind_global((event: string) => seen.push(event));
  await until(() => seen.length === 2, 'succeeded and the miss');
  assert.equal(seen, ['pusher:subscription_succeeded', 'pusher:cache_miss']);

  const raw = await rawSubscribe(context, 'cache-empty');
  const plain = await rawSubscribe(context, 'orders-cache-1');
  try {
    const miss = await raw.client.next((frame) => frame['channel'] === 'cache-empty');
    assert.equal(miss, { event: 'pusher:cache_miss', channel: 'cache-empty' });
    // Anchored: a name with cache- further in is a plain channel. A ping is answered after anything the subscribe caused.
    plain.client.send({ event: 'pusher:ping', data: {} });
    await plain.client.next((frame) => frame['event'] === 'pusher:pong');
    assert.equal(plain.frames().length, 1);
  } finally {
    raw.client.close();
    plain.client.close();
  }
});

test('every server-side publish sets the last event (broker.publish, a native one with no name); a client event (whisper) does not', async (context) => {
  await context.server.broker.publish('cache-feed' as never, { n: 1 } as never);
  const raw = await rawSubscribe(context, 'cache-feed');
  try {
    const cached = await raw.client.next((frame) => frame['channel'] === 'cache-feed');
    assert.equal(cached, { event: 'cache-feed', channel: 'cache-feed', data: JSON.stringify({ n: 1 }) });
  } finally {
    raw.client.close();
  }

  const alice = echo(context, 'alice-token');
  const whispers: unknown[] = [];
  const channel = alice.private('cache-user.alice').listenForWhisper('typing', (data: unknown) => whispers.push(data));
  await within(new Promise<void>((resolve) => channel.subscribed(() => resolve())), 5000, 'alice on private-cache-user.alice');
  const other = echo(context, 'alice-token');
  const misses: string[] = [];
  const second = other.private('cache-user.alice').listen('.pusher:cache_miss', () => misses.push('miss'));
  await until(() => misses.length === 1, 'the second tab to see a miss');
  second.whisper('typing', { who: 'alice' });
  await until(() => whispers.length === 1, 'the whisper to arrive');
  // The whisper was relayed, but the channel's last event is still none.
  const third = echo(context, 'alice-token');
  third.private('cache-user.alice').listen('.pusher:cache_miss', () => misses.push('miss'));
  await until(() => misses.length === 2, 'a third tab to see a miss still');
});

test('private-cache with auth (Laravel Echo): the cached event after the signed subscribe; another user is refused and gets nothing', async (context) => {
  await serverLibrary(context).trigger('private-cache-user.bob', 'InvoicePaid', { invoice: 9 });
  const bob = echo(context, 'bob-token');
  const got: unknown[] = [];
  bob.private('cache-user.bob').listen('.InvoicePaid', (data: unknown) => got.push(data));
  await until(() => got.length === 1, "bob's cached invoice");
  assert.equal(got, [{ invoice: 9 }]);

  const alice = echo(context, 'alice-token');
  const stolen: unknown[] = [];
  const refused = await within(
    new Promise<{ status?: number }>((resolve) =>
      alice
        .private('cache-user.bob')
        .listen('.InvoicePaid', (data: unknown) => stolen.push(data))
        .error((error: { status?: number }) => resolve(error)),
    ),
    5000,
    "alice's refusal",
  );
  assert.is(refused.status, 403);
  assert.equal(stolen, []);
});

test('presence-cache (Echo.join): members in subscription_succeeded, then the cached event', async (context) => {
  await serverLibrary(context).trigger('presence-cache-room.1', 'Topic', { title: 'cats' });
  const alice = echo(context, 'alice-token');
  const order: unknown[] = [];
  alice
    .join('cache-room.1')
    .here((members: unknown[]) => order.push({ here: members }))
    .listen('.Topic', (data: unknown) => order.push(data));
  await until(() => order.length === 2, 'members and the cached topic');
  assert.equal(order, [{ here: [{ name: 'alice' }] }, { title: 'cats' }]);
});

test('events published while a socket subscribes are neither lost nor reordered around the cached one', async (context) => {
  const channel = 'cache-ticker';
  let n = 0;
  await context.server.broker.publish(channel as never, { n: n++ } as never);
  const { client } = await pusherSocket(context.server, app.key);
  try {
    let answered = false;
    // Publishes back to back, from before the subscribe is sent until well after it was answered.
    const publishing = (async () => {
      let after = 0;
      while (after < 20) {
        await context.server.broker.publish(channel as never, { n: n++ } as never);
        if (answered) after++;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    })();
    await new Promise<void>((resolve) => setImmediate(resolve));
    client.send({ event: 'pusher:subscribe', data: { channel } });
    await client.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded');
    answered = true;
    await publishing;
    const last = n - 1;
    await until(() => client.received.some((frame) => frame['channel'] === channel && frame['data'] === JSON.stringify({ n: last })), 'the last event');
    const frames = client.received.filter((frame) => frame['channel'] === channel);
    assert.is(frames[0]!['event'], 'pusher_internal:subscription_succeeded');
    const numbers = frames.slice(1).map((frame) => (JSON.parse(frame['data'] as string) as { n: number }).n);
    // The first is the cached one; from there every event once, in order, up to the last.
    const first = numbers[0]!;
    assert.equal(numbers, Array.from({ length: last - first + 1 }, (_, index) => first + index));
  } finally {
    client.close();
  }
});

test('a native EventChannel with since: { last: 1 } gets the same last event (no gap), then live; an empty one nothing and no gap', async (context) => {
  await serverLibrary(context).trigger('cache-native', 'PriceChanged', { price: 5 });
  const native = new EventChannel({ url: context.server.url });
  const gaps: HistoryGap[] = [];
  native.onGap((gap) => void gaps.push(gap));
  try {
    const got: Array<[unknown, string | undefined]> = [];
    const off = native.on('cache-native', (data, event) => void got.push([data, event.metadata?.['event']]), { since: { last: 1 } });
    await off.ready;
    assert.equal(got, [[{ price: 5 }, 'PriceChanged']]);
    await serverLibrary(context).trigger('cache-native', 'PriceChanged', { price: 6 });
    await until(() => got.length === 2, 'the live event');
    assert.equal(got[1], [{ price: 6 }, 'PriceChanged']);
    const none: unknown[] = [];
    await native.on('cache-native-empty', (data) => void none.push(data), { since: { last: 1 } }).ready;
    assert.equal(none, []);
    assert.equal(gaps, []);
  } finally {
    await native.close();
  }
});

test('since: { last: 1 } while events are published back to back: the last one, then every later one once and in order', async (context) => {
  const topic = 'cache-native-ticker';
  let n = 0;
  await context.server.broker.publish(topic as never, { n: n++ } as never);
  const native = new EventChannel({ url: context.server.url });
  await native.ready();
  try {
    let ready = false;
    const publishing = (async () => {
      let after = 0;
      while (after < 20) {
        await context.server.broker.publish(topic as never, { n: n++ } as never);
        if (ready) after++;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    })();
    await new Promise<void>((resolve) => setImmediate(resolve));
    const numbers: number[] = [];
    await native.on(topic, (data) => void numbers.push((data as { n: number }).n), { since: { last: 1 } }).ready;
    ready = true;
    await publishing;
    const last = n - 1;
    await until(() => numbers.at(-1) === last, 'the last event');
    const first = numbers[0]!;
    assert.equal(numbers, Array.from({ length: last - first + 1 }, (_, index) => first + index));
  } finally {
    await native.close();
  }
});

test.run();
