// The durable log store: the shared store suite, then what only a durable
// store must do — survive a reopen with its epoch, cut a torn or corrupt tail
// at any byte and serve the rest, refuse (and later accept) when it cannot write.
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventEnvelope, EventwireError } from '@eventwire/event-channel';
import { runHistoryStoreSuite } from '../../event-channel/test/history-store-suite.js';
import { LogHistoryStore, logHistoryStoreDefaults } from '../src/index.js';

const dirs: string[] = [];
const freshDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'history-log-'));
  dirs.push(dir);
  return dir;
};

runHistoryStoreSuite('log', { create: async (options) => new LogHistoryStore({ dir: freshDir(), fsync: 'never', ...options }) });

const test = suite('durable log store');
test.after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const keep = { maxEvents: 1_000_000, maxAgeMs: 1e12 };
let counter = 0;
const event = (topic: string, data: unknown): EventEnvelope => ({ id: `e-${++counter}`, topic, source: 's', time: new Date().toISOString(), data });
const segments = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('.log')).sort();

test('reopened, it keeps its events, epoch, sequence and dedup ids', async () => {
  const dir = freshDir();
  const first = new LogHistoryStore({ dir, fsync: 'always' });
  for (let i = 1; i <= 5; i++) first.append(event('kept.x', i), keep);
  const id = first.read('#', 4, 1)[0]!.envelope.id;
  await first.close();
  const again = new LogHistoryStore({ dir });
  assert.is(again.epoch, first.epoch);
  assert.is(again.head, 5);
  assert.equal(again.read('kept.x', 0, 10).map((e) => e.envelope.data), [1, 2, 3, 4, 5]);
  assert.is(again.findById(id)?.seq, 5);
  assert.match(again.append(event('kept.x', 6), keep).offset!, new RegExp(`^${again.epoch}:6$`));
  await again.close();
});

test('a deleted log starts a new epoch', async () => {
  const dir = freshDir();
  const first = new LogHistoryStore({ dir });
  first.append(event('gone.x', 1), keep);
  await first.close();
  for (const name of segments(dir)) rmSync(join(dir, name));
  const again = new LogHistoryStore({ dir });
  assert.is.not(again.epoch, first.epoch);
  assert.is(again.head, 0);
  await again.close();
});

test('a torn tail, cut at any byte of the newest file, is dropped; every whole record before it is served', async () => {
  const source = freshDir();
  const store = new LogHistoryStore({ dir: source, fsync: 'never' });
  for (let i = 1; i <= 20; i++) store.append(event('torn.x', { i, pad: 'x'.repeat(i * 7) }), keep);
  await store.close();
  const [file] = segments(source);
  const bytes = readFileSync(join(source, file!));
  // Where each record ends, to know how many whole ones a cut leaves.
  const ends: number[] = [];
  for (let position = 0; position < bytes.length; ) {
    position += 8 + bytes.readUInt32LE(position);
    ends.push(position);
  }
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: bytes.length - 1 }), async (cut) => {
      const dir = freshDir();
      writeFileSync(join(dir, 'epoch'), readFileSync(join(source, 'epoch')));
      writeFileSync(join(dir, file!), bytes);
      truncateSync(join(dir, file!), cut);
      const warnings: string[] = [];
      const reopened = new LogHistoryStore({ dir, onWarning: (message) => warnings.push(message) });
      const whole = ends.filter((end) => end <= cut).length;
      assert.equal(reopened.read('#', 0, 100).map((e) => (e.envelope.data as { i: number }).i), Array.from({ length: whole }, (_, k) => k + 1));
      assert.is(warnings.length, ends.includes(cut) || cut === 0 ? 0 : 1, `cut at ${cut}`);
      // The file was repaired: appending continues cleanly, and a reopen agrees.
      reopened.append(event('torn.x', { i: whole + 1, pad: '' }), keep);
      await reopened.close();
      const third = new LogHistoryStore({ dir });
      assert.is(third.read('#', 0, 100).length, whole + 1);
      await third.close();
      rmSync(dir, { recursive: true, force: true });
    }),
    { numRuns: 60 },
  );
});

test('a corrupt byte inside the newest record is caught by its CRC and that record is not served', async () => {
  const dir = freshDir();
  const store = new LogHistoryStore({ dir, fsync: 'never' });
  for (let i = 1; i <= 3; i++) store.append(event('crc.x', `value-${i}`), keep);
  await store.close();
  const path = join(dir, segments(dir)[0]!);
  const bytes = readFileSync(path);
  bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff; // inside the last record's JSON
  writeFileSync(path, bytes);
  const reopened = new LogHistoryStore({ dir });
  assert.equal(reopened.read('#', 0, 10).map((e) => e.envelope.data), ['value-1', 'value-2']);
  assert.is(reopened.head, 2);
  await reopened.close();
});

test('when it cannot open its next file it refuses with unavailable, and recovers once it can', async () => {
  const dir = freshDir();
  const store = new LogHistoryStore({ dir, segmentBytes: 200, fsync: 'never' });
  store.append(event('full.x', 'x'.repeat(150)), keep); // seq 1 fills the first segment
  // The next segment's name is taken by a directory: its open fails (EISDIR), as EMFILE would.
  const blocker = join(dir, `${String(2).padStart(20, '0')}.log`);
  mkdirSync(blocker);
  assert.throws(() => store.append(event('full.x', 'refused'), keep), (error: { code?: string }) => error.code === 'unavailable');
  assert.is(store.head, 1, 'no seq was taken by the refused event');
  rmSync(blocker, { recursive: true });
  const accepted = store.append(event('full.x', 'accepted'), keep);
  assert.match(accepted.offset!, /:2$/);
  await store.close();
  const reopened = new LogHistoryStore({ dir });
  assert.equal(reopened.read('#', 0, 10).map((e) => e.seq), [1, 2]);
  await reopened.close();
});

test('a full disk (ENOSPC from /dev/full) refuses with unavailable and retryAfterMs, and recovers once there is room', async () => {
  const dir = freshDir();
  const store = new LogHistoryStore({ dir, segmentBytes: 200, fsync: 'never' });
  store.append(event('full.x', 'x'.repeat(150)), keep); // seq 1 fills the first segment
  // The next segment is /dev/full: it opens, and every write to it fails with ENOSPC, as on a full disk.
  const next = join(dir, `${String(2).padStart(20, '0')}.log`);
  symlinkSync('/dev/full', next);
  for (let attempt = 0; attempt < 2; attempt++) {
    assert.throws(
      () => store.append(event('full.x', 'refused'), keep),
      (error: EventwireError) => error.code === 'unavailable' && error.retryAfterMs === logHistoryStoreDefaults.retryAfterMs && (error.cause as { code?: string }).code === 'ENOSPC',
    );
  }
  assert.is(store.head, 1, 'no seq was taken by the refused events');
  rmSync(next);
  assert.match(store.append(event('full.x', 'accepted'), keep).offset!, /:2$/);
  const own = new LogHistoryStore({ dir: freshDir(), segmentBytes: 200, fsync: 'never', retryAfterMs: 250 });
  own.append(event('full.x', 'x'.repeat(150)), keep);
  symlinkSync('/dev/full', join(own.dir, `${String(2).padStart(20, '0')}.log`));
  assert.throws(() => own.append(event('full.x', 'refused'), keep), (error: EventwireError) => error.retryAfterMs === 250);
  await own.close();
  await store.close();
});

test('dedup ids survive a reopen inside the window, and are forgotten on reopen past it', async () => {
  const dir = freshDir();
  let now = 1_000_000;
  const first = new LogHistoryStore({ dir, fsync: 'never', dedupWindowMs: 10_000, now: () => now });
  const ids = Array.from({ length: 50 }, (_, i) => first.append(event('dedup.x', i), keep).id);
  await first.close();
  const inside = new LogHistoryStore({ dir, dedupWindowMs: 10_000, now: () => now });
  assert.equal(ids.map((id) => inside.findById(id)?.seq), ids.map((_, i) => i + 1));
  // Offsets are derived from seq and epoch for events read back from disk, the same as they were routed.
  const offsets = ids.map((_, i) => `${first.epoch}:${i + 1}`);
  assert.equal(ids.map((id) => inside.findById(id)?.envelope.offset), offsets);
  assert.equal(inside.read('dedup.x', 0, 100).map((e) => e.envelope.offset), offsets);
  assert.equal(inside.readLast('dedup.x', 1).map((e) => e.envelope), [{ ...inside.read('dedup.x', 49, 1)[0]!.envelope }]);
  await inside.close();
  now += 10_001;
  const past = new LogHistoryStore({ dir, dedupWindowMs: 10_000, now: () => now });
  assert.equal(ids.map((id) => past.findById(id)), ids.map(() => undefined));
  assert.is(past.read('dedup.x', 0, 100).length, 50, 'the events themselves are kept');
  await past.close();
});

test('over maxBytes the oldest segments go, and a reader behind them is told of a gap', async () => {
  const dir = freshDir();
  const store = new LogHistoryStore({ dir, segmentBytes: 300, maxBytes: 900, fsync: 'never' });
  for (let i = 1; i <= 30; i++) store.append(event('bytes.x', 'y'.repeat(100)), keep);
  assert.ok(store.bytes <= 900 + 300, `bytes ${store.bytes}`);
  assert.ok(segments(dir).length <= 4);
  assert.ok(store.trimmedAfter('bytes.x', 0));
  assert.ok(!store.trimmedAfter('bytes.x', 29));
  await store.close();
});

test.run();
