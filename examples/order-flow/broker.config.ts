// The order flow's broker, as a config file: what `npm start` runs, and what
// `npm run broker -- --config examples/order-flow/broker.config.ts` serves alone.
// It enforces the event map, audits every event, and derives `fraud.review`
// from large orders: the services know nothing about either.
import { fileURLToPath } from 'node:url';
import { defineBrokerConfig } from '@eventwire/event-broker';
import { P } from 'ts-pattern';
import { FRAUD_THRESHOLD, shop } from './src/events.js';

export default defineBrokerConfig({
  port: 15500,
  events: shop,
  // Kept (in memory) so a service that was away — restarted, or its
  // connection cut — gets what it missed when it comes back, or is told of a gap.
  history: [
    { pattern: 'events.#', maxEvents: 10_000 },
    { pattern: 'fraud.review', maxEvents: 10_000 },
  ],
  // Inside the example's own folder (examples/order-flow/audit/, git-ignored): found beside the code
  // that wrote it, gone with the checkout; the broker's start-up lines print the path.
  auditLog: { path: fileURLToPath(new URL('./audit/audit.jsonl', import.meta.url)), maxBytes: '10mb', maxFiles: 3 },
  setup(broker) {
    broker.observe({ topic: 'events.order.created', data: { total: P.number.gte(FRAUD_THRESHOLD) } }, (event, ctx) =>
      ctx.emit('fraud.review', { orderId: event.data.orderId, total: event.data.total, reason: `total ≥ ${FRAUD_THRESHOLD}` }),
    );
  },
});
