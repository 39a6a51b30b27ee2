// The shape check every publish pays (#37): findPayloadProblem on typical
// event data, beside JSON.stringify of the same data (what the broker does
// to every event it sends anyway). Run: node --import tsx payload-shape.bench.ts
// from bench/ (after building the packages: it imports their dist).
import { findPayloadProblem, payloadLimitDefaults } from '@eventwire/event-channel/protocol';

const payloads: ReadonlyArray<[string, unknown]> = [
  ['a number', 42],
  ['the compare bench\'s event, { t, pad }', { t: 12_345.678, pad: 'x'.repeat(60) }],
  ['order: 12 values, 3 levels', { orderId: 'o-123', amount: 12.5, items: [{ sku: 'a', qty: 1 }, { sku: 'b', qty: 2 }], customer: { id: 'c1', tier: 'gold' } }],
  ['1,000 keys', Object.fromEntries(Array.from({ length: 1000 }, (_, index) => [`k${index}`, index]))],
];

function nsPer(fn: () => unknown, targetMs = 300): number {
  let rounds = 1_000;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let round = 0; round < rounds; round++) fn();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms > targetMs) return (ms * 1e6) / rounds;
    rounds *= 4;
  }
}

const depth = payloadLimitDefaults.maxDepth;
for (const [name, data] of payloads) {
  const walk = nsPer(() => findPayloadProblem(data, depth));
  const stringify = nsPer(() => JSON.stringify(data));
  console.log(`${name}: shape check ${walk.toFixed(0)} ns, JSON.stringify ${stringify.toFixed(0)} ns (${((walk / stringify) * 100).toFixed(0)}%)`);
}
