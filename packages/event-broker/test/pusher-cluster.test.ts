// The Pusher surface across a broker cluster: two brokers on one real
// nats-server. pusher-js clients on different brokers are one audience: an
// event the official server library sends to one broker reaches subscribers
// on the other, `socket_id` leaves the sender out wherever it is connected,
// client events cross brokers, and presence members are shared.
import PusherServer from 'pusher';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import type { PusherAppOptions } from '../src/index.js';
import { pusherClient, type PusherClient, subscribed } from './pusher-js.js';
import { startClusterBroker, untilRouted as awaitRoute } from './cluster-helpers.js';
import { until, type TestBroker } from './helpers.js';

const app: PusherAppOptions = { id: 'shop', key: 'shop-key', secret: 'shop-secret-0123456789' };
const WAIT = 5000;

const test = suite<{ nats: NatsServer; brokers: TestBroker<never>[]; clients: PusherClient[] }>('pusher surface across a broker cluster');

function client(context: { clients: PusherClient[] }, broker: TestBroker<never>, token?: string): PusherClient {
  const pusher = pusherClient(broker, app.key, token);
  context.clients.push(pusher);
  return pusher;
}

if (!natsServerAvailable()) {
  test.skip('(nats-server not installed: the Pusher cluster tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.nats = await startNatsServer();
    context.clients = [];
    context.brokers = [];
    for (const node of ['pusher-a', 'pusher-b']) {
      const broker = await startClusterBroker<never>(
        node,
        {
          pusher: { apps: [app] },
          allowAnonymous: true,
          authenticate: ({ token }) => (token ? { id: token } : undefined),
          cluster: { url: context.nats.url, node, reconnectTimeWaitMs: 50, presence: { heartbeatMs: 100 } },
        },
        (instance) => {
          instance.channel('private-team.{team}', (user) => user !== undefined);
          instance.channel('presence-room.{room}', (user) => (user ? { name: user.id } : false));
        },
      );
      context.brokers.push(broker);
    }
  });
  test.after.each((context) => {
    for (const pusher of context.clients.splice(0)) pusher.disconnect();
  });
  test.after(async (context) => {
    await Promise.all(context.brokers.map((broker) => broker.stop()));
    await context.nats.stop();
  });

  test('a trigger on broker A reaches pusher-js on broker B; socket_id leaves the sender out across brokers', async (context) => {
    const [a, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    const onA = client(context, a);
    const onB = client(context, b);
    const gotA: unknown[] = [];
    const gotB: unknown[] = [];
    const channelA = onA.subscribe('orders');
    const channelB = onB.subscribe('orders');
    channelA.bind('OrderShipped', (data: unknown) => gotA.push(data));
    channelB.bind('OrderShipped', (data: unknown) => gotB.push(data));
    await Promise.all([subscribed(channelA, 'A subscribed'), subscribed(channelB, 'B subscribed')]);
    const library = new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(a.port), useTLS: false });
    let probes = 0;
    channelB.bind('probe', () => probes++);
    await awaitRoute(() => library.trigger('orders', 'probe', {}), () => probes > 0, 'A → B');
    const before = { a: gotA.length, b: gotB.length };
    await library.trigger('orders', 'OrderShipped', { n: 'to others' }, { socket_id: onB.connection.socket_id });
    await library.trigger('orders', 'OrderShipped', { n: 'to all' });
    await until(() => gotA.length === before.a + 2 && gotB.length === before.b + 1, 'the last two events', WAIT);
    assert.equal(gotB.slice(before.b), [{ n: 'to all' }], 'the socket on B named by socket_id was left out');
    assert.equal(gotA.slice(before.a), [{ n: 'to others' }, { n: 'to all' }]);
  });

  test('presence and client events across brokers', async (context) => {
    const [a, b] = context.brokers as [TestBroker<never>, TestBroker<never>];
    const ada = client(context, a, 'ada');
    type PresenceChannel = { members: { count: number } } & Parameters<typeof subscribed>[0];
    const room = ada.subscribe('presence-room.1') as unknown as PresenceChannel;
    await subscribed(room, 'ada in the room');
    const added: string[] = [];
    room.bind('pusher:member_added', (member) => void added.push((member as { id: string }).id));
    const bob = client(context, b, 'bob');
    const bobRoom = bob.subscribe('presence-room.1') as unknown as typeof room;
    const bobSucceeded = (await subscribed(bobRoom, 'bob in the room')) as { count: number };
    await until(() => added.includes('bob'), 'ada (on A) sees bob (on B) join', WAIT);
    assert.ok(bobSucceeded.count >= 1);
    await until(() => bobRoom.members.count === 2, 'bob sees both members', WAIT);

    const team = ada.subscribe('private-team.red');
    const bobTeam = bob.subscribe('private-team.red');
    const heard: unknown[] = [];
    bobTeam.bind('client-typing', (data: unknown) => heard.push(data));
    await Promise.all([subscribed(team, 'ada on the team'), subscribed(bobTeam, 'bob on the team')]);
    let sent = 0;
    await awaitRoute(() => void team.trigger('client-typing', { who: 'ada', n: ++sent }), () => heard.length > 0, 'a client event A → B');
    assert.equal((heard[0] as { who: string }).who, 'ada');
  });
}

test.run();
