// broker.config.ts — start it with: event-broker --config broker.config.ts
import { z } from 'zod';
import { defineEvents } from '@eventwire/event-channel';
import { defineBrokerConfig } from '@eventwire/event-broker';

const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'order.flagged': z.object({ id: z.string() }),
});

export default defineBrokerConfig({
  port: 15500,
  host: '127.0.0.1',
  maxPayloadBytes: '32kb',
  heartbeatMs: 25_000,
  events: shop, // the broker refuses undeclared topics and invalid payloads
  auditLog: { path: './audit.jsonl', maxBytes: '10mb', maxFiles: 5 },
  webhooks: [
    {
      url: 'https://hooks.example.com/shipping',
      topics: 'order.shipped',
      headers: { authorization: `Bearer ${process.env['SHIPPING_HOOK_TOKEN'] ?? ''}` },
    },
  ],
  // Hooks, typed by `events`: `event.data.total` is a number here.
  setup(broker) {
    broker.intercept('order.created', (event, ctx) => {
      if (event.data.total <= 0) ctx.reject('total must be positive');
      if (event.data.total > 1000) ctx.emit('order.flagged', { id: event.data.id });
    });
  },
});
