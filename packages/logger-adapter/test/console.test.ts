import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, MemoryHub } from '@eventwire/event-channel';
import { captureConsole, logEvents, type LogRecord } from '../src/index.js';

const test = suite('console capture');

test('keeps printing, emits events with ANSI stripped, restore() puts the originals back', async () => {
  const hub = new MemoryHub();
  const producer = new EventChannel({ url: 'memory://console', memoryHub: hub, events: logEvents });
  const viewer = new EventChannel({ url: 'memory://console', memoryHub: hub, events: logEvents });
  const records: Array<[string, LogRecord]> = [];
  await viewer.on('log.*.worker', (record, event) => void records.push([event.topic, record])).ready;
  const printed: Array<[string, string]> = [];
  const fake = {
    log: (...args: unknown[]) => void printed.push(['log', args.join(' ')]),
    info: (...args: unknown[]) => void printed.push(['info', args.join(' ')]),
    warn: (...args: unknown[]) => void printed.push(['warn', args.join(' ')]),
    error: (...args: unknown[]) => void printed.push(['error', args.join(' ')]),
    debug: (...args: unknown[]) => void printed.push(['debug', args.join(' ')]),
  } as unknown as Console;
  const originalLog = fake.log;
  const restore = captureConsole(producer, { service: 'worker', console: fake });
  fake.log('\u001b[32mgreen\u001b[39m %d items', 3);
  fake.warn('careful', { id: 7 });
  fake.error('\u001b[1m\u001b[31mboom\u001b[0m');
  fake.debug('details');
  restore();
  restore(); // idempotent
  assert.is(fake.log, originalLog);
  fake.log('after restore: printed only');
  await restore.flush();
  await producer.close();
  await viewer.close();
  assert.equal(printed.map(([m]) => m), ['log', 'warn', 'error', 'debug', 'log']);
  assert.match(printed[0]![1], /\u001b\[32m/); // the terminal still gets its colours
  assert.equal(
    records.map(([topic, r]) => [topic, r.message]),
    [
      ['log.info.worker', 'green 3 items'],
      ['log.warn.worker', 'careful { id: 7 }'],
      ['log.error.worker', 'boom'],
      ['log.debug.worker', 'details'],
    ],
  );
});

test.run();
