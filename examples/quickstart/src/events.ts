import { defineEvents } from '@eventwire/event-channel';
import { z } from 'zod';

/** The one contract every service below shares; none of them knows the others. */
export const shop = defineEvents({
  'order.created': z.object({
    id: z.string(),
    email: z.email(),
    items: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })).min(1),
    total: z.number().positive(),
  }),
  'inventory.reserved': z.object({ orderId: z.string(), skus: z.array(z.string()) }),
  'payment.received': z.object({ orderId: z.string(), amount: z.number().positive() }),
  'order.paid': z.object({ id: z.string() }),
});
