// Private and presence channels (#12): rules with typed params, default deny,
// and no private event ever reaching a connection whose user is not allowed on
// that exact channel — through a wildcard, a replay, a history page, or any surface.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { topicMatches } from '@eventwire/event-channel';
import { RawClient, startBroker, until, upgradeRefusal, type TestBroker } from './helpers.js';

const test = suite<{ server: TestBroker<never> }>('channel rules');

test.before(async (context) => {
  context.server = (await startBroker(
    {
      // The token is the user id here: the rules are what is under test.
      authenticate: ({ token }) => (token ? { id: token } : undefined),
      allowAnonymous: true,
      history: [{ pattern: '#' }],
    },
    (broker) => {
      broker.channel('private-user.{userId}', (user, { userId }) => user?.id === userId);
      broker.channel('presence-room.{roomId}', (user) => user !== undefined);
      broker.channel('private-order.{orderId}', async (user, { orderId }) => {
        if (orderId === 'explodes') throw new Error('database down');
        return user?.id === 'ada' && orderId.startsWith('ada-');
      });
    },
  )) as never;
});
test.after(async (context) => {
  await context.server.stop();
});

async function as(server: TestBroker<never>, user: string | undefined): Promise<RawClient> {
  const client = await RawClient.open(user === undefined ? server.url : `${server.url}/?token=${encodeURIComponent(user)}`);
  client.send({ type: 'hello', protocol: 1 });
  await client.next((frame) => frame['type'] === 'welcome');
  return client;
}

let frameId = 0;
async function subscribe(client: RawClient, pattern: string): Promise<string> {
  const id = `s${++frameId}`;
  client.send({ type: 'subscribe', id, pattern });
  const answer = await client.next((frame) => frame['id'] === id);
  return answer['type'] === 'ack' ? 'ack' : String(answer['code']);
}

const events = (client: RawClient): string[] => client.received.filter((f) => f['type'] === 'event').map((f) => (f['event'] as { topic: string }).topic);

// [what, user, pattern, answer, the events it must see of those published below]
const cases: Array<[string, string | undefined, string, string, string[]]> = [
  ['own private channel', 'ada', 'private-user.ada', 'ack', ['private-user.ada']],
  ['a foreign private channel', 'ada', 'private-user.bob', 'forbidden', []],
  ['every topic (#)', 'ada', '#', 'ack', ['public.bob']],
  ['a wildcard over private channels', 'ada', 'private-user.*', 'forbidden', []],
  ['# under a private name', 'ada', 'private-user.#', 'forbidden', []],
  ['a partial wildcard', 'ada', 'private-#', 'invalid_pattern', []],
  ['another case is another (public) name', 'ada', 'PRIVATE-user.bob', 'ack', []],
  ['a trailing space', 'ada', 'private-user.bob ', 'invalid_pattern', []],
  ['an extra segment matches no rule', 'ada', 'private-user.bob.x', 'forbidden', []],
  ['leading zeros are another id', '7', 'private-user.007', 'forbidden', []],
  ['an empty segment', 'ada', 'private-user..ada', 'invalid_pattern', []],
  ['a dot-dot path', 'ada', 'private-user.ada..', 'invalid_pattern', []],
  ['a unicode look-alike', 'ada', 'private-user.\u0430da', 'forbidden', []],
  ['a private name no rule covers', 'ada', 'private-unknown.x', 'forbidden', []],
  ['anonymous on a private channel', undefined, 'private-user.ada', 'forbidden', []],
  ['anonymous on a presence channel', undefined, 'presence-room.7', 'forbidden', []],
  ['anonymous on every topic', undefined, '#', 'ack', ['public.bob']],
  ['a user on a presence channel', 'bob', 'presence-room.7', 'ack', ['presence-room.7']],
  ['a leading wildcard', 'ada', '*.bob', 'ack', ['public.bob']],
  ['an async rule that says yes', 'ada', 'private-order.ada-1', 'ack', ['private-order.ada-1']],
  ['an async rule that says no', 'bob', 'private-order.ada-1', 'forbidden', []],
  ['an async rule that throws denies', 'ada', 'private-order.explodes', 'forbidden', []],
];
const guardedTopics = ['private-user.ada', 'private-user.bob', 'private-user.007', 'private-order.ada-1', 'presence-room.7', 'public.bob'];

test('native: a table of subscriptions — the answer, and that no foreign private event arrives', async ({ server }) => {
  const clients: RawClient[] = [];
  for (const [what, user, pattern, expected] of cases) {
    const client = await as(server, user);
    clients.push(client);
    assert.is(await subscribe(client, pattern), expected, what);
  }
  for (const topic of guardedTopics) await server.broker.publish(topic as never, { to: topic } as never);
  for (const client of clients) {
    client.send({ type: 'ping', id: 'barrier' });
    await client.next((frame) => frame['id'] === 'barrier');
  }
  cases.forEach(([what, , , , expected], index) => assert.equal(events(clients[index]!), expected, what));
  for (const client of clients) client.close();
});

test('Synap: the same table over /pubsub/ws?topics= — refused upgrades answer the same code, and no foreign private event arrives', async ({ server }) => {
  const clients: Array<RawClient | undefined> = [];
  // Synap's topics= is a comma-separated list whose entries are trimmed: the
  // trailing space is gone before the rule sees the (foreign) name.
  const synapAnswer: Record<string, string> = { 'a trailing space': 'forbidden' };
  for (const [what, user, pattern, tableAnswer] of cases) {
    const expected = synapAnswer[what] ?? tableAnswer;
    const url = `${server.url}/pubsub/ws?topics=${encodeURIComponent(pattern)}${user === undefined ? '' : `&token=${encodeURIComponent(user)}`}`;
    if (expected === 'ack') {
      const client = await RawClient.open(url);
      assert.is((await client.next())['type'], 'connected', what);
      clients.push(client);
    } else {
      const refusal = await upgradeRefusal(url);
      assert.is((refusal.body as { error: { code: string } }).error.code, expected, what);
      assert.is(refusal.status, expected === 'forbidden' ? 403 : 400, what);
      clients.push(undefined);
    }
  }
  for (const topic of guardedTopics) await server.broker.publish(topic as never, { to: topic } as never);
  // Synap subscribers have no barrier frame: wait for what each must get, then one more public event all wide ones see.
  await server.broker.publish('public.last' as never, 'end' as never);
  for (const [index, client] of clients.entries()) {
    if (!client) continue;
    const [what, , pattern, , expected] = cases[index]!;
    const wanted = expected.length + (topicMatches(pattern, 'public.last') ? 1 : 0);
    await until(() => client.received.length - 1 >= wanted, `${what}: deliveries`);
    const topics = client.received.slice(1).map((frame) => String(frame['topic'])).filter((topic) => topic !== 'public.last');
    assert.equal(topics, expected, what);
  }
  for (const client of clients) client?.close();
});

test('publishing into a private channel needs its rule too (native and HTTP); anonymous HTTP publish is refused', async ({ server }) => {
  const ada = await as(server, 'ada');
  ada.send({ type: 'publish', id: 'p1', event: { id: 'x1', topic: 'private-user.bob', source: 't', time: new Date().toISOString(), data: 1 } });
  assert.is((await ada.next((frame) => frame['id'] === 'p1'))['code'], 'forbidden');
  ada.send({ type: 'publish', id: 'p2', event: { id: 'x2', topic: 'private-user.ada', source: 't', time: new Date().toISOString(), data: 2 } });
  assert.is((await ada.next((frame) => frame['id'] === 'p2'))['type'], 'ack');
  ada.close();
  const post = (user: string | undefined) =>
    fetch(`${server.httpUrl}/pubsub/private-user.bob/publish`, {
      method: 'POST',
      headers: user ? { authorization: `Bearer ${user}` } : {},
      body: JSON.stringify({ payload: 1 }),
    });
  assert.equal([(await post(undefined)).status, (await post('ada')).status, (await post('bob')).status], [403, 403, 200]);
});

test('Synap subscribers: a foreign private channel refuses the upgrade; # connects but never sees a private event', async ({ server }) => {
  assert.is((await upgradeRefusal(`${server.url}/pubsub/ws?topics=private-user.bob&token=ada`)).status, 403);
  const wide = await RawClient.open(`${server.url}/pubsub/ws?topics=%23&token=ada`);
  const own = await RawClient.open(`${server.url}/pubsub/ws?topics=private-user.ada&token=ada`);
  await wide.next();
  await own.next();
  await server.broker.publish('private-user.ada' as never, 'secret' as never);
  await server.broker.publish('public.synap' as never, 'hello' as never);
  await until(() => own.received.length === 2 && wide.received.length === 2, 'deliveries');
  assert.equal(wide.received.slice(1).map((f) => f['topic']), ['public.synap']);
  assert.equal(own.received.slice(1).map((f) => f['topic']), ['private-user.ada']);
  wide.close();
  own.close();
});

test('history and replay keep private events to their exact, allowed channel', async ({ server }) => {
  await server.broker.publish('private-user.bob' as never, 'for bob' as never);
  const page = (await (await fetch(`${server.httpUrl}/history/${encodeURIComponent('#')}`, { headers: { authorization: 'Bearer ada' } })).json()) as { events: Array<{ topic: string }> };
  assert.ok(page.events.length > 0);
  assert.ok(page.events.every((event) => !event.topic.startsWith('private-') && !event.topic.startsWith('presence-')), 'no guarded event through #');
  assert.is((await fetch(`${server.httpUrl}/history/private-user.bob`, { headers: { authorization: 'Bearer ada' } })).status, 403);
  const bobs = (await (await fetch(`${server.httpUrl}/history/private-user.bob`, { headers: { authorization: 'Bearer bob' } })).json()) as { events: unknown[] };
  assert.ok(bobs.events.length > 0);
  // A resume of '#' from the start replays no private event.
  const ada = await as(server, 'ada');
  const epoch = server.broker.stats().history!.epoch;
  ada.send({ type: 'resume', id: 'r', patterns: ['#'], since: `${epoch}:0` });
  await ada.next((frame) => frame['id'] === 'r');
  ada.send({ type: 'ping', id: 'done' });
  await ada.next((frame) => frame['id'] === 'done');
  const replayed = events(ada);
  assert.ok(replayed.length > 0);
  assert.ok(replayed.every((topic) => !topic.startsWith('private-') && !topic.startsWith('presence-')), replayed.join());
  // A history frame for a foreign private channel is refused.
  ada.send({ type: 'history', id: 'h', pattern: 'private-user.bob' });
  assert.is((await ada.next((frame) => frame['id'] === 'h'))['code'], 'forbidden');
  ada.close();
});

test('with longer topic limits, a long guarded name is still checked by its rule (never skipped as malformed)', async () => {
  const server = (await startBroker(
    { authenticate: ({ token }) => (token ? { id: token } : undefined), topicLimits: { maxLength: 1000, maxSegments: 32 } },
    (broker) => void broker.channel('private-user.{userId}', (user, { userId }) => user?.id === userId),
  )) as unknown as TestBroker<never>;
  try {
    const long = 'u'.repeat(300);
    const client = await as(server, 'ada');
    assert.is(await subscribe(client, `private-user.${long}`), 'forbidden', 'a foreign 300-character id');
    client.close();
    const owner = await as(server, long);
    assert.is(await subscribe(owner, `private-user.${long}`), 'ack', 'its owner');
    owner.close();
  } finally {
    await server.stop();
  }
});

test.run();
