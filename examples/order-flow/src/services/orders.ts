import type { EventChannel } from '@eventwire/event-channel';
import { say, type Shop } from '../events.js';

/**
 * Places orders, records payments, marks orders paid once the payment arrived.
 * Given its channel (source `order-service`): main.ts connects it to the
 * broker; the tests, to a test hub.
 */
export async function startOrderService(channel: EventChannel<Shop>) {
  channel.on('events.payment.received', async ({ orderId }) => {
    await channel.emit('events.order.paid', { orderId });
  });
  await channel.ready();
  let placed = 0;
  return {
    channel,
    async placeOrder(total: number): Promise<string> {
      const orderId = `o${++placed}`;
      const quantity = 1 + (placed % 3);
      say('order-service', `placing ${orderId} (${total.toFixed(2)})`);
      await channel.emit(
        'events.order.created',
        { orderId, email: `customer${placed}@example.com`, items: [{ sku: `sku-${placed % 5}`, quantity }], total },
        { ack: true },
      );
      // The payment provider's callback, simulated: it arrives through the order service.
      await channel.emit('events.payment.received', { orderId, amount: total, method: 'card' }, { ack: true });
      return orderId;
    },
  };
}
