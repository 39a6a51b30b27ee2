import { EventBrokerServer, createAuditLog } from '@eventwire/event-broker';
import { P } from 'ts-pattern';
import { say, shop } from './events.js';

/** Orders at or above this total are sent to the fraud desk. */
export const FRAUD_THRESHOLD = 1000;

/**
 * The broker of the example: enforces the event map, audits every event to a
 * JSONL file, and derives `fraud.review` from large orders — the services
 * know nothing about either.
 */
export async function startShopBroker(options: { port: number; auditLog: string }) {
  const broker = new EventBrokerServer({ port: options.port, events: shop, log: (line) => say('broker', line) });
  const audit = createAuditLog({ path: options.auditLog });
  broker.observe('#', audit.observer);
  broker.observe(
    { topic: 'events.order.created', data: { total: P.number.gte(FRAUD_THRESHOLD) } },
    (event, ctx) => ctx.emit('fraud.review', { orderId: event.data.orderId, total: event.data.total, reason: `total ≥ ${FRAUD_THRESHOLD}` }),
  );
  const address = await broker.listen();
  return {
    broker,
    address,
    async close() {
      await broker.close();
      await audit.close();
    },
  };
}
