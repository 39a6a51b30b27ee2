// History and recovery through a real broker on a real port: a client that
// drops gets what it missed, once and in order; when it cannot, it is told.
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, EventwireError, type EventEnvelope, type HistoryGap } from '@eventwire/event-channel';
import { LogHistoryStore, MemoryHistoryStore, logHistoryStoreDefaults, type BrokerOptions, type HistoryRetention } from '../src/index.js';
import { RawClient, keptMemoryStore, startBroker, until, within, type TestBroker } from './helpers.js';

const test = suite<{ server: TestBroker<never> | undefined; channels: EventChannel[]; dirs: string[] }>('history and recovery');

test.before.each((context) => {
  context.server = undefined;
  context.channels = [];
  context.dirs = [];
});
test.after.each(async (context) => {
  await Promise.all(context.channels.map((channel) => channel.close()));
  await context.server?.stop();
  for (const dir of context.dirs) rmSync(dir, { recursive: true, force: true });
});

async function start(context: { server: TestBroker<never> | undefined }, options: BrokerOptions): Promise<TestBroker<never>> {
  const server = (await startBroker(options)) as unknown as TestBroker<never>;
  context.server = server;
  return server;
}

function channelOn(context: { channels: EventChannel[] }, server: TestBroker<never>): EventChannel {
  const channel = new EventChannel({ url: server.url, ws: { backoff: () => 20 } });
  context.channels.push(channel);
  return channel;
}

async function publishMany(server: TestBroker<never>, topic: string, values: readonly number[]): Promise<void> {
  // broker.publish routes synchronously: nothing can connect between these.
  await Promise.all(values.map((value) => server.broker.publish(topic as never, value as never)));
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('a subscriber that drops gets what it missed, once and in order, then live, and no gap', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }], historyStore: keptMemoryStore() });
  const subscriber = channelOn(context, server);
  const gaps: HistoryGap[] = [];
  subscriber.onGap((gap) => gaps.push(gap));
  const got: number[] = [];
  await subscriber.on('hist.orders', (data) => void got.push(data as number)).ready;
  await publishMany(server, 'hist.orders', range(1, 5));
  await until(() => got.length === 5, 'the first five');
  await server.restart();
  await publishMany(server, 'hist.orders', range(6, 10)); // while the subscriber is away
  await until(() => subscriber.status.state === 'open', 'reconnected');
  await publishMany(server, 'hist.orders', range(11, 12));
  await until(() => got.length >= 12, 'all twelve');
  assert.equal(got, range(1, 12));
  assert.equal(gaps, []);
});

test('a pattern subscribed later resumes from when it was subscribed, not from when the channel connected', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }], historyStore: keptMemoryStore() });
  const subscriber = channelOn(context, server);
  await subscriber.on('hist.first', () => {}).ready; // connected, history at 0
  await publishMany(server, 'hist.later', range(1, 5)); // before the second pattern exists
  const got: number[] = [];
  await subscriber.on('hist.later', (data) => void got.push(data as number)).ready;
  await server.restart();
  await publishMany(server, 'hist.later', [6]);
  await until(() => got.length >= 1, 'the missed one');
  await subscriber.ready();
  await publishMany(server, 'hist.later', [7]);
  await until(() => got.length >= 2, 'live again');
  assert.equal(got, [6, 7]);
});

test('overlapping patterns resume together: each missed event once', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }], historyStore: keptMemoryStore() });
  const subscriber = channelOn(context, server);
  const wide: number[] = [];
  const narrow: number[] = [];
  await subscriber.on('hist.#', (data) => void wide.push(data as number)).ready;
  await subscriber.on('hist.a.*', (data) => void narrow.push(data as number)).ready;
  await server.restart();
  await publishMany(server, 'hist.a.x', [1, 2]);
  await publishMany(server, 'hist.b', [3]);
  await until(() => wide.length === 3 && narrow.length === 2, 'replayed');
  assert.equal(wide, [1, 2, 3]);
  assert.equal(narrow, [1, 2]);
  assert.is(subscriber.stats().received, 3);
});

test('a broker whose memory store restarted: an epoch gap, and what the new epoch holds is replayed', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }] });
  const subscriber = channelOn(context, server);
  const gaps: HistoryGap[] = [];
  subscriber.onGap((gap) => gaps.push(gap));
  const got: number[] = [];
  await subscriber.on('hist.epoch', (data) => void got.push(data as number)).ready;
  await publishMany(server, 'hist.epoch', [1]);
  await until(() => got.length === 1, 'first');
  await server.restart(); // a new MemoryHistoryStore: a new epoch
  await publishMany(server, 'hist.epoch', [2, 3]);
  await until(() => got.length === 3 && gaps.length === 1, 'replayed and told');
  assert.equal(got, [1, 2, 3]);
  assert.equal(gaps.map((gap) => [gap.pattern, gap.reason]), [['hist.epoch', 'epoch']]);
  assert.match(gaps[0]!.lastOffset!, /:1$/);
});

test('away longer than retention: a trimmed gap, then what is still stored', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#', maxEvents: 3 }], historyStore: keptMemoryStore() });
  const subscriber = channelOn(context, server);
  const gaps: HistoryGap[] = [];
  subscriber.onGap((gap) => gaps.push(gap));
  const got: number[] = [];
  await subscriber.on('hist.trim', (data) => void got.push(data as number)).ready;
  await publishMany(server, 'hist.trim', [1]);
  await until(() => got.length === 1, 'first');
  await server.restart();
  await publishMany(server, 'hist.trim', range(2, 10));
  await until(() => got.length === 4 && gaps.length === 1, 'the retained three');
  assert.equal(got, [1, 8, 9, 10]);
  assert.equal(gaps.map((gap) => gap.reason), ['trimmed']);
});

/** An event's data padded to ~1 KiB, so a few fill a small memory bound. */
const padded = (n: number): { n: number; pad: string } => ({ n, pad: 'p'.repeat(1000) });

test('a small historyMaxMemoryBytes (durable log): a subscriber back from a restart behind what memory kept gets a trimmed gap, then every retained event once and in order', async (context) => {
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-histmem-'));
  context.dirs.push(dir);
  // ~1.5 KiB per held event: about ten fit, of the 60 published while the subscriber is away.
  const server = await start(context, { history: [{ pattern: 'hist.#' }], dataDir: dir, historyMaxMemoryBytes: 16 * 1024 });
  const subscriber = channelOn(context, server);
  const gaps: HistoryGap[] = [];
  subscriber.onGap((gap) => gaps.push(gap));
  const got: number[] = [];
  await subscriber.on('hist.mem', (data) => void got.push((data as { n: number }).n)).ready;
  await server.broker.publish('hist.mem' as never, padded(1) as never);
  await until(() => got.length === 1, 'first');
  await server.restart(); // the log is reopened: memory holds only its newest events
  await Promise.all(range(2, 61).map((n) => server.broker.publish('hist.mem' as never, padded(n) as never)));
  await until(() => gaps.length === 1 && got.at(-1) === 61, 'told, then replayed up to the last');
  await server.broker.publish('hist.mem' as never, padded(62) as never);
  await until(() => got.at(-1) === 62, 'live again');
  assert.equal(gaps.map((gap) => gap.reason), ['trimmed']);
  const replayed = got.slice(1, -1);
  assert.ok(replayed.length >= 5 && replayed.length <= 15, `${replayed.length} replayed: the bound keeps about ten`);
  assert.equal(got, [1, ...range(62 - replayed.length, 61), 62], 'the newest retained, each once, in order');
});

test('a flood through a small historyMaxMemoryBytes (memory store): what history holds stays at the bound, and a reader from the start is told of the gap', async (context) => {
  const bound = 256 * 1024;
  const server = await start(context, { history: [{ pattern: 'hist.#', maxEvents: 1_000_000 }], historyMaxMemoryBytes: bound });
  const first = await server.broker.publish('hist.flood' as never, padded(0) as never);
  // 5,000 events of ~1 KiB: 20× the bound. Before the bound, all of them were held (maxEvents allowed it).
  for (let batch = 0; batch < 50; batch++) await Promise.all(range(1, 100).map((i) => server.broker.publish('hist.flood' as never, padded(batch * 100 + i) as never)));
  const response = await fetch(`${server.httpUrl}/history/hist.flood?since=${encodeURIComponent(first.event.offset!)}&limit=1000`);
  const page = (await response.json()) as { events: EventEnvelope[]; gap?: string };
  const held = page.events.map((event) => (event.data as { n: number }).n);
  assert.ok(held.length > 50 && held.length < 256, `${held.length} events held for a ${bound}-byte bound of ~1.5 KiB events`);
  assert.equal(held, range(5000 - held.length + 1, 5000), 'the newest, in order');
  assert.is(page.gap, 'trimmed', 'a reader from the first event is told what it missed');
});

test('a pattern held across a drop from a topic without history is a no_history gap', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }], historyStore: keptMemoryStore() });
  const subscriber = channelOn(context, server);
  const gaps: HistoryGap[] = [];
  subscriber.onGap((gap) => gaps.push(gap));
  await subscriber.on('plain.topic', () => {}).ready;
  await server.restart();
  await until(() => gaps.length === 1, 'told');
  assert.equal(gaps.map((gap) => [gap.pattern, gap.reason]), [['plain.topic', 'no_history']]);
});

test('a re-sent publish (same event id) is acknowledged again, stored and routed once', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }] });
  const watcher = await RawClient.native(server.url);
  watcher.send({ type: 'subscribe', id: 'w', pattern: 'hist.#' });
  await watcher.next((frame) => frame['id'] === 'w');
  const publisher = await RawClient.native(server.url);
  const event = { id: '01JDEDUPLICATE0000000000001', topic: 'hist.dedup', source: 'raw', time: new Date().toISOString(), data: 1 };
  publisher.send({ type: 'publish', id: 1, event });
  publisher.send({ type: 'publish', id: 2, event });
  const [first, second] = [await publisher.next((f) => f['id'] === 1), await publisher.next((f) => f['id'] === 2)];
  assert.equal([first['type'], second['type']], ['ack', 'ack']);
  assert.is(second['eventId'], first['eventId']);
  publisher.send({ type: 'ping', id: 'p' });
  await publisher.next((f) => f['id'] === 'p');
  watcher.send({ type: 'ping', id: 'wp' });
  await watcher.next((f) => f['id'] === 'wp');
  assert.is(watcher.received.filter((f) => f['type'] === 'event').length, 1);
  assert.is(server.broker.stats().duplicates, 1);
  assert.is(server.broker.stats().history?.head, 1);
  watcher.close();
  publisher.close();
});

test('GET /history/{pattern}: since, limit, last, and typed errors', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }] });
  await publishMany(server, 'hist.http', range(1, 5));
  const get = async (query: string) => {
    const response = await fetch(`${server.httpUrl}/history/${encodeURIComponent('hist.#')}${query}`);
    return { status: response.status, body: (await response.json()) as { events: EventEnvelope[]; more: boolean; epoch: string; gap?: string; error?: { code: string } } };
  };
  const all = await get('');
  assert.equal(all.body.events.map((e) => e.data), range(1, 5));
  assert.is(all.body.epoch, server.broker.stats().history?.epoch);
  const page = await get('?limit=2');
  assert.equal([page.body.events.map((e) => e.data), page.body.more], [[1, 2], true]);
  const next = await get(`?since=${encodeURIComponent(page.body.events[1]!.offset!)}&limit=2`);
  assert.equal(next.body.events.map((e) => e.data), [3, 4]);
  assert.equal((await get('?last=2')).body.events.map((e) => e.data), [4, 5]);
  const otherEpoch = await get('?since=someotherepoch:3');
  assert.equal([otherEpoch.body.gap, otherEpoch.body.events.length], ['epoch', 5]);
  assert.equal([(await get('?since=nonsense')).status, (await get('?limit=-1')).status], [400, 400]);
  const plain = await (await fetch(`${server.httpUrl}/history/plain.x`)).json();
  assert.is((plain as { gap: string }).gap, 'no_history');
});

test('a store that cannot write refuses the publish (unavailable) before anyone receives or acks it', async (context) => {
  // A store whose disk is full (or out of descriptors) until the test says otherwise.
  let broken = true;
  class FailingStore extends MemoryHistoryStore {
    override append(envelope: EventEnvelope, retention: HistoryRetention): EventEnvelope {
      if (broken) throw new EventwireError('unavailable', 'EMFILE: too many open files, open segment');
      return super.append(envelope, retention);
    }
  }
  const store = new FailingStore();
  const server = await start(context, { history: [{ pattern: 'hist.#' }], historyStore: store });
  const subscriber = channelOn(context, server);
  const got: unknown[] = [];
  await subscriber.on('hist.#', (data) => void got.push(data)).ready;
  const publisher = channelOn(context, server);
  const refused = await publisher.emit('hist.x', 1, { ack: true }).then(() => 'acked', (error: EventwireError) => error.code);
  assert.is(refused, 'unavailable');
  const http = await fetch(`${server.httpUrl}/pubsub/hist.x/publish`, { method: 'POST', body: JSON.stringify({ payload: 2 }) });
  assert.is(http.status, 503);
  assert.is(server.broker.stats().storeFailures, 2);
  broken = false; // the resource is back: no restart needed
  await publisher.emit('hist.x', 3, { ack: true });
  await until(() => got.length === 1, 'the stored one');
  assert.equal(got, [3]);
  assert.ok(server.errors.some((error) => error.code === 'unavailable'), 'reported');
});

test('a full disk (a real ENOSPC: the next log file is /dev/full) is refused with retryAfterMs on the native error frame and Retry-After on HTTP', async (context) => {
  const dir = mkdtempSync(join(tmpdir(), 'history-full-'));
  context.dirs = [dir];
  // Every record is over segmentBytes: each append opens the file named after its seq.
  const store = new LogHistoryStore({ dir, segmentBytes: 100, fsync: 'never' });
  const server = await start(context, { history: [{ pattern: 'hist.#' }], historyStore: store });
  await server.broker.publish('hist.x' as never, 1 as never); // seq 1, a file of its own
  const next = join(dir, `${String(2).padStart(20, '0')}.log`);
  symlinkSync('/dev/full', next);
  const publisher = channelOn(context, server);
  const refused = await publisher.emit('hist.x', 2, { ack: true }).then(
    () => undefined,
    (error: EventwireError) => error,
  );
  assert.equal([refused?.code, refused?.retryAfterMs], ['unavailable', logHistoryStoreDefaults.retryAfterMs]);
  const http = await fetch(`${server.httpUrl}/pubsub/hist.x/publish`, { method: 'POST', body: JSON.stringify({ payload: 3 }) });
  assert.is(http.status, 503);
  assert.is(http.headers.get('retry-after'), '1');
  assert.equal(((await http.json()) as { error: { code: string; retryAfterMs: number } }).error, {
    code: 'unavailable',
    message: (refused as EventwireError).message,
    retryAfterMs: 1000,
  });
  rmSync(next); // room again: accepted without a restart
  await publisher.emit('hist.x', 4, { ack: true });
  assert.equal(store.read('hist.x', 0, 10).map((event) => event.envelope.data), [1, 4]);
});

test('a channel reading history with since sees what a reconnect replays too, once', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }], historyStore: keptMemoryStore() });
  await publishMany(server, 'hist.chat', range(1, 3));
  const reader = channelOn(context, server);
  const got: number[] = [];
  await reader.on('hist.chat', (data) => void got.push(data as number), { since: { last: 2 } }).ready;
  await server.restart();
  await publishMany(server, 'hist.chat', [4]);
  await until(() => got.length === 3, 'backlog, then the missed one');
  assert.equal(got, [2, 3, 4]);
  await within(reader.ready(), 5000, 'ready after reconnect');
});

test('a replay larger than the client may hold unread stops at that bound and says so (replay_limit), instead of getting it cut', async (context) => {
  const server = await start(context, { history: [{ pattern: 'hist.#' }], historyStore: keptMemoryStore(), maxOutboundBytes: 64 * 1024 });
  const subscriber = channelOn(context, server);
  const gaps: HistoryGap[] = [];
  subscriber.onGap((gap) => gaps.push(gap));
  const got: number[] = [];
  await subscriber.on('hist.big', (data) => void got.push((data as { n: number }).n)).ready;
  await server.restart();
  await Promise.all(range(1, 100).map((n) => server.broker.publish('hist.big' as never, { n, pad: 'z'.repeat(2000) } as never)));
  await until(() => gaps.length === 1, 'told');
  assert.equal(gaps.map((gap) => gap.reason), ['replay_limit']);
  assert.ok(got.length > 0 && got.length < 100, `replayed ${got.length}`);
  assert.equal(got, range(1, got.length)); // in order, from the start
  assert.is(server.broker.stats().slowConsumersCut, 0);
});

test.run();
