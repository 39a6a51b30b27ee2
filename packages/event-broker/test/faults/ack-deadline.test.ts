// Issue #29, item 4: an acknowledged emit settles within `requestTimeoutMs`
// of its emit call whatever the connection does — acknowledged, or refused
// with a typed error — never left pending for the length of an outage.
// A publisher on ws:// emits acknowledged events at a steady rate while the
// broker (1) stops for three times the bound and comes back on the same
// port, (2) destroys the publisher's socket from its side mid-stream, and
// then for a while every socket it accepts. Checked: every emit settled
// within the bound (plus scheduling slack), none pending, only `timeout` as
// a failure; emits made once the publisher is open again are acknowledged;
// emits that timed out while no connection existed are never delivered; a
// subscriber gets every acknowledged event once (history deduplicates what
// was re-sent).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, type ChannelStatus } from '@eventwire/event-channel';
import { AckProbe, DeliveryCount } from '../../../event-channel/test/faults/ack-probe.js';
import { keptMemoryStore, startBroker, until, within, type TestBroker } from '../helpers.js';

const BOUND_MS = 500;
/** Timers on a shared, loaded machine fire late; this is that lateness, not part of the bound. */
const SLACK_MS = 400;
const EMIT_EVERY_MS = 2;

interface Context {
  server: TestBroker<Record<string, never>>;
  publisher: EventChannel;
  subscriber: EventChannel;
  probe: AckProbe;
  delivered: DeliveryCount;
  /** performance.now() of every `open` the publisher reported. */
  opened: number[];
  /** The broker's side of every connection it accepted (through Node's `net.server.socket` channel). */
  sockets: Socket[];
  /** While set, the broker's side of each new connection is destroyed as it is accepted. */
  refusing: boolean;
  accepted: (message: unknown) => void;
}

const test = suite<Context>('acknowledged emits settle within requestTimeoutMs (ws://, faults)');

test.before.each(async (context) => {
  // History on the topic: a re-sent emit is stored and delivered once, and the subscriber resumes what it missed.
  context.server = await startBroker({ history: [{ pattern: 'fault.#', maxEvents: 100_000 }], historyStore: keptMemoryStore() });
  context.sockets = [];
  context.refusing = false;
  const port = context.server.port;
  context.accepted = (message) => {
    const { socket } = message as { socket: Socket };
    if (socket.localPort !== port) return;
    if (context.refusing) socket.destroy();
    else context.sockets.push(socket);
  };
  subscribe('net.server.socket', context.accepted);
  context.delivered = new DeliveryCount();
  context.subscriber = new EventChannel({ url: context.server.url, ws: { backoff: () => 20 } });
  context.subscriber.on('fault.#', (data) => context.delivered.add((data as { seq: number }).seq));
  await within(context.subscriber.ready(), 2000, 'the subscriber');
  context.opened = [];
  context.publisher = new EventChannel({ url: context.server.url, ws: { backoff: () => 20, requestTimeoutMs: BOUND_MS } });
  context.publisher.onStatus((status: ChannelStatus) => {
    if (status.state === 'open') context.opened.push(performance.now());
  });
  await within(context.publisher.ready(), 2000, 'the publisher');
  context.probe = new AckProbe();
  context.probe.start((seq) => context.publisher.emit('fault.tick', { seq }, { ack: true }), EMIT_EVERY_MS);
  await until(() => context.probe.count('acked') >= 50, 'acknowledged emits before the fault', 5000);
});

test.after.each(async (context) => {
  unsubscribe('net.server.socket', context.accepted);
  context.probe.stop();
  await Promise.all([context.publisher.close(), context.subscriber.close()]);
  await context.server.stop().catch(() => {});
});

/** After the fault: the publisher is open again and acknowledging; then the common checks. */
async function recoveredAndBounded(context: Context, faultEndedAt: number): Promise<void> {
  const { probe } = context;
  await until(() => context.opened.some((at) => at > faultEndedAt) && probe.ackedSince(context.opened.at(-1)!) >= 50, 'acknowledged emits after the fault', 5000);
  probe.stop();
  await probe.settle(BOUND_MS + SLACK_MS);
  assert.equal(probe.pending.map((record) => record.seq), [], 'no emit is left pending');
  assert.equal(probe.unexpected(['acked', 'timeout']), {}, 'only acks and timeouts');
  assert.ok(probe.count('timeout') > 0, 'the fault outlasted the bound');
  const slow = probe.slowerThan(BOUND_MS + SLACK_MS);
  assert.equal(slow.length, 0, `${slow.length} of ${probe.records.length} emits settled later than ${BOUND_MS} + ${SLACK_MS} ms (slowest ${Math.round(probe.slowestMs)} ms; after the fault ended: ${probe.describe(slow, faultEndedAt)})`);
  const reopenedAt = context.opened.at(-1)!;
  const afterReopen = probe.records.filter((record) => record.startedAt > reopenedAt);
  assert.ok(afterReopen.length > 0);
  assert.equal(afterReopen.filter((record) => record.outcome !== 'acked').map((record) => record.seq), [], 'every emit after the reconnect is acknowledged');
  const acked = probe.records.filter((record) => record.outcome === 'acked').map((record) => record.seq);
  await until(() => acked.every((seq) => context.delivered.has(seq)), 'the subscriber has every acknowledged event', 5000);
  assert.equal(context.delivered.duplicates, [], 'no event delivered twice');
}

/** Emits made while there was no connection and whose deadline passed before there was one again: dropped, never delivered. */
function assertExpiredNeverSent(context: Context, from: number, to: number): void {
  const expired = context.probe.records.filter((record) => record.startedAt > from && record.startedAt + BOUND_MS < to);
  assert.ok(expired.length > 0, 'emits held through their whole bound');
  assert.equal(expired.filter((record) => record.outcome !== 'timeout').map((record) => record.seq), [], 'each of them timed out');
  assert.equal(expired.filter((record) => context.delivered.has(record.seq)).map((record) => record.seq), [], 'none of them was sent after its caller was told it failed');
}

test('the broker stops for three times the bound and comes back on the same port', async (context) => {
  await context.server.stop();
  const stoppedAt = performance.now();
  // The outage lasts until 100 emits have timed out: longer than the bound by construction.
  await until(() => context.probe.count('timeout') >= 100 && performance.now() - stoppedAt > 3 * BOUND_MS, 'emits timing out during the outage', 10_000);
  await context.server.start();
  const restartedAt = performance.now();
  await recoveredAndBounded(context, restartedAt);
  // Emits made a moment after the stop (the client has seen the close by then) up to a bound before the restart.
  assertExpiredNeverSent(context, stoppedAt + 100, restartedAt);
});

test('the broker destroys the client sockets mid-stream, then every socket it accepts for three times the bound', async (context) => {
  const { probe } = context;
  const cutAll = (): void => {
    for (const socket of context.sockets.splice(0)) socket.destroy();
  };
  // A cut the clients reconnect from at once: acks in flight are re-sent, and neither lost nor doubled.
  const firstCut = performance.now();
  cutAll();
  await until(() => context.opened.some((at) => at > firstCut) && probe.ackedSince(context.opened.at(-1)!) >= 50, 'acknowledged emits after the first cut', 5000);
  // Then a cut that lasts: every reconnect is destroyed as it is accepted.
  context.refusing = true;
  cutAll();
  const cutAt = performance.now();
  await until(() => probe.count('timeout') >= 100 && performance.now() - cutAt > 3 * BOUND_MS, 'emits timing out while every socket is destroyed', 10_000);
  context.refusing = false;
  const cutEndedAt = performance.now();
  await recoveredAndBounded(context, cutEndedAt);
  assertExpiredNeverSent(context, cutAt + 100, cutEndedAt);
});

test.run();
