import { P } from 'ts-pattern';
import { z } from 'zod';
import { EventChannel, EventwireError, defineEvents } from '@eventwire/event-channel';
import { EventBrokerServer } from '@eventwire/event-broker';

const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'fraud.review': z.object({ orderId: z.string(), total: z.number() }),
});

// 1. A broker that enforces the event map and acts on the stream.
const broker = new EventBrokerServer({ port: 0, events: shop }); // 0: any free port
broker.intercept('order.created', (event, ctx) => {
  if (event.data.total <= 0) ctx.reject('total must be positive');
});
broker.observe({ topic: 'order.created', data: { total: P.number.gte(1000) } }, (event, ctx) => {
  ctx.emit('fraud.review', { orderId: event.data.id, total: event.data.total });
});
const { url } = await broker.listen();

// 2. Services talk through it with typed channels over ws://.
const checkout = new EventChannel({ url, events: shop, source: 'checkout' });
const fraudDesk = new EventChannel({ url, events: shop, source: 'fraud-desk' });
const review = fraudDesk.once('fraud.review');
await fraudDesk.ready();

await checkout.emit('order.created', { id: 'o1', total: 5000 }, { ack: true });
console.log(`review requested for ${(await review).data.orderId}`);

try {
  await checkout.emit('order.created', { id: 'o2', total: 0 }, { ack: true });
} catch (error) {
  if (error instanceof EventwireError) console.log(`refused: ${error.code} (${error.message})`);
}

await checkout.close();
await fraudDesk.close();
await broker.close();
