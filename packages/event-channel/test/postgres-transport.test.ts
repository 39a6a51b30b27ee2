// postgres:// against a real PostgreSQL: the shared transport conformance
// suite and the server-restart suite, then what is PostgreSQL's own: an
// event past NOTIFY's 8,000-byte limit (1 MiB) still arrives, in order with
// the small ones around it; a large event whose row is gone is a `trimmed`
// gap; old rows are cleaned up; NOTIFY from plain SQL takes part; an
// unknown role is refused without retrying.
import postgres from 'postgres';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { postgresAvailable, startPostgres, type PostgresServer } from '../../../scripts/testing/postgres-server.js';
import { EventChannel, postgresTransportDefaults, type EventwireError, type HistoryGap } from '../src/index.js';
import { collector, nextStatus, uniqueTopic, within } from './helpers.js';
import { runServerBusSuite } from './server-bus-suite.js';
import { runTransportSuite } from './transport-suite.js';

const available = postgresAvailable();
const WAIT = 5000;

if (available) {
  runTransportSuite('postgres', async () => {
    const server = await startPostgres();
    return { connect: () => new EventChannel({ url: server.url }), teardown: () => server.stop() };
  });
  runServerBusSuite('postgres', {
    start: startPostgres,
    connect: (url) => new EventChannel({ url, postgres: { backoff: () => 20 } }),
  });
}

const test = suite<{ server: PostgresServer }>('postgres transport');

if (!available) {
  test.skip('(PostgreSQL not installed: the PostgreSQL tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    context.server = await startPostgres();
  });
  test.after(async (context) => {
    await context.server.stop();
  });

  test('a 1 MiB event arrives whole, in order with the small events around it', async ({ server }) => {
    const topic = uniqueTopic('big');
    const publisher = new EventChannel({ url: server.url });
    const subscriber = new EventChannel({ url: server.url });
    try {
      const got = collector<{ topic: string; data: unknown }>(4);
      await subscriber.on(`${topic}.#`, (data, event) => got.push({ topic: event.topic, data })).ready;
      const big = { blob: 'é'.repeat(512 * 1024) }; // 1 MiB of UTF-8
      // Not awaited one by one: the large one's body is read back while the small ones behind it wait.
      await Promise.all([
        publisher.emit(`${topic}.a`, 'before'),
        publisher.emit(`${topic}.b`, big, { ack: true }),
        publisher.emit(`${topic}.c`, 'after'),
        publisher.emit(`${topic}.d`, { blob: 'x'.repeat(7990) }),
      ]);
      const received = await within(got.done, WAIT, 'four events');
      // (Compared, not asserted equal: uvu would print a megabyte on failure.)
      assert.equal(received.map((event) => event.topic), ['a', 'b', 'c', 'd'].map((leaf) => `${topic}.${leaf}`));
      assert.ok((received[1]!.data as { blob?: string }).blob === big.blob, 'the 1 MiB body is intact');
      assert.is(received[2]!.data, 'after');
      assert.is((received[3]!.data as { blob: string }).blob.length, 7990, 'just over the limit once enveloped: stored too');
    } finally {
      await Promise.all([publisher.close(), subscriber.close()]);
    }
  });

  test('a large event whose row is gone is a trimmed gap; old rows are deleted by later large publishes', async ({ server }) => {
    const sql = postgres(server.url, { onnotice: () => {} });
    const topic = uniqueTopic('gone');
    const channel = new EventChannel({ url: server.url });
    try {
      const gaps = collector<HistoryGap>(1);
      channel.onGap((gap) => gaps.push(gap));
      await channel.on(topic, () => {}).ready;
      await channel.emit(`${topic}.warmup`, { blob: 'w'.repeat(9000) }, { ack: true }); // creates the table
      const table = sql(postgresTransportDefaults.table);
      await sql`insert into ${table} (id, payload, created_at) values (${globalThis.crypto.randomUUID()}, 'old', now() - interval '1 hour')`;
      await sql`select pg_notify('eventwire', ${`@ref:${globalThis.crypto.randomUUID()}:${topic}`})`;
      assert.equal(await within(gaps.done, WAIT, 'the gap'), [{ pattern: topic, reason: 'trimmed', lastOffset: undefined }]);
      // A new channel's first large publish cleans up (then at most once a minute).
      const cleaner = new EventChannel({ url: server.url });
      await cleaner.emit(`${topic}.x`, { blob: 'c'.repeat(9000) }, { ack: true });
      await cleaner.close();
      // The clean-up runs ahead of that publish on its connection: done once the publish is acknowledged.
      const [{ old }] = await sql<[{ old: number }]>`select count(*)::int as old from ${table} where payload = 'old'`;
      assert.is(old, 0);
      const [{ kept }] = await sql<[{ kept: number }]>`select count(*)::int as kept from ${table}`;
      assert.ok(kept >= 2, "the recent rows (this test's two, and earlier tests') stay");
    } finally {
      await channel.close();
      await sql.end();
    }
  });

  test('NOTIFY from plain SQL reaches a channel; a non-event is reported, not a crash; emits are plain NOTIFYs', async ({ server }) => {
    const sql = postgres(server.url, { onnotice: () => {} });
    const topic = uniqueTopic('sql');
    const errors: EventwireError[] = [];
    const channel = new EventChannel({ url: server.url, onError: (error) => errors.push(error) });
    try {
      const heard = new Promise<string>((resolve) => void sql.listen('eventwire', (payload) => resolve(payload)));
      await new Promise((resolve) => setImmediate(resolve));
      const got = collector<unknown>(1);
      await channel.on(topic, (data) => got.push(data)).ready;
      await sql`select pg_notify('eventwire', 'not json')`;
      const envelope = { id: '01J00000000000000000000000', topic, source: 'urn:sql', time: new Date().toISOString(), data: { from: 'sql' } };
      await sql`select pg_notify('eventwire', ${JSON.stringify(envelope)})`;
      assert.equal(await within(got.done, WAIT, 'the event from SQL'), [{ from: 'sql' }]);
      assert.equal(errors.map((error) => error.code), ['invalid_envelope']);
      const sent = await channel.emit(`${topic}.out`, { n: 1 }, { ack: true });
      assert.is(await within(heard, WAIT, 'a plain LISTEN'), 'not json', 'the first NOTIFY of this test');
      assert.ok(sent.id);
    } finally {
      await channel.close();
      await sql.end();
    }
  });

  test('another NOTIFY channel keeps applications apart', async ({ server }) => {
    const topic = uniqueTopic('app');
    const [appA, appB] = [new EventChannel({ url: server.url, postgres: { channel: 'app_a' } }), new EventChannel({ url: server.url, postgres: { channel: 'app_b' } })];
    try {
      const a: unknown[] = [];
      const b = collector<unknown>(1);
      await appA.on(topic, (data) => void a.push(data)).ready;
      await appB.on(topic, (data) => b.push(data)).ready;
      await appB.emit(topic, 'b', { ack: true });
      await within(b.done, WAIT, 'b');
      const marker = collector<unknown>(1);
      await appA.on(`${topic}.end`, (data) => marker.push(data)).ready;
      await appA.emit(`${topic}.end`, 'end', { ack: true });
      await within(marker.done, WAIT, 'a marker');
      assert.equal(a, []);
    } finally {
      await Promise.all([appA.close(), appB.close()]);
    }
  });

  test('an unknown role closes the channel with unauthorized, without retrying', async ({ server }) => {
    const channel = new EventChannel({ url: server.url.replace('eventwire@', 'nobody@'), postgres: { backoff: () => 20 }, onError: () => {} });
    const closed = await within(nextStatus(channel, 'closed'), WAIT, 'closed');
    assert.is(closed.state === 'closed' && closed.error?.code, 'unauthorized');
    await channel.close();
  });
}

test.run();
