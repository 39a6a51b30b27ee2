import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import pino from 'pino';
import { EventChannel, MemoryHub } from '@eventwire/event-channel';
import { createPinoDestination, logEvents, type LogRecord } from '../src/index.js';

const test = suite('pino destination');

test('an existing pino logger streams into a channel: levels, fields, err, child bindings, name', async () => {
  const hub = new MemoryHub();
  const producer = new EventChannel({ url: 'memory://pino', memoryHub: hub, events: logEvents });
  const viewer = new EventChannel({ url: 'memory://pino', memoryHub: hub, events: logEvents });
  const records: Array<[string, LogRecord]> = [];
  await viewer.on('log.#', (record, event) => void records.push([event.topic, record])).ready;
  const destination = createPinoDestination(producer);
  const logger = pino({ name: 'billing', level: 'trace' }, destination);
  logger.trace('tracing');
  logger.info({ orderId: 'o1', password: 'p' }, 'charged');
  logger.child({ requestId: 'r9' }).warn('slow');
  logger.error(new Error('card declined'), 'payment failed');
  logger.fatal('down');
  await destination.flush();
  await producer.close();
  await viewer.close();
  assert.equal(
    records.map(([topic, r]) => [topic, r.message]),
    [
      ['log.debug.billing', 'tracing'],
      ['log.info.billing', 'charged'],
      ['log.warn.billing', 'slow'],
      ['log.error.billing', 'payment failed'],
      ['log.fatal.billing', 'down'],
    ],
  );
  assert.equal(records[1]![1].fields, { orderId: 'o1', password: '[redacted]' });
  assert.equal(records[2]![1].fields, { requestId: 'r9' });
  assert.equal([records[3]![1].error!.name, records[3]![1].error!.message], ['Error', 'card declined']);
  assert.match(records[3]![1].error!.stack!, /card declined/);
  assert.ok(Math.abs(Date.parse(records[0]![1].time) - Date.now()) < 60_000);
});

test.run();
