// MemoryHistoryStore alone (issue #29): appends per CPU second in each 100k
// of 1M, no disk. Run: `cd bench && node --conditions=@eventwire/source --import tsx history-memory-store.bench.ts [store module] [clock skew ms]`
// The store module defaults to this tree's; pass another checkout's
// packages/event-channel/src/history/memory-store.ts to compare. A skew of
// 600000 stores every event 10 minutes in the past: older than the dedup window.
import { fileURLToPath } from 'node:url';
import type { EventEnvelope } from '@eventwire/event-channel';
import type { MemoryHistoryStore as Store } from '@eventwire/event-channel/protocol';

const modulePath = process.argv[2] ?? fileURLToPath(new URL('../packages/event-channel/src/history/memory-store.ts', import.meta.url));
const skew = Number(process.argv[3] ?? 0);
const { MemoryHistoryStore } = (await import(modulePath)) as { MemoryHistoryStore: typeof Store };
const store = new MemoryHistoryStore({ now: () => Date.now() - skew });
const data = { orderId: 'o-000000', email: 'customer@example.com', items: [{ sku: 'sku-1', quantity: 2 }], total: 59.97, note: 'x'.repeat(40) };
const cpuSeconds = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};
let started = cpuSeconds();
const rates: string[] = [];
for (let i = 1; i <= 1_000_000; i++) {
  const envelope: EventEnvelope = { id: `01JBENCH${String(i).padStart(18, '0')}`, topic: `bench.orders.${i % 1000}`, source: 'bench', time: new Date().toISOString(), data };
  store.append(envelope, { maxEvents: 1000, maxAgeMs: 86_400_000 });
  if (i % 100_000 === 0) {
    const now = cpuSeconds();
    rates.push(`${(100_000 / (now - started) / 1000).toFixed(0)}k`);
    started = now;
  }
}
console.log(`skew ${skew} ms, appends per CPU second per 100,000: ${rates.join(' ')}`);
