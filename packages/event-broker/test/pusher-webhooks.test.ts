// Pusher webhooks from one broker, as an app's server receives them: a real
// HTTP receiver on port 0 checks every request with the official `pusher`
// server library's webhook().isValid() and recomputes the HMAC by hand;
// pusher-js clients (unchanged) produce the events. The removal delay and the
// batch window are settings, set small; "nothing was sent" is proven by a
// later marker event that the same webhook does send, never by waiting.
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import PusherServer from 'pusher';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventBrokerServer, type BrokerUser, type PusherAppOptions } from '../src/index.js';
import { EventwireError } from '@eventwire/event-channel';
import type { PusherWebhookOptions } from '../src/surfaces/pusher/pusher-webhooks.js';
import { echoClient, pusherClient, type PusherClient, subscribed } from './pusher-js.js';
import { startBroker, until, within, type TestBroker } from './helpers.js';

const app = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789' } as const;
// Only its webhook() is used: host is never called.
const library = new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });
const tokens: Record<string, BrokerUser> = { 'alice-token': { id: 'alice' }, 'bob-token': { id: 'bob' } };

interface WebhookEvent {
  readonly name: string;
  readonly channel: string;
  readonly [field: string]: unknown;
}

interface Received {
  readonly headers: IncomingHttpHeaders;
  /** The header names as they came on the wire (case kept). */
  readonly rawHeaderNames: string[];
  readonly body: string;
  readonly valid: boolean;
  readonly timeMs: number;
  readonly events: WebhookEvent[];
}

/** An app's server: records every request; `answer(n)` is the status of the n-th (0-based). */
class Receiver {
  readonly requests: Received[] = [];
  readonly #server: Server;
  answer: (index: number) => number = () => 200;

  constructor() {
    this.#server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const hook = library.webhook({ headers: request.headers, rawBody: body });
        const valid = hook.isValid();
        const parsed = JSON.parse(body) as { time_ms: number; events: WebhookEvent[] };
        const rawHeaderNames = request.rawHeaders.filter((_, index) => index % 2 === 0);
        const index = this.requests.length;
        this.requests.push({ headers: request.headers, rawHeaderNames, body, valid, timeMs: parsed.time_ms, events: parsed.events });
        response.statusCode = this.answer(index);
        response.end();
      });
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/pusher/webhook`;
  }

  /** Every event received, in order, from the requests the receiver answered 2xx. */
  get delivered(): WebhookEvent[] {
    return this.requests.filter((_, index) => this.answer(index) < 300).flatMap((request) => request.events);
  }

  async until(match: (event: WebhookEvent) => boolean, what: string): Promise<WebhookEvent> {
    await until(() => this.delivered.some(match), what);
    return this.delivered.find(match)!;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

interface Context {
  receiver: Receiver;
  url: string;
  server: TestBroker<never> | undefined;
  clients: PusherClient[];
}

const test = suite<Context>('pusher webhooks: format, events, delivery');

test.before.each(async (context) => {
  context.receiver = new Receiver();
  context.url = await context.receiver.listen();
  context.clients = [];
  context.server = undefined;
});
test.after.each(async (context) => {
  for (const client of context.clients.splice(0)) client.disconnect();
  await context.server?.stop();
  await context.receiver.close();
});

async function broker(context: Context, webhooks: PusherWebhookOptions[], removalDelayMs = 100): Promise<TestBroker<never>> {
  const options: PusherAppOptions = { ...app, webhooks };
  context.server = (await startBroker(
    {
      pusher: { apps: [options], webhookRemovalDelayMs: removalDelayMs },
      allowAnonymous: true,
      authenticate: ({ token }) => (token === undefined ? undefined : tokens[token]),
    },
    (instance) => {
      instance.channel('private-team.{team}', (user) => user !== undefined);
      instance.channel('presence-room.{room}', (user) => (user ? { name: user.id } : false));
    },
  )) as never;
  return context.server!;
}

function client(context: Context, token?: string): PusherClient {
  const server = context.server!;
  const pusher = pusherClient(server, app.key, token);
  context.clients.push(pusher);
  return pusher;
}

const fast = { batchMs: 10 } as const;

test('channel_occupied and channel_vacated: signed as Pusher signs, verified by the pusher library and by hand', async (context) => {
  const server = await broker(context, [{ url: context.url, ...fast }]);
  const pusher = client(context);
  await subscribed(pusher.subscribe('orders'), 'orders');
  const occupied = await context.receiver.until((event) => event.name === 'channel_occupied', 'channel_occupied');
  assert.equal(occupied, { name: 'channel_occupied', channel: 'orders' });
  pusher.unsubscribe('orders');
  const vacated = await context.receiver.until((event) => event.name === 'channel_vacated', 'channel_vacated');
  assert.equal(vacated, { name: 'channel_vacated', channel: 'orders' });

  for (const request of context.receiver.requests) {
    assert.ok(request.valid, 'pusher webhook().isValid()');
    assert.is(request.headers['content-type'], 'application/json');
    assert.is(request.headers['x-pusher-key'], app.key);
    assert.is(request.headers['x-pusher-signature'], createHmac('sha256', app.secret).update(request.body).digest('hex'));
    assert.match(request.headers['x-pusher-signature'] as string, /^[0-9a-f]{64}$/);
    // PHP's pusher library reads these header names exactly so.
    assert.ok(request.rawHeaderNames.includes('X-Pusher-Key') && request.rawHeaderNames.includes('X-Pusher-Signature'), request.rawHeaderNames.join());
    assert.equal(Object.keys(JSON.parse(request.body) as object), ['time_ms', 'events']);
    assert.ok(Math.abs(request.timeMs - Date.now()) < 60_000, 'time_ms is unix milliseconds');
    // A forged signature or key is what the library rejects.
    const signature = request.headers['x-pusher-signature'] as string;
    const flipped = `${signature[0] === 'a' ? 'b' : 'a'}${signature.slice(1)}`;
    assert.not.ok(library.webhook({ headers: { ...request.headers, 'x-pusher-signature': flipped }, rawBody: request.body }).isValid());
    assert.not.ok(library.webhook({ headers: { ...request.headers, 'x-pusher-key': 'other-key' }, rawBody: request.body }).isValid());
    assert.not.ok(library.webhook({ headers: request.headers, rawBody: request.body.replace('orders', 'ordera') }).isValid());
  }
  await until(() => server.broker.stats().pusherWebhooks![0]!.sent === 2, 'both counted sent');
  const [stats] = server.broker.stats().pusherWebhooks!;
  assert.equal(stats, { app: app.id, url: context.url, sent: 2, failed: 0, retried: 0, dropped: 0, queued: 0 });
});

test('member_added and member_removed: once per user, whatever its connections', async (context) => {
  await broker(context, [{ url: context.url, eventTypes: ['member_added', 'member_removed', 'channel_vacated'], ...fast }]);
  const first = client(context, 'alice-token');
  const second = client(context, 'alice-token');
  const bob = client(context, 'bob-token');
  await subscribed(first.subscribe('presence-room.1'), 'alice 1');
  await subscribed(second.subscribe('presence-room.1'), 'alice 2');
  await subscribed(bob.subscribe('presence-room.1'), 'bob');
  await context.receiver.until((event) => event.name === 'member_added' && event['user_id'] === 'bob', 'bob added');
  first.unsubscribe('presence-room.1');
  bob.unsubscribe('presence-room.1');
  await context.receiver.until((event) => event.name === 'member_removed' && event['user_id'] === 'bob', 'bob removed');
  second.unsubscribe('presence-room.1');
  await context.receiver.until((event) => event.name === 'channel_vacated', 'vacated');
  assert.equal(context.receiver.delivered, [
    { name: 'member_added', channel: 'presence-room.1', user_id: 'alice' },
    { name: 'member_added', channel: 'presence-room.1', user_id: 'bob' },
    { name: 'member_removed', channel: 'presence-room.1', user_id: 'bob' },
    { name: 'member_removed', channel: 'presence-room.1', user_id: 'alice' },
    { name: 'channel_vacated', channel: 'presence-room.1' },
  ]);
});

test('client_event: channel, event, data as the client sent it, socket_id; user_id on presence channels', async (context) => {
  await broker(context, [{ url: context.url, eventTypes: ['client_event'], ...fast }]);
  const sender = client(context, 'alice-token');
  const other = client(context, 'bob-token');
  const team = sender.subscribe('private-team.1');
  await subscribed(team, 'sender team');
  await subscribed(other.subscribe('private-team.1'), 'other team');
  const room = sender.subscribe('presence-room.2');
  await subscribed(room, 'sender room');
  const relayed = new Promise((resolve) => other.subscribe('private-team.1').bind('client-typing', resolve));
  team.trigger('client-typing', { data: 1234 });
  room.trigger('client-moved', { x: 1 });
  await within(relayed, 5000, 'the client event relayed');
  const typing = await context.receiver.until((event) => event['event'] === 'client-typing', 'client-typing webhook');
  const moved = await context.receiver.until((event) => event['event'] === 'client-moved', 'client-moved webhook');
  const socketId = sender.connection.socket_id;
  assert.equal(typing, { name: 'client_event', channel: 'private-team.1', event: 'client-typing', data: '{"data":1234}', socket_id: socketId });
  assert.equal(moved, { name: 'client_event', channel: 'presence-room.2', event: 'client-moved', data: '{"x":1}', socket_id: socketId, user_id: 'alice' });
});

test('Laravel Echo: join, whisper and leave give member_added, client_event and member_removed', async (context) => {
  await broker(context, [{ url: context.url, eventTypes: ['member_added', 'member_removed', 'client_event'], ...fast }]);
  const server = context.server!;
  const echo = echoClient(server, app.key, 'alice-token');
  try {
    const room = echo.join('room.9');
    await within(new Promise<void>((resolve) => room.here(() => resolve())), 5000, 'Echo joined');
    room.whisper('typing', { who: 'alice' });
    await context.receiver.until((event) => event.name === 'client_event', 'the whisper');
    echo.leave('room.9');
    await context.receiver.until((event) => event.name === 'member_removed', 'member_removed');
    const socketId = echo.socketId();
    assert.equal(context.receiver.delivered, [
      { name: 'member_added', channel: 'presence-room.9', user_id: 'alice' },
      { name: 'client_event', channel: 'presence-room.9', event: 'client-typing', data: '{"who":"alice"}', socket_id: socketId, user_id: 'alice' },
      { name: 'member_removed', channel: 'presence-room.9', user_id: 'alice' },
    ]);
  } finally {
    echo.disconnect();
  }
});

test('cache_miss: a pusher-js subscriber of an empty cache channel fires it, once per subscription that missed; a channel with a last event does not', async (context) => {
  await broker(context, [{ url: context.url, eventTypes: ['cache_miss'], ...fast }]);
  const pusher = client(context);
  const empty = pusher.subscribe('cache-prices');
  const missed = new Promise<void>((resolve) => empty.bind('pusher:cache_miss', () => resolve()));
  await within(missed, 5000, 'pusher:cache_miss on the client');
  assert.equal(await context.receiver.until((event) => event.name === 'cache_miss', 'cache_miss'), { name: 'cache_miss', channel: 'cache-prices' });
  assert.ok(context.receiver.requests[0]!.valid, 'signed as Pusher signs');
  // A cache channel with a last event: no miss, no webhook.
  await (context.server!.broker as unknown as EventBrokerServer).publish('cache-rates', { eur: 1 });
  const full = pusher.subscribe('cache-rates');
  await within(new Promise<void>((resolve) => full.bind('cache-rates', () => resolve())), 5000, 'the last event');
  const again = pusher.subscribe('cache-prices.2');
  await within(new Promise<void>((resolve) => again.bind('pusher:cache_miss', () => resolve())), 5000, 'a second miss');
  await context.receiver.until((event) => event.channel === 'cache-prices.2', 'the second cache_miss');
  assert.equal(
    context.receiver.delivered.map((event) => event.channel),
    ['cache-prices', 'cache-prices.2'],
    'one per missed subscription, none for the channel with a last event',
  );
});

test('each webhook gets only the event types and channels it asked for', async (context) => {
  const other = new Receiver();
  const otherUrl = await other.listen();
  try {
    await broker(context, [
      { url: context.url, ...fast },
      { url: otherUrl, eventTypes: ['channel_occupied'], filter: { channelPrefix: 'private-', channelSuffix: '.7' }, ...fast },
    ]);
    const pusher = client(context, 'alice-token');
    await subscribed(pusher.subscribe('orders.7'), 'orders.7');
    await subscribed(pusher.subscribe('private-team.8'), 'private-team.8');
    await subscribed(pusher.subscribe('private-team.7'), 'private-team.7');
    pusher.unsubscribe('private-team.7');
    await context.receiver.until((event) => event.name === 'channel_vacated', 'vacated on the unfiltered webhook');
    assert.equal(
      context.receiver.delivered.map((event) => `${event.name} ${event.channel}`),
      ['channel_occupied orders.7', 'channel_occupied private-team.8', 'channel_occupied private-team.7', 'channel_vacated private-team.7'],
    );
    // The filtered one: the vacated came later than its occupied on the other webhook, and it asked for neither the rest nor vacated.
    await other.until((event) => event.channel === 'private-team.7', 'the filtered webhook');
    assert.equal(other.delivered, [{ name: 'channel_occupied', channel: 'private-team.7' }]);
    for (const request of other.requests) assert.ok(request.valid);
  } finally {
    await other.close();
  }
});

test('batched: events within the window go in one request, at most maxBatch per request', async (context) => {
  await broker(context, [{ url: context.url, batchMs: 200, maxBatch: 4 }]);
  const pusher = client(context);
  const channels = ['b.1', 'b.2', 'b.3', 'b.4', 'b.5', 'b.6'];
  await Promise.all(channels.map((channel) => subscribed(pusher.subscribe(channel), channel)));
  await until(() => context.receiver.delivered.length === 6, 'six occupied');
  assert.equal(
    context.receiver.requests.map((request) => request.events.length),
    [4, 2],
  );
  assert.equal(context.receiver.delivered.map((event) => event.channel).sort(), channels);
});

test('a receiver that fails twice (500, then 503) and then answers 200: retried with the same body, delivered once, each retry logged', async (context) => {
  context.receiver.answer = (index) => [500, 503][index] ?? 200;
  const server = await broker(context, [{ url: context.url, ...fast, retryBaseMs: 20, retryMaxDelayMs: 20 }]);
  const pusher = client(context);
  await subscribed(pusher.subscribe('orders'), 'orders');
  await until(() => context.receiver.requests.length === 3, 'two retries');
  const [first, second, third] = context.receiver.requests;
  assert.is(second!.body, first!.body);
  assert.is(third!.body, first!.body);
  assert.ok(third!.valid);
  assert.equal(context.receiver.delivered, [{ name: 'channel_occupied', channel: 'orders' }]);
  await until(() => server.broker.stats().pusherWebhooks![0]!.sent === 1, 'counted sent');
  assert.equal(server.broker.stats().pusherWebhooks![0], { app: app.id, url: context.url, sent: 1, failed: 0, retried: 2, dropped: 0, queued: 0 });
  for (const [status, retry] of [['500', 'retry 1 in'], ['503', 'retry 2 in']] as const) {
    assert.ok(
      server.logs.some((line) => line.includes(context.url) && line.includes(`answered ${status}`) && line.includes(retry)),
      server.logs.join('\n'),
    );
  }
});

test('a receiver down: its queue stays bounded (oldest dropped, counted), clients are not held up', async (context) => {
  // A port nothing listens on: every request is refused at once.
  const down = new Receiver();
  const downUrl = await down.listen();
  await down.close();
  const server = await broker(context, [{ url: downUrl, batchMs: 0, maxBatch: 1, maxQueued: 3, retryBaseMs: 50, retryMaxDelayMs: 50 }]);
  const listener = client(context, 'bob-token');
  const sender = client(context, 'alice-token');
  const team = sender.subscribe('private-team.1');
  await subscribed(team, 'sender');
  const received: unknown[] = [];
  const all = new Promise<void>((resolve) =>
    listener.subscribe('private-team.1').bind('client-n', (data: unknown) => {
      received.push(data);
      if (received.length === 8) resolve();
    }),
  );
  await subscribed(listener.subscribe('private-team.1'), 'listener');
  for (let n = 0; n < 8; n++) team.trigger('client-n', { n });
  await within(all, 5000, 'every client event delivered while the webhook is down');
  assert.equal(received, [0, 1, 2, 3, 4, 5, 6, 7].map((n) => ({ n })));
  // 1 occupied + 8 client events: at most 3 held (the batch of 1 under retry among them), the 6 oldest of the rest dropped.
  await until(() => server.broker.stats().pusherWebhooks![0]!.dropped === 6, 'six dropped');
  const stats = server.broker.stats().pusherWebhooks![0]!;
  assert.is(stats.queued, 3);
  assert.is(stats.sent, 0);
  assert.ok(server.logs.some((line) => line.includes(downUrl) && line.includes('retry 1 in')), server.logs.join('\n'));
});

test('a reload within the removal delay sends nothing; a leave past it sends the removal', async (context) => {
  const server = await broker(context, [{ url: context.url, ...fast }], 300);
  const first = client(context, 'alice-token');
  await subscribed(first.subscribe('presence-room.5'), 'before the reload');
  await context.receiver.until((event) => event.name === 'member_added', 'member_added');
  first.disconnect();
  await until(() => server.broker.stats().subscribers === 0, 'the first page gone');
  const second = client(context, 'alice-token');
  await subscribed(second.subscribe('presence-room.5'), 'after the reload');
  // A marker vacated later on the same webhook: the reload's removals, had they been kept, were due before it.
  const marker = client(context);
  await subscribed(marker.subscribe('marker'), 'marker');
  marker.unsubscribe('marker');
  await context.receiver.until((event) => event.name === 'channel_vacated' && event.channel === 'marker', 'the marker vacated');
  assert.equal(
    context.receiver.delivered.map((event) => `${event.name} ${event.channel}`),
    ['channel_occupied presence-room.5', 'member_added presence-room.5', 'channel_occupied marker', 'channel_vacated marker'],
  );
  second.disconnect();
  await context.receiver.until((event) => event.name === 'channel_vacated' && event.channel === 'presence-room.5', 'vacated after the delay');
  assert.equal(context.receiver.delivered.slice(4), [
    { name: 'member_removed', channel: 'presence-room.5', user_id: 'alice' },
    { name: 'channel_vacated', channel: 'presence-room.5' },
  ]);
});

test('/metrics counts each webhook by app and URL', async (context) => {
  context.receiver.answer = (index) => (index === 0 ? 503 : 200);
  const options: PusherAppOptions = { ...app, webhooks: [{ url: context.url, ...fast, retryBaseMs: 10, retryMaxDelayMs: 10 }] };
  const server = await startBroker({ pusher: { apps: [options] }, allowAnonymous: true, metrics: { defaultMetrics: false } });
  context.server = server as never;
  const pusher = client(context);
  await subscribed(pusher.subscribe('orders'), 'orders');
  await until(() => server.broker.stats().pusherWebhooks![0]!.sent === 1, 'sent after a retry');
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const labels = `{app="shop",webhook="${context.url}"}`;
  for (const line of [`eventwire_pusher_webhook_sent_total${labels} 1`, `eventwire_pusher_webhook_retried_total${labels} 1`, `eventwire_pusher_webhook_failed_total${labels} 0`, `eventwire_pusher_webhook_dropped_total${labels} 0`, `eventwire_pusher_webhook_queued${labels} 0`]) {
    assert.ok(text.split('\n').includes(line), `${line} in\n${text.split('\n').filter((each) => each.includes('pusher')).join('\n')}`);
  }
});

test('a broker that stops sends what it had queued (one attempt), not what was still within the removal delay', async (context) => {
  // A window longer than the test: only the stop can send the batch.
  const server = await broker(context, [{ url: context.url, batchMs: 60_000 }], 60_000);
  const pusher = client(context);
  await subscribed(pusher.subscribe('orders'), 'orders');
  await until(() => server.broker.stats().pusherWebhooks![0]!.queued === 1, 'occupied queued');
  pusher.disconnect();
  await until(() => server.broker.stats().subscribers === 0, 'the subscriber gone (vacated pending)');
  await server.stop();
  context.server = undefined;
  assert.equal(context.receiver.delivered, [{ name: 'channel_occupied', channel: 'orders' }]);
  assert.ok(context.receiver.requests[0]!.valid);
});

test('a webhook given in code is checked as the config file is: invalid_config', () => {
  for (const webhook of [{ url: 'ftp://hooks.example/x' }, { url: 'https://hooks.example/x', eventTypes: ['channel_exploded'] }, { url: 'https://hooks.example/x', maxBatch: 0 }]) {
    try {
      new EventBrokerServer({ pusher: { apps: [{ ...app, webhooks: [webhook as PusherWebhookOptions] }] } });
      assert.unreachable(`accepted ${JSON.stringify(webhook)}`);
    } catch (error) {
      assert.instance(error, EventwireError);
      assert.is((error as EventwireError).code, 'invalid_config', JSON.stringify(webhook));
    }
  }
});

test('no webhooks configured: nothing watches channels for them', async (context) => {
  const server = await startBroker({ pusher: { apps: [app] }, allowAnonymous: true });
  context.server = server as never;
  assert.is(server.broker.stats().pusherWebhooks, undefined);
});

test.run();
