import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, MemoryHub, type EventEnvelope, type Transport } from '@eventwire/event-channel';
import { captureConsole, createEventLogger, logEvents, type LogRecord } from '../src/index.js';

interface Context {
  hub: MemoryHub;
  producer: EventChannel<typeof logEvents>;
  viewer: EventChannel<typeof logEvents>;
  records: Array<{ topic: string; record: LogRecord }>;
}

const test = suite<Context>('event logger');

test.before.each(async (context) => {
  context.hub = new MemoryHub();
  context.producer = new EventChannel({ url: 'memory://logs', memoryHub: context.hub, events: logEvents });
  context.viewer = new EventChannel({ url: 'memory://logs', memoryHub: context.hub, events: logEvents });
  context.records = [];
  await context.viewer.on('log.#', (record, event) => void context.records.push({ topic: event.topic, record })).ready;
});
test.after.each(async (context) => {
  await context.producer.close();
  await context.viewer.close();
});

/** Flushes the logger, then lets the viewer receive what was sent (close delivers in-flight events). */
async function settle(context: Context, logger: { flush(): Promise<void> }): Promise<void> {
  await logger.flush();
  await context.viewer.close();
}

test('records become typed events on log.<level>.<service>, templates filled from fields', async (context) => {
  const log = createEventLogger({ channel: context.producer, service: 'payments', level: 'debug' });
  log.info('charged {amount} for {order.id}; {missing} stays', { amount: 42, order: { id: 'o1' } });
  log.debug('plain');
  await settle(context, log);
  assert.equal(context.records.map((r) => r.topic), ['log.info.payments', 'log.debug.payments']);
  const [first] = context.records;
  assert.is(first!.record.message, 'charged 42 for o1; {missing} stays');
  assert.equal(first!.record.fields, { amount: 42, order: { id: 'o1' } });
  assert.is(first!.record.service, 'payments');
  assert.is(first!.record.level, 'info');
  assert.ok(!Number.isNaN(Date.parse(first!.record.time)));
});

test('levels below the threshold do no work at all', async (context) => {
  const log = createEventLogger({ channel: context.producer, service: 'svc', level: 'warn' });
  let touched = false;
  const fields = {
    get expensive() {
      touched = true;
      return 1;
    },
  };
  log.debug('nope {expensive}', fields);
  log.info('nope {expensive}', fields);
  log.warn('yes');
  await settle(context, log);
  assert.is(touched, false);
  assert.equal(context.records.map((r) => r.record.level), ['warn']);
  assert.is(log.stats().logged, 1);
});

test("child() merges context; children share the parent's buffer and counters", async (context) => {
  const log = createEventLogger({ channel: context.producer, service: 'api', context: { region: 'eu' } });
  const request = log.child({ requestId: 'r1' }).child({ user: 'ada', region: 'us' });
  request.info('hello {user}', { extra: true });
  await settle(context, log);
  assert.equal(context.records[0]!.record.fields, { region: 'us', requestId: 'r1', user: 'ada', extra: true });
  assert.is(context.records[0]!.record.message, 'hello ada');
  assert.is(log.stats().emitted, 1);
});

test('errors are serialised with name, message, stack, code and cause chain', async (context) => {
  const log = createEventLogger({ channel: context.producer, service: 'db' });
  const root = Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
  log.error('query failed', new TypeError('bad row', { cause: root }));
  log.error('via field {err}', { err: new RangeError('out of range'), table: 'orders' });
  await settle(context, log);
  const [first, second] = context.records.map((r) => r.record);
  assert.is(first!.error!.name, 'TypeError');
  assert.is(first!.error!.message, 'bad row');
  assert.match(first!.error!.stack!, /TypeError: bad row/);
  assert.equal([first!.error!.cause!.name, first!.error!.cause!.message, first!.error!.cause!.code], ['Error', 'connection refused', 'ECONNREFUSED']);
  assert.is(second!.error!.name, 'RangeError');
  assert.equal(second!.fields, { table: 'orders' });
});

test('redaction at any depth, case-insensitive, also in the message', async (context) => {
  const log = createEventLogger({ channel: context.producer, service: 'auth', redact: ['password', 'Authorization', 'pin'] });
  log.info('login {user} with {password}', {
    user: 'ada',
    password: 'hunter2',
    headers: { authorization: 'Bearer secret', accept: 'json' },
    nested: [{ PIN: 1234 }],
  });
  await settle(context, log);
  const { message, fields } = context.records[0]!.record;
  assert.is(message, 'login ada with [redacted]');
  assert.equal(fields, { user: 'ada', password: '[redacted]', headers: { authorization: '[redacted]', accept: 'json' }, nested: [{ PIN: '[redacted]' }] });
  assert.not.match(JSON.stringify(context.records), /hunter2|secret|1234/);
});

test('fields JSON cannot carry are made safe: cycles, BigInt, functions, dates', async (context) => {
  const log = createEventLogger({ channel: context.producer, service: 'x' });
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic['self'] = cyclic;
  log.info('odd values', { cyclic, big: 10n, fn: () => 1, when: new Date(0), nan: Number.NaN });
  await settle(context, log);
  assert.equal(context.records[0]!.record.fields, {
    cyclic: { name: 'loop', self: '[circular]' },
    big: '10',
    when: '1970-01-01T00:00:00.000Z',
    nan: 'NaN',
  });
});

test('a full buffer drops the oldest records and says so in the next one sent', async (context) => {
  const log = createEventLogger({ channel: context.producer, service: 'burst', bufferSize: 3 });
  for (let i = 0; i < 10; i++) log.info(`m${i}`); // one tick: nothing sent yet
  await settle(context, log);
  assert.equal(context.records.map((r) => r.record.message), ['m7', 'm8', 'm9']);
  assert.is(context.records[0]!.record.dropped, 7);
  assert.is(context.records[1]!.record.dropped, undefined);
  assert.equal(log.stats(), { logged: 10, emitted: 3, dropped: 7, failed: 0, suppressed: 0 });
});

test('the logger never throws into the caller, even on a closed channel', async (context) => {
  const failures: string[] = [];
  const log = createEventLogger({ channel: context.producer, service: 'late', onError: (e) => failures.push(e.code) });
  await context.producer.close();
  log.info('into the void');
  log.error('still fine', new Error('x'));
  await log.flush();
  assert.is(log.stats().failed, 2);
  assert.equal(failures, ['channel_closed', 'channel_closed']);
});

test('recursion guard: logs produced while sending logs are printed but not re-emitted', async () => {
  // A transport that writes to the console whenever it publishes: with console
  // capture on, every log would cause another log, forever, without the guard.
  let publishes = 0;
  const printed: string[] = [];
  const fakeConsole = { ...console, warn: (...args: unknown[]) => void printed.push(args.join(' ')) } as Console;
  const noisy: Transport = {
    kind: 'noisy',
    connect: (sink) => sink.status({ state: 'open' }),
    publish: async (_envelope: EventEnvelope) => {
      publishes++;
      // Bounded, so a missing guard fails the assertion below instead of hanging.
      if (publishes > 50) return;
      fakeConsole.warn(`transport noise ${publishes}`);
      await Promise.resolve();
      fakeConsole.warn('after an await too');
    },
    subscribe: async () => {},
    unsubscribe: async () => {},
    close: async () => {},
  };
  const channel = new EventChannel({ transport: noisy, events: logEvents });
  const log = createEventLogger({ channel, service: 'app' });
  const restore = captureConsole(log, { console: fakeConsole });
  try {
    fakeConsole.warn('first');
    await log.flush();
    await log.flush();
  } finally {
    restore();
    await channel.close();
  }
  assert.is(publishes, 1);
  assert.equal(printed, ['first', 'transport noise 1', 'after an await too']);
  assert.is(log.stats().suppressed, 2);
});

test.run();
