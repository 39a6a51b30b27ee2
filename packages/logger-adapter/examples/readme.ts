import { EventChannel } from '@eventwire/event-channel';
import { captureConsole, createEventLogger, logEvents } from '@eventwire/logger-adapter';

// A channel for logs: memory:// here, ws://localhost:15500 to go through the broker.
const logs = new EventChannel({ url: 'memory://logs', events: logEvents });
const viewer = new EventChannel({ url: 'memory://logs', events: logEvents });
viewer.on('log.*.payments', (record) => console.log(`[${record.level}] ${record.message}`, record.fields));
await viewer.ready();

const log = createEventLogger({ channel: logs, service: 'payments', level: 'info' });
log.debug('filtered out before any work');
log.info('charged {amount} for {orderId}', { amount: 42, orderId: 'o1', card: { token: 'tok_123' } });
log.child({ requestId: 'r7' }).error('refund failed', new Error('gateway timeout'));

// console.* keeps printing and also becomes log events (service "payments").
const restore = captureConsole(log);
console.warn('retrying in %d ms', 200);
restore();

await log.flush();
await logs.close();
await viewer.close();
