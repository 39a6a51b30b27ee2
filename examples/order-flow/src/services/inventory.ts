import { EventChannel } from '@eventwire/event-channel';
import { say, shop } from '../events.js';

/** Reserves stock for every new order. */
export async function startInventoryService(url: string) {
  const channel = new EventChannel({ url, events: shop, source: 'inventory' });
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
