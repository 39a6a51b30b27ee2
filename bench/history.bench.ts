// History benchmark (issue #11): what durable history costs, and the store
// decision. Run: pnpm --filter @eventwire/bench bench:history (needs `npm run build`).
//
// 1. Append throughput of the durable log (LogHistoryStore) with fsync
//    `never`, every 100 ms and `always`, against LMDB (lmdb-js, the other
//    candidate) written the way the broker would have to use it — one
//    synchronous put per event, before routing — with and without sync, and
//    against the memory store. Disk bytes per event; time to reopen (rebuild).
// 2. Replay: a subscriber that missed 10,000 events reconnects to a broker
//    that kept them (same process, kept store); time from the broker being
//    back until the subscriber has all of them.
// Each measurement: median of RUNS runs. Events: ~150-byte JSON data.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventChannel, type EventEnvelope } from '@eventwire/event-channel';
import { EventBrokerServer, LogHistoryStore, MemoryHistoryStore, type HistoryStore } from '@eventwire/event-broker';
import { open as openLmdb } from 'lmdb';
import { quick } from './quick.js';

const RUNS = quick ? 1 : 3;
const APPENDS = quick ? 5000 : 50_000;
const SYNC_APPENDS = quick ? 200 : 2000; // fsync 'always' is slow: fewer
const REPLAY = 10_000;
const keep = { maxEvents: 1_000_000, maxAgeMs: 3_600_000 };
const data = { orderId: 'o-000000', email: 'customer@example.com', items: [{ sku: 'sku-1', quantity: 2 }], total: 59.97, note: 'x'.repeat(40) };

let counter = 0;
const envelope = (): EventEnvelope => ({
  id: `01JBENCH${String(++counter).padStart(18, '0')}`,
  topic: 'bench.history.orders',
  source: 'bench',
  time: new Date().toISOString(),
  data,
});

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
/** Bytes the files of a directory take on disk (allocated blocks: LMDB's map file is sparse). */
const dirBytes = (dir: string): number =>
  readdirSync(dir, { withFileTypes: true }).reduce(
    (total, entry) => total + (entry.isDirectory() ? dirBytes(join(dir, entry.name)) : statSync(join(dir, entry.name)).blocks * 512),
    0,
  );

interface Row {
  store: string;
  eventsPerSecond: number;
  bytesPerEvent?: number;
  reopenMs?: number;
}

function measureStore(name: string, count: number, make: (dir: string) => HistoryStore, reopen?: (dir: string) => HistoryStore): Row {
  const rates: number[] = [];
  const sizes: number[] = [];
  const reopens: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-history-'));
    const store = make(dir);
    const started = process.hrtime.bigint();
    for (let i = 0; i < count; i++) store.append(envelope(), keep);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    rates.push(count / seconds);
    void store.close();
    if (reopen) {
      sizes.push(dirBytes(dir) / count);
      const reopenStarted = process.hrtime.bigint();
      const again = reopen(dir);
      reopens.push(Number(process.hrtime.bigint() - reopenStarted) / 1e6);
      if (again.head !== count) throw new Error(`${name}: reopened with ${again.head} of ${count}`);
      void again.close();
    }
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    store: name,
    eventsPerSecond: median(rates),
    ...(sizes.length > 0 && { bytesPerEvent: median(sizes), reopenMs: median(reopens) }),
  };
}

/** LMDB as the broker would use it: one synchronous put per event (key: seq), before routing. */
async function measureLmdb(name: string, count: number, noSync: boolean): Promise<Row> {
  const rates: number[] = [];
  const sizes: number[] = [];
  const reopens: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const dir = mkdtempSync(join(tmpdir(), 'bench-lmdb-'));
    const db = openLmdb<string, number>({ path: join(dir, 'db'), noSync, compression: false });
    const started = process.hrtime.bigint();
    for (let seq = 1; seq <= count; seq++) db.putSync(seq, JSON.stringify({ seq, at: Date.now(), event: envelope() }));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    rates.push(count / seconds);
    await db.close();
    sizes.push(dirBytes(dir) / count);
    // Reopening is instant, but the broker's index (per topic, by id) still has to be rebuilt: read every record.
    const reopenStarted = process.hrtime.bigint();
    const again = openLmdb<string, number>({ path: join(dir, 'db'), compression: false });
    let seen = 0;
    for (const { value } of again.getRange()) if (JSON.parse(value)) seen++;
    reopens.push(Number(process.hrtime.bigint() - reopenStarted) / 1e6);
    if (seen !== count) throw new Error(`lmdb reopened with ${seen} of ${count}`);
    await again.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { store: name, eventsPerSecond: median(rates), bytesPerEvent: median(sizes), reopenMs: median(reopens) };
}

async function measureReplay(): Promise<number> {
  const times: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    // One memory store outlives the restart, as a data directory would.
    const historyStore = new MemoryHistoryStore();
    const options = { port: 0, history: [{ pattern: 'bench.#', maxEvents: 100_000 }], historyStore, maxReplayEvents: REPLAY };
    let broker = new EventBrokerServer(options);
    const { port } = await broker.listen();
    const subscriber = new EventChannel({ url: `ws://127.0.0.1:${port}`, ws: { backoff: () => 0 } });
    let received = 0;
    let done: () => void = () => {};
    await subscriber.on('bench.replay', () => {
      received++;
      if (received === REPLAY) done();
    }).ready;
    await broker.close();
    broker = new EventBrokerServer({ ...options, port });
    await broker.listen();
    // Published while the subscriber is away (routing is synchronous: it cannot reconnect in between).
    for (let i = 0; i < REPLAY; i++) void broker.publish('bench.replay', i);
    const started = process.hrtime.bigint();
    await new Promise<void>((resolve) => (done = resolve));
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    await subscriber.close();
    await broker.close();
  }
  return median(times);
}

const rows: Row[] = [
  measureStore('memory store', APPENDS, () => new MemoryHistoryStore()),
  measureStore('log, fsync never', APPENDS, (dir) => new LogHistoryStore({ dir, fsync: 'never' }), (dir) => new LogHistoryStore({ dir })),
  measureStore('log, fsync every 100 ms', APPENDS, (dir) => new LogHistoryStore({ dir, fsync: 100 }), (dir) => new LogHistoryStore({ dir })),
  measureStore('log, fsync always', SYNC_APPENDS, (dir) => new LogHistoryStore({ dir, fsync: 'always' }), (dir) => new LogHistoryStore({ dir })),
  await measureLmdb('LMDB putSync, noSync', APPENDS, true),
  await measureLmdb('LMDB putSync, synced', SYNC_APPENDS, false),
];
console.log(`history stores (${RUNS} run(s), median; ${APPENDS} appends, ${SYNC_APPENDS} for synced rows):`);
for (const row of rows) {
  console.log(
    `  ${row.store.padEnd(26)} ${Math.round(row.eventsPerSecond).toLocaleString('en-US').padStart(10)} events/s` +
      (row.bytesPerEvent === undefined ? '' : `   ${row.bytesPerEvent.toFixed(0)} disk bytes/event   reopen+rebuild ${row.reopenMs!.toFixed(0)} ms`),
  );
}
console.log(`replay of ${REPLAY.toLocaleString('en-US')} missed events to a reconnecting EventChannel: ${(await measureReplay()).toFixed(0)} ms (median of ${RUNS})`);
