import { z } from 'zod';
import { defineEvents, EventChannel } from '@eventwire/event-channel';

export const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'user.signup': z.object({ email: z.email() }),
});

// 'memory://shop' in one process, or 'ws://localhost:15500' through the broker: same code.
const channel = new EventChannel({ url: 'memory://shop', events: shop });

channel.on('order.*', (data, event) => {
  // event.topic: 'order.created' | 'order.shipped'; narrowing it narrows event.data
  console.log(event.topic, data.id);
});
await channel.ready();

await channel.emit('order.created', { id: 'o1', total: 42 }); // typed and validated
// channel.emit('order.created', { id: 'o1' })  ← compile error; at runtime: invalid_payload

await channel.close();
