import type { EventChannel } from '@eventwire/event-channel';
import { say, type Shop } from '../events.js';

/** Reserves stock for every new order, on the channel it is given. */
export async function startInventoryService(channel: EventChannel<Shop>) {
  const stock = new Map<string, number>();
  channel.on('events.order.created', async (order) => {
    for (const item of order.items) stock.set(item.sku, (stock.get(item.sku) ?? 100) - item.quantity);
    const skus = order.items.map((item) => item.sku);
    say('inventory', `reserved ${skus.join(', ')} for ${order.orderId}`);
    await channel.emit('inventory.reserved', { orderId: order.orderId, skus });
  });
  await channel.ready();
  return { channel, stock };
}
