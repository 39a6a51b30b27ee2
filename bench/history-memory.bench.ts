// History memory bound (issue #29): what the in-memory history holds, in
// heap, against its `maxBytes` (the estimate `estimateEventBytes`).
//
// Run: cd bench && node --expose-gc --conditions=@eventwire/source --import tsx history-memory.bench.ts
//   HISTMEM_BOUND=64mb    the store's maxBytes in the flood (default 64 MiB)
//   HISTMEM_FLOOD=10      how many times the bound's worth of events the flood appends
//
// 2. Per shape of event (each in a store with no byte bound, all held): heap
//    used per held event after a full GC, against the estimate. The ratio
//    heap / estimate is the factor the bound holds within once garbage is
//    collected; the first shape (small, ~150 bytes of data) calibrates
//    EVENT_OVERHEAD_BYTES.
// 1. A flood (first, in a heap with nothing else held): 10× the bound's worth of small events through a store bounded at
//    HISTMEM_BOUND, so the bound trims all along. Heap used sampled every
//    5,000 appends without forcing a GC (the peak includes trimmed events V8
//    has not collected yet), and after a full GC at the end.
// Events are parsed from JSON, as the broker has them from a socket.
import { MemoryHistoryStore, estimateEventBytes } from '@eventwire/event-channel/protocol';
import type { EventEnvelope } from '@eventwire/event-channel';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const MiB = 1024 * 1024;
const parseSize = (text: string): number => {
  const match = /^(\d+)(kb|mb|gb)?$/i.exec(text.trim());
  if (!match) throw new Error(`not a size: ${text}`);
  return Number(match[1]) * ({ kb: 1024, mb: MiB, gb: 1024 * MiB } as Record<string, number>)[(match[2] ?? '').toLowerCase()]! || Number(match[1]);
};
const BOUND = parseSize(process.env['HISTMEM_BOUND'] ?? '64mb');
const FLOOD = Number(process.env['HISTMEM_FLOOD'] ?? 10);
const keep = { maxEvents: 100_000_000, maxAgeMs: 86_400_000 };

const shapes: Record<string, unknown> = {
  'small (~150 B data)': { orderId: 'o-000000', email: 'customer@example.com', items: [{ sku: 'sku-1', quantity: 2 }], total: 59.97, note: 'x'.repeat(40) },
  'one 4 KiB string': { body: 'y'.repeat(4096) },
  'one 64 KiB string': { body: 'z'.repeat(65_536) },
  '1,000 numbers': Array.from({ length: 1000 }, (_, i) => i * 1.5),
  '200 small objects': Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item-${i}`, ok: true })),
  '500 keys': Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`key${i}`, i])),
};

let counter = 0;
function makeEvent(topic: string, json: string): EventEnvelope {
  counter++;
  return JSON.parse(
    `{"id":"01J${String(counter).padStart(23, '0')}","topic":"${topic}","source":"urn:bench","time":"${new Date().toISOString()}","data":${json}}`,
  ) as EventEnvelope;
}

function heapUsed(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

flood();
shapesTable();

/** A flood through a bounded store. */
function flood(): void {
  const json = JSON.stringify(shapes['small (~150 B data)']);
  const store = new MemoryHistoryStore({ maxBytes: BOUND, maxEvents: 1e9, dedupWindowMs: 120_000 });
  const base = heapUsed();
  const perEvent = estimateEventBytes(makeEvent('bench.0', json));
  const total = Math.ceil((FLOOD * BOUND) / perEvent);
  let peak = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < total; i++) {
    store.append(makeEvent(`flood.${i % 1000}`, json), keep);
    if (i % 5000 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - base);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const settled = heapUsed() - base;
  console.log(`flood: ${total} small events through maxBytes ${(BOUND / MiB).toFixed(0)} MiB in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} appends/s)`);
  console.log(`  store.bytes ${(store.bytes / MiB).toFixed(1)} MiB; heap above the empty store: peak ${(peak / MiB).toFixed(0)} MiB (${(peak / BOUND).toFixed(2)}× the bound), after a full GC ${(settled / MiB).toFixed(0)} MiB (${(settled / BOUND).toFixed(2)}×)`);
  console.log('');
}

/** Per shape, each in its own store, dropped before the next. */
function shapesTable(): void {
console.log('| event | held | estimate per event | heap per event | heap / estimate |');
console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, data] of Object.entries(shapes)) measureShape(name, data);
}

/** One shape: its store is dropped when this returns, before the next is measured. */
function measureShape(name: string, data: unknown): void {
  const json = JSON.stringify(data);
  const sample = makeEvent('bench.0', json);
  const estimate = estimateEventBytes({ ...sample, offset: 'X'.repeat(26) + ':1000000' });
  const count = Math.max(200, Math.min(200_000, Math.floor((48 * MiB) / estimate)));
  const store = new MemoryHistoryStore({ maxBytes: 1e15, maxEvents: 1e9 });
  const before = heapUsed();
  for (let i = 0; i < count; i++) store.append(makeEvent(`bench.${i % 100}`, json), keep);
  const after = heapUsed();
  const perEvent = (after - before) / count;
  const estimated = store.bytes / count;
  console.log(`| ${name} | ${count} | ${estimated.toFixed(0)} B | ${perEvent.toFixed(0)} B | ${(perEvent / estimated).toFixed(2)} |`);
  void store.close();
}
