// Pusher webhooks across a broker cluster: two brokers on one real
// nats-server, the same app and webhook on both, one receiver. A channel is
// occupied once when its first subscriber comes to any broker and vacated
// once when the last leaves any broker; a user on both brokers is one
// member. "Nothing more was sent" is proven by a client event sent through
// each broker afterwards: each broker's webhook sends in order, so whatever
// either had queued before arrived before its marker.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import type { PusherAppOptions } from '../src/index.js';
import { pusherClient, type PusherClient, subscribed } from './pusher-js.js';
import { startClusterBroker } from './cluster-helpers.js';
import { deferred, until, type TestBroker } from './helpers.js';

const WAIT = 5000;

/** What the brokers' `stall.#` observer waits for. */
const stall = deferred<void>();

interface WebhookEvent {
  readonly name: string;
  readonly channel: string;
  readonly [field: string]: unknown;
}

interface Context {
  nats: NatsServer;
  receiver: Server;
  events: WebhookEvent[];
  brokers: TestBroker<never>[];
  clients: PusherClient[];
}

const test = suite<Context>('pusher webhooks across a broker cluster');

function client(context: Context, broker: TestBroker<never>, token: string): PusherClient {
  const pusher = pusherClient(broker, 'shop-key', token);
  context.clients.push(pusher);
  return pusher;
}

type PresenceChannel = { members: { count: number } } & Parameters<typeof subscribed>[0];

/** Events of `channel` the receiver got, as `name[:user]`. */
const of = (context: Context, channel: string): string[] =>
  context.events.filter((event) => event.channel === channel).map((event) => `${event.name}${event['user_id'] === undefined ? '' : `:${String(event['user_id'])}`}`);

/** A client event through each broker; once both are in, each broker has sent everything it queued before. */
async function markers(context: Context, [onA, onB]: [PusherClient, PusherClient], n: number): Promise<void> {
  onA.channel('private-team.markers')!.trigger('client-marker', { from: 'a', n });
  onB.channel('private-team.markers')!.trigger('client-marker', { from: 'b', n });
  const seen = (from: string): boolean => context.events.some((event) => event.name === 'client_event' && event['data'] === JSON.stringify({ from, n }));
  await until(() => seen('a') && seen('b'), `markers ${n} from both brokers`, WAIT);
}

if (!natsServerAvailable()) {
  test.skip('(nats-server not installed: the Pusher webhook cluster tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.nats = await startNatsServer();
    context.events = [];
    context.clients = [];
    context.brokers = [];
    context.receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        context.events.push(...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { events: WebhookEvent[] }).events);
        response.end();
      });
    });
    await new Promise<void>((resolve) => context.receiver.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(context.receiver.address() as AddressInfo).port}/hooks`;
    const app: PusherAppOptions = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789', webhooks: [{ url, batchMs: 10 }] };
    for (const node of ['hooks-a', 'hooks-b']) {
      const broker = await startClusterBroker<never>(
        node,
        {
          pusher: { apps: [app], webhookRemovalDelayMs: 200 },
          allowAnonymous: true,
          authenticate: ({ token }) => (token ? { id: token } : undefined),
          cluster: { url: context.nats.url, node, reconnectTimeWaitMs: 50, presence: { heartbeatMs: 1000 } },
        },
        (instance) => {
          // Holds a stopping broker in its shutdown (it waits for observers) until the test lets go.
          instance.observe('stall.#', () => stall.promise);
          instance.channel('private-team.{team}', (user) => user !== undefined);
          instance.channel('presence-room.{room}', (user) => (user ? { name: user.id } : false));
        },
      );
      context.brokers.push(broker);
    }
  });
  test.after(async (context) => {
    for (const pusher of context.clients.splice(0)) pusher.disconnect();
    await Promise.all(context.brokers.map((broker) => broker.stop()));
    await context.nats.stop();
    context.receiver.closeAllConnections();
    await new Promise((resolve) => context.receiver.close(resolve));
  });

  test('occupied once when the first subscribes anywhere, vacated once when the last leaves anywhere; a user on both brokers is one member', async (context) => {
    const [a, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    const onA = client(context, a, 'ada');
    const onB = client(context, b, 'bob');
    // Each broker has heard the other (the member lists cross), so both know who owns what.
    const probeA = onA.subscribe('presence-room.probe') as unknown as PresenceChannel;
    const probeB = onB.subscribe('presence-room.probe') as unknown as PresenceChannel;
    await Promise.all([subscribed(probeA, 'probe on A'), subscribed(probeB, 'probe on B')]);
    await until(() => probeA.members.count === 2 && probeB.members.count === 2, 'both brokers see both members', WAIT);
    await Promise.all([subscribed(onA.subscribe('private-team.markers'), 'markers on A'), subscribed(onB.subscribe('private-team.markers'), 'markers on B')]);

    // A channel with subscribers on both brokers.
    await subscribed(onA.subscribe('orders'), 'orders on A');
    await until(() => of(context, 'orders').length > 0, 'occupied', WAIT);
    await subscribed(onB.subscribe('orders'), 'orders on B');
    onA.unsubscribe('orders');
    await markers(context, [onA, onB], 1);
    assert.equal(of(context, 'orders'), ['channel_occupied'], 'B joining and A leaving changed nothing');
    onB.unsubscribe('orders');
    await until(() => of(context, 'orders').includes('channel_vacated'), 'vacated after the last left', WAIT);
    await markers(context, [onA, onB], 2);
    assert.equal(of(context, 'orders'), ['channel_occupied', 'channel_vacated']);

    // One user, a connection on each broker.
    const adaOnA = client(context, a, 'ada');
    const adaOnB = client(context, b, 'ada');
    await subscribed(adaOnA.subscribe('presence-room.1'), 'ada on A');
    await until(() => of(context, 'presence-room.1').includes('member_added:ada'), 'member_added', WAIT);
    await subscribed(adaOnB.subscribe('presence-room.1'), 'ada on B');
    await markers(context, [onA, onB], 3);
    adaOnA.unsubscribe('presence-room.1');
    await markers(context, [onA, onB], 4);
    assert.equal(of(context, 'presence-room.1'), ['channel_occupied', 'member_added:ada'], 'a second connection on another broker is the same member');
    adaOnB.unsubscribe('presence-room.1');
    await until(() => of(context, 'presence-room.1').includes('channel_vacated'), 'the room vacated', WAIT);
    await markers(context, [onA, onB], 5);
    assert.equal(of(context, 'presence-room.1'), ['channel_occupied', 'member_added:ada', 'member_removed:ada', 'channel_vacated']);
  });

  test('a broker that stops slowly: its members and channels are removed once, by it or by the one left', async (context) => {
    const [a, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    const onA = context.clients[0]!;
    const cyOnB = client(context, b, 'cy');
    await subscribed(cyOnB.subscribe('presence-room.2'), 'cy on B');
    await until(() => of(context, 'presence-room.2').includes('member_added:cy'), 'cy added', WAIT);
    // B's shutdown waits on an observer past the removal delay: its connections are gone, it has not left the cluster.
    await b.broker.publish('stall.now' as never, {} as never);
    const stopped = b.stop();
    await until(() => of(context, 'presence-room.2').includes('channel_vacated'), 'the room vacated', WAIT);
    stall.resolve(undefined);
    await stopped;
    // A marker through A, the broker left: whatever either sent before is in.
    onA.channel('private-team.markers')!.trigger('client-marker', { from: 'a', n: 6 });
    await until(() => context.events.some((event) => event['data'] === JSON.stringify({ from: 'a', n: 6 })), 'the last marker', WAIT);
    assert.equal(of(context, 'presence-room.2'), ['channel_occupied', 'member_added:cy', 'member_removed:cy', 'channel_vacated']);
    assert.is(a.broker.stats().pusherWebhooks![0]!.failed, 0);
  });
}

test.run();
