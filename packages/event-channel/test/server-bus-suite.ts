// What every transport over a server's own pub/sub (redis://, postgres://)
// must do when that server goes away and comes back, run against the real
// server: reconnecting with the cause, subscriptions live again, emits made
// meanwhile held and sent in order, a `gap` for each subscription that was
// live (the server keeps nothing for a connection that was away), a server
// that is not there yet, and toOthers/except.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, type HistoryGap } from '../src/index.js';
import { collector, nextStatus, uniqueTopic, until, within } from './helpers.js';

export interface RestartableServer {
  readonly url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export interface ServerBusHarness {
  start(): Promise<RestartableServer>;
  /** A channel on `url` that retries quickly. */
  connect(url: string): EventChannel;
}

const WAIT = 3000;

export function runServerBusSuite(name: string, harness: ServerBusHarness): void {
  const test = suite(`${name}: server restarts`);

  test('a restart: reconnecting, then open with subscriptions live, a gap for each, and emits made meanwhile sent in order', async () => {
    const server = await harness.start();
    const channel = harness.connect(server.url);
    const other = harness.connect(server.url);
    const topic = uniqueTopic('r');
    try {
      const got = collector<number>(3);
      const gaps: HistoryGap[] = [];
      channel.onGap((gap) => void gaps.push(gap));
      await channel.on(topic, (data) => got.push((data as { n: number }).n)).ready;
      await channel.on(`${topic}.#`, () => {}).ready;
      await other.on(topic, () => {}).ready;
      const down = Promise.all([nextStatus(channel, 'reconnecting'), nextStatus(other, 'reconnecting')]);
      await server.stop();
      const [reconnecting] = await within(down, WAIT, 'reconnecting');
      assert.is(reconnecting.state === 'reconnecting' && reconnecting.error?.code, 'connection_closed');
      const held = [1, 2, 3].map((n) => channel.emit(topic, { n }, { ack: true }));
      const up = Promise.all([nextStatus(channel, 'open', 10_000), nextStatus(other, 'open', 10_000)]);
      await server.start();
      await within(up, 10_000, 'both open again');
      await within(Promise.all(held), WAIT, 'held emits sent');
      assert.equal(await within(got.done, WAIT, 'in order after the restart'), [1, 2, 3]);
      assert.equal(
        gaps.map((gap) => [gap.pattern, gap.reason]).sort(),
        [
          [topic, 'no_history'],
          [`${topic}.#`, 'no_history'],
        ],
        'each live subscription is told it may have missed events',
      );
      const after = collector<unknown>(1);
      await other.on(`${topic}.after`, (data) => after.push(data)).ready;
      await channel.emit(`${topic}.after`, { n: 4 });
      await within(after.done, WAIT, 'delivery to the other after the restart');
    } finally {
      await Promise.all([channel.close(), other.close()]);
      await server.stop();
    }
  });

  test('a server that is not there yet: reconnecting until it is, no gap; close() while waiting ends at once', async () => {
    const server = await harness.start();
    await server.stop();
    const channel = harness.connect(server.url);
    const gaps: HistoryGap[] = [];
    channel.onGap((gap) => void gaps.push(gap));
    const topic = uniqueTopic('r');
    const got = collector<unknown>(1);
    const subscribed = channel.on(topic, (data) => got.push(data)).ready;
    const waiting = await within(nextStatus(channel, 'reconnecting'), WAIT, 'reconnecting');
    assert.is(waiting.state === 'reconnecting' && waiting.error?.code, 'connection_closed');
    const emitted = channel.emit(topic, 'held', { ack: true });
    const open = nextStatus(channel, 'open', 10_000);
    await server.start();
    await within(open, 10_000, 'open once the server is up');
    await within(subscribed, WAIT, 'the subscribe made while down is live');
    await within(emitted, WAIT, 'the held emit');
    assert.equal(await within(got.done, WAIT, 'the held emit delivered'), ['held']);
    assert.equal(gaps, [], 'nothing was live before, so nothing was missed');
    await channel.close();
    await server.stop();
    const gone = harness.connect(server.url);
    await within(nextStatus(gone, 'reconnecting'), WAIT, 'reconnecting to nothing');
    await within(gone.close(), 1000, 'close while reconnecting');
    assert.is(gone.status.state, 'closed');
  });

  test('toOthers leaves the emitting channel out; except names another channel by its connectionId', async () => {
    const server = await harness.start();
    const [ada, bob, carol] = [harness.connect(server.url), harness.connect(server.url), harness.connect(server.url)];
    const topic = uniqueTopic('r');
    try {
      const got: Record<string, string[]> = { ada: [], bob: [], carol: [] };
      await Promise.all(Object.entries({ ada, bob, carol }).map(([who, channel]) => channel.on(topic, (data) => void got[who]!.push((data as { n: string }).n)).ready));
      await ada.emit(topic, { n: 'others' }, { toOthers: true, ack: true });
      await ada.emit(topic, { n: 'not-bob' }, { except: bob.connectionId!, ack: true });
      await ada.emit(topic, { n: 'all' }, { ack: true });
      await until(() => Object.values(got).every((list) => list.includes('all')), 'everyone got the last', WAIT);
      assert.equal(got, { ada: ['not-bob', 'all'], bob: ['others', 'all'], carol: ['others', 'not-bob', 'all'] });
    } finally {
      await Promise.all([ada.close(), bob.close(), carol.close()]);
      await server.stop();
    }
  });

  test.run();
}
