import { defineEvents } from '@eventwire/event-channel';
import { z } from 'zod';

/** The contract: declared once, enforced by the broker, typed in every service. */
export const shop = defineEvents({
  'events.order.created': z.object({
    orderId: z.string(),
    email: z.email(),
    items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })).min(1),
    total: z.number().positive(),
  }),
  'events.payment.received': z.object({ orderId: z.string(), amount: z.number().positive(), method: z.string() }),
  'events.order.paid': z.object({ orderId: z.string() }),
  'inventory.reserved': z.object({ orderId: z.string(), skus: z.array(z.string()) }),
  'fraud.review': z.object({ orderId: z.string(), total: z.number(), reason: z.string() }),
});
export type Shop = typeof shop;

/** Orders at or above this total are sent to the fraud desk (by the broker's hook). */
export const FRAUD_THRESHOLD = 1000;

/** One line per event, prefixed with who printed it. */
export function say(service: string, message: string): void {
  console.log(`${service.padEnd(13)} ${message}`);
}
