// The e-commerce order flow from Synap's pub/sub guide, on eventwire.
// Usage: main.ts [--port 15500] [--orders N] [--interval-ms 1000] [--audit-log path]
//   default: forever, one order a second; --port 0 picks a free port.
// The broker comes from ../broker.config.ts; --port and --audit-log override it.
import { EventChannel } from '@eventwire/event-channel';
import { exampleArgs, wholeNumber } from '../../shared/command-line.js';
import { startShopBroker } from './broker.js';
import { FRAUD_THRESHOLD, say, shop } from './events.js';
import { startAnalyticsService, startFraudDesk } from './services/analytics.js';
import { startEmailService } from './services/email.js';
import { startInventoryService } from './services/inventory.js';
import { startOrderService } from './services/orders.js';

const usage = `Usage: npm start -- [--port 15500] [--orders N] [--interval-ms 1000] [--audit-log path]
  --port         the broker's port (0 picks a free one)
  --orders       place N orders, then stop (default: until Ctrl-C)
  --interval-ms  time between two orders
  --audit-log    where the broker's audit hook appends (default: examples/order-flow/audit/)`;
const values = exampleArgs('order-flow', usage, {
  port: { type: 'string' },
  orders: { type: 'string' },
  'interval-ms': { type: 'string' },
  'audit-log': { type: 'string' },
});
const orderLimit = wholeNumber('order-flow', usage, '--orders', values.orders, Infinity);
const intervalMs = wholeNumber('order-flow', usage, '--interval-ms', values['interval-ms'], 1000);
const port = values.port === undefined ? undefined : wholeNumber('order-flow', usage, '--port', values.port, 0);

// Ctrl-C may come at any moment, even during start-up: remember it, and stop
// once what is running has finished. A second Ctrl-C only says so.
let stopRequested = false;
let stop: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stop = resolve));
const onSignal = (): void => {
  if (stopRequested) return say('demo', 'still stopping…');
  stopRequested = true;
  stop();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const shopBroker = await startShopBroker({
  ...(port !== undefined && { port }),
  ...(values['audit-log'] !== undefined && { auditLog: values['audit-log'] }),
});
const { url, httpUrl } = shopBroker.address;
const connect = (source: string) => new EventChannel({ url, events: shop, source });
const [orders, email, inventory, analytics, fraudDesk] = await Promise.all([
  startOrderService(connect('order-service')),
  startEmailService(httpUrl),
  startInventoryService(connect('inventory')),
  startAnalyticsService(connect('analytics')),
  startFraudDesk(connect('fraud-desk')),
]);
say('demo', `broker on ${url} (from broker.config.ts); Ctrl-C to stop`);
say('demo', `inspect: curl ${httpUrl}/pubsub/stats   or watch the raw stream: a WebSocket on ${url}/pubsub/ws?topics=%23`);

// One order at a time; stopping waits for the order being placed, so every
// order the demo starts is completed (and counted) before the channels close.
let placed = 0;
let timer: NodeJS.Timeout | undefined;
let placing: Promise<void> = Promise.resolve();
const placeNext = async (): Promise<void> => {
  placed++;
  // Every third order is large enough for the fraud desk; the others stay small.
  const total = placed % 3 === 0 ? FRAUD_THRESHOLD * 1.5 : 19.99 * (1 + ((placed - 1) % 5));
  await orders.placeOrder(total);
  if (placed >= orderLimit) stop();
  else if (!stopRequested) timer = setTimeout(() => (placing = placeNext()), intervalMs);
};
if (!stopRequested) placing = placeNext();
await stopped;
clearTimeout(timer);
await placing;

// A ping barrier on every channel (close) makes sure what is in flight arrives.
for (const service of [orders, inventory, fraudDesk, analytics]) await service.channel.close();
email.close();
say('analytics', analytics.summary());
say('fraud-desk', fraudDesk.summary());
await shopBroker.close();
