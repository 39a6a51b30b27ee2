// The order flow's services, tested through the test kit: the example's own
// broker.config.ts (event map, the fraud hook) and the services' real code,
// in-process on virtual time — no port, no sleeps. The process smoke test
// (order-flow.test.ts) keeps testing the sockets and the audit log.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestHub, type TestHub } from '@eventwire/event-broker/testing';
import brokerConfig from '../broker.config.js';
import { FRAUD_THRESHOLD, type Shop } from '../src/events.js';
import { startAnalyticsService, startFraudDesk } from '../src/services/analytics.js';
import { startEmailService } from '../src/services/email.js';
import { startInventoryService } from '../src/services/inventory.js';
import { startOrderService } from '../src/services/orders.js';

const test = suite<{ hub: TestHub<Shop> }>('order flow services, on the test hub');

test.before.each(async (context) => {
  context.hub = await createTestHub({ config: brokerConfig });
});
test.after.each(async (context) => {
  await context.hub.close();
});

test('an order is confirmed and receipted by email once, reserved, paid and counted; a large one goes to the fraud desk', async ({ hub }) => {
  const email = await startEmailService('http://hub.test', hub.WebSocket);
  const inventory = await startInventoryService(hub.channel({ source: 'inventory' }));
  const analytics = await startAnalyticsService(hub.channel({ source: 'analytics' }));
  const fraudDesk = await startFraudDesk(hub.channel({ source: 'fraud-desk' }));
  const orders = await startOrderService(hub.channel({ source: 'order-service' }));

  const small = await orders.placeOrder(20);
  const large = await orders.placeOrder(FRAUD_THRESHOLD * 2);
  assert.equal((await hub.next('inventory.reserved', { where: (event) => event.data.orderId === small })).source, 'inventory');
  await hub.next('events.order.paid', { where: (event) => event.data.orderId === large });
  await hub.settle();

  assert.is(email.sent(), 4, 'a confirmation and a receipt per order, each once');
  assert.equal(hub.emitted('inventory.reserved').map((event) => event.data.orderId), [small, large]);
  assert.equal(fraudDesk.reviews, [large]);
  assert.equal(Object.fromEntries(analytics.counts), { 'events.order.created': 2, 'events.payment.received': 2, 'events.order.paid': 2 });
  assert.is(hub.emitted('fraud.review')[0]!.metadata?.['causationid'], hub.emitted('events.order.created')[1]!.id, 'the review names the order event that caused it');
  assert.equal([...inventory.stock.values()].reduce((sum, left) => sum + left, 0) < 200, true);
  email.close();
});

test('inventory reserves each order once, also for orders placed while its connection was cut', async ({ hub }) => {
  const errors: string[] = [];
  const inventoryChannel = hub.channel({ source: 'inventory', ws: { backoff: () => 2000 }, onError: (error) => errors.push(error.code) });
  const gaps: string[] = [];
  inventoryChannel.onGap((gap) => gaps.push(gap.reason));
  await startInventoryService(inventoryChannel);
  const orders = await startOrderService(hub.channel({ source: 'order-service' }));

  await orders.placeOrder(10);
  await hub.next('inventory.reserved');
  hub.disconnect(inventoryChannel);
  const whileAway = [await orders.placeOrder(11), await orders.placeOrder(12)];
  await hub.settle();
  assert.equal(hub.emitted('inventory.reserved').length, 1, 'nothing reserved while away');

  await hub.advance(2000); // its backoff: it reconnects and resumes from its last offset
  for (const orderId of whileAway) await hub.next('inventory.reserved', { where: (event) => event.data.orderId === orderId });
  await orders.placeOrder(13);
  await hub.next('inventory.reserved', { where: (event) => event.data.orderId === 'o4' });
  await hub.settle();
  assert.equal(hub.emitted('inventory.reserved').map((event) => event.data.orderId), ['o1', 'o2', 'o3', 'o4']);
  assert.equal(gaps, []);
  assert.equal(errors, ['connection_closed'], 'the cut was reported, and nothing else');
});

test('the broker refuses an order that breaks the contract before any service sees it', async ({ hub }) => {
  const inventory = await startInventoryService(hub.channel({ source: 'inventory' }));
  const raw = hub.channel({ source: 'a-buggy-client' });
  const refused = await raw
    .emit('events.order.created', { orderId: 'x', email: 'not-an-email', items: [], total: 1 } as never, { ack: true })
    .then(
      () => undefined,
      (error: { code?: string }) => error.code,
    );
  assert.is(refused, 'invalid_payload');
  await hub.settle();
  assert.equal(hub.emitted('#'), []);
  assert.is(inventory.stock.size, 0);
});

test.run();
