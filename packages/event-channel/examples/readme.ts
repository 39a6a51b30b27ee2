import { z } from 'zod';
import { EventChannel, EventwireError, defineEvents } from '@eventwire/event-channel';

// 1. Declare the events once. Any Standard Schema validator works; zod shown.
export const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number().positive() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'user.signup': z.object({ email: z.email() }),
});

// 2. Channels on the same memory:// name share a bus; 'ws://…' goes through the broker.
const orders = new EventChannel({ url: 'memory://shop', events: shop, source: 'orders' });
const watcher = new EventChannel({ url: 'memory://shop', events: shop, source: 'watcher' });

// 3. Typed handlers: `order.*` gets order.created | order.shipped, narrowed by topic.
watcher.on('order.*', (data, event) => {
  if (event.topic === 'order.shipped') console.log(`shipped ${data.id} via ${event.data.carrier}`);
  else console.log(`created ${data.id} for ${event.data.total}`);
});
await watcher.ready(); // subscriptions are live

await orders.emit('order.created', { id: 'o1', total: 42 });
await orders.emit('order.shipped', { id: 'o1', carrier: 'ups' });

// 4. Bad data never leaves the process: a typed error with a stable code.
try {
  await orders.emit('order.created', { id: 'o2', total: -5 });
} catch (error) {
  if (error instanceof EventwireError) console.log(`refused: ${error.code}`);
}

// 5. Close: in-flight events are delivered, running handlers settle.
await orders.close();
await watcher.close();
