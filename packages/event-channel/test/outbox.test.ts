// The outbox's deadlines (issue #29): held items leave at their deadline,
// in order, through one timer however many wait; what is drained or put
// back never includes an item already due.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PendingEmit, deadlineClock } from '../src/emit-deadline.js';
import { Outbox, emitExpiry, holdPending } from '../src/outbox.js';
import { EventwireError } from '../src/errors.js';
import { until } from './helpers.js';

interface Item {
  readonly n: number;
  readonly emit: PendingEmit;
}

/** Items whose emits record how they settled. */
function items(count: number, timeoutMs: number, outcomes: Map<number, string>): Item[] {
  return Array.from({ length: count }, (_, n) => ({
    n,
    emit: PendingEmit.within(
      timeoutMs,
      () => outcomes.set(n, 'resolved'),
      (error: EventwireError) => outcomes.set(n, error.code),
    ),
  }));
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
}

const test = suite('outbox deadlines');

test('2,001 held emits: one timer, each rejected with timeout at its deadline and in emit order, none drained after', async () => {
  const outcomes = new Map<number, string>();
  const order: number[] = [];
  const outbox = new Outbox<Item>(5000, 'reject', {
    deadline: (item) => item.emit.deadline,
    expired: (item) => {
      order.push(item.n);
      item.emit.expire(50);
    },
  });
  const before = activeTimers();
  const held = items(2001, 50, outcomes);
  const startedAt = deadlineClock();
  for (const item of held) holdPending(outbox, item);
  assert.is(activeTimers() - before, 1, 'one timer for the whole outbox');
  await until(() => outcomes.size === 2001, 'every held emit settled', 2000);
  assert.ok(deadlineClock() - startedAt >= 50, 'not before the deadline');
  assert.equal(new Set(outcomes.values()), new Set(['timeout']));
  assert.equal(order, held.map((item) => item.n), 'expired in emit order');
  assert.is(outbox.size, 0);
  assert.equal(outbox.drain(), []);
  assert.ok(activeTimers() <= before, 'no timer left behind');
});

test('later items stay and drain in order; a drain expires what is due even before the timer fires', async () => {
  const outcomes = new Map<number, string>();
  const outbox = new Outbox<Item>(10, 'reject', emitExpiry(30));
  const [early] = items(1, 30, outcomes);
  holdPending(outbox, early!);
  await until(() => outcomes.has(0), 'the early one expired', 1000);
  const late = items(3, 10_000, outcomes).map((item) => ({ ...item, n: item.n + 1 }));
  for (const item of late) holdPending(outbox, item);
  // Already due when pushed (a deadline in the past): the drain must not return it.
  const due: Item = { n: 9, emit: new PendingEmit(() => outcomes.set(9, 'resolved'), (error) => outcomes.set(9, error.code), deadlineClock() - 1) };
  outbox.requeue([due]);
  assert.is(outcomes.get(9), 'timeout', 'put back past its deadline: expired at once');
  assert.equal(outbox.drain().map((item) => item.n), [1, 2, 3]);
  assert.is(outcomes.get(0), 'timeout');
});

test('requeued items go back in front with their own deadlines; a sent one times out as such', async () => {
  const outcomes = new Map<number, string>();
  const messages = new Map<number, string>();
  const outbox = new Outbox<Item>(10, 'reject', emitExpiry(40));
  const make = (n: number, timeoutMs: number): Item => ({
    n,
    emit: PendingEmit.within(timeoutMs, () => outcomes.set(n, 'resolved'), (error) => (outcomes.set(n, error.code), messages.set(n, error.message))),
  });
  const inFlight = make(0, 40);
  inFlight.emit.sent = true;
  const held = make(1, 10_000);
  holdPending(outbox, held);
  outbox.requeue([inFlight]);
  await until(() => outcomes.has(0), 'the requeued one expired', 1000);
  assert.is(outcomes.get(0), 'timeout');
  assert.ok(!outcomes.has(1));
  assert.equal(outbox.drain().map((item) => item.n), [1]);
  // Messages are for people; the test only checks the two cases differ.
  const unsent = make(2, 0);
  unsent.emit.expire(0);
  assert.is.not(messages.get(0), messages.get(2));
});

test('an emit settles once: a late ack after its timeout, or a timeout after its ack, changes nothing', () => {
  const seen: string[] = [];
  const emit = PendingEmit.within(10, () => seen.push('resolved'), (error) => seen.push(error.code));
  emit.expire(10);
  emit.resolve();
  emit.reject(new EventwireError('connection_closed', 'late'));
  assert.equal(seen, ['timeout']);
  assert.ok(emit.settled);
});

test('without an expiry nothing leaves but by drain or overflow (the broker cluster link’s outbox)', async () => {
  const outbox = new Outbox<{ n: number }>(2, 'drop-oldest');
  const before = activeTimers();
  outbox.push({ n: 1 });
  outbox.push({ n: 2 });
  assert.equal(outbox.push({ n: 3 }), { n: 1 });
  assert.is(activeTimers(), before, 'no timer');
  assert.equal(outbox.drain(), [{ n: 2 }, { n: 3 }]);
});

test.run();
