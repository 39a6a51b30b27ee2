// Four services in one process, wired only by topics on memory://shop:
//   order-service emits order.created, then order.paid once payment arrives;
//   inventory reserves stock and emits inventory.reserved;
//   payments charges after the reservation and emits payment.received;
//   email mails on order.*; analytics counts everything on `#`.
// Usage: main.ts [--url URL] [--orders N] [--interval-ms MS]
//   --url   memory://shop (default: all in this process) or ws://host:port (through a broker)
//   default: forever, one order a second
import { parseArgs } from 'node:util';
import { EventChannel, EventwireError, MemoryHub } from '@eventwire/event-channel';
import { shop } from './events.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'memory://shop' },
    orders: { type: 'string' },
    'interval-ms': { type: 'string', default: '1000' },
  },
});
const orderLimit = values.orders === undefined ? Infinity : Number(values.orders);
const intervalMs = Number(values['interval-ms']);

const url = values.url;
const hub = new MemoryHub();
const connect = (source: string) =>
  new EventChannel({
    url,
    ...(url.startsWith('memory:') && { memoryHub: hub }),
    events: shop,
    source,
    onError: (error) => log(source, `error ${error.code}: ${error.message}`),
  });

function log(service: string, message: string): void {
  console.log(`${service.padEnd(13)} ${message}`);
}

const orders = connect('order-service');
const inventory = connect('inventory');
const payments = connect('payments');
const email = connect('email');
const analytics = connect('analytics');

inventory.on('order.created', async (order) => {
  const skus = order.items.map((item) => item.sku);
  log('inventory', `reserved ${skus.join(', ')} for ${order.id}`);
  await inventory.emit('inventory.reserved', { orderId: order.id, skus });
});

const totals = new Map<string, number>();
payments.on('order.created', (order) => void totals.set(order.id, order.total));
payments.on('inventory.reserved', async ({ orderId }) => {
  const amount = totals.get(orderId) ?? 0;
  totals.delete(orderId);
  log('payments', `charged ${amount.toFixed(2)} for ${orderId}`);
  await payments.emit('payment.received', { orderId, amount });
});

orders.on('payment.received', ({ orderId }) => orders.emit('order.paid', { id: orderId }));

email.on('order.*', (data, event) => {
  const text = event.topic === 'order.created' ? `confirmation to ${event.data.email}` : 'receipt';
  log('email', `${text} (${event.topic} ${data.id})`);
});

const counts = new Map<string, number>();
const stream = analytics.subscribe('#');
const counting = (async () => {
  for await (const event of stream) counts.set(event.topic, (counts.get(event.topic) ?? 0) + 1);
})();

await Promise.all([orders, inventory, payments, email, analytics].map((c) => c.ready()));
log('demo', `services up on ${url}; Ctrl-C to stop`);

// A bad order shows the typed error: nothing is sent, the caller gets the code.
try {
  await orders.emit('order.created', { id: 'bad', email: 'not-an-email', items: [], total: -1 });
} catch (error) {
  if (error instanceof EventwireError) log('order-service', `refused bad order: ${error.code} (${error.message})`);
}

let placed = 0;
let timer: NodeJS.Timeout | undefined;
let stop: () => void = () => {};
const finished = new Promise<void>((resolve) => (stop = resolve));
const paid = new Set<string>();
// With --orders N, stop once every order has gone all the way to order.paid.
orders.on('order.paid', ({ id }) => {
  paid.add(id);
  if (paid.size >= orderLimit) stop();
});
async function placeOrder(): Promise<void> {
  placed++;
  const id = `o${placed}`;
  const quantity = 1 + (placed % 3);
  log('order-service', `placing ${id}`);
  await orders.emit('order.created', {
    id,
    email: `customer${placed}@example.com`,
    items: [{ sku: `sku-${placed % 5}`, quantity }],
    total: 19.99 * quantity,
  });
  if (placed < orderLimit) timer = setTimeout(() => void placeOrder(), intervalMs);
}
process.once('SIGINT', () => stop());
process.once('SIGTERM', () => stop());
void placeOrder();
await finished;
clearTimeout(timer);

for (const channel of [orders, inventory, payments, email, analytics]) await channel.close();
await counting;
log('analytics', `seen: ${[...counts].map(([topic, n]) => `${topic}=${n}`).join(' ')}`);
