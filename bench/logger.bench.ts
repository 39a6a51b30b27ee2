// Logger overhead per call, against a plain pino call. Run: npm run bench
// (alone: pnpm --filter @eventwire/bench bench:logger after npm run build).
//
// Every variant logs the same call — info, two fields, a short message — in
// batches of 500 followed by a flush, so the cost of actually sending (the
// channel's validation and the bus) is inside the measurement, not deferred
// past it. Destinations do no I/O: pino writes to a null stream; the channel
// is memory://. The figure is process CPU time (user + system) per call, not
// wall time: this VM's CPU steal moves wall-clock figures by ±30%.
// "producer only" has no subscriber in this process (as when the viewer is
// another process); "with a subscriber" adds receiving, validating and
// dispatching each event here too.
import { Writable } from 'node:stream';
import pino from 'pino';
import { EventChannel, MemoryHub } from '@eventwire/event-channel';
import { createEventLogger, createPinoDestination, logEvents } from '@eventwire/logger-adapter';
import { quick } from './quick.js';

const BATCH = 500;
const ROUNDS = quick ? 2 : 5;
const TARGET_MS = 400;

const nullStream = new Writable({ write: (_chunk, _encoding, done) => done() });
const plainPino = pino({ level: 'info' }, { write: () => {} });

const hub = new MemoryHub();
const channel = new EventChannel({ url: 'memory://bench', memoryHub: hub, events: logEvents });
const viewer = new EventChannel({ url: 'memory://bench', memoryHub: hub, events: logEvents });
let received = 0;
const logger = createEventLogger({ channel, service: 'bench', level: 'info', bufferSize: BATCH * 2 });
const destination = createPinoDestination(channel, { service: 'bench' });
const pinoIntoChannel = pino({ level: 'info' }, destination);
void nullStream;

async function measure(call: () => void, flush: () => Promise<void>): Promise<number> {
  const warmUntil = performance.now() + 200;
  while (performance.now() < warmUntil) {
    for (let i = 0; i < BATCH; i++) call();
    await flush();
  }
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let calls = 0;
    const start = performance.now();
    const cpu = process.cpuUsage();
    while (performance.now() - start < TARGET_MS) {
      for (let i = 0; i < BATCH; i++) call();
      await flush();
      calls += BATCH;
    }
    const used = process.cpuUsage(cpu);
    rates.push(((used.user + used.system) * 1000) / calls); // ns of CPU per call
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)]!;
}

const noFlush = async (): Promise<void> => {};
const fields = { orderId: 'o-12345', amount: 42.5 };
const results: Array<[string, number]> = [];
results.push(['pino → null stream (baseline)', await measure(() => plainPino.info(fields, 'charged'), noFlush)]);
results.push([
  'createEventLogger → memory:// channel, producer only',
  await measure(() => logger.info('charged', fields), () => logger.flush()),
]);
const off = viewer.on('log.#', () => void received++);
await off.ready;
results.push([
  'createEventLogger → memory:// channel, with a subscriber in-process',
  await measure(() => logger.info('charged', fields), () => logger.flush()),
]);
results.push([
  'pino → createPinoDestination → memory:// channel, with a subscriber',
  await measure(() => pinoIntoChannel.info(fields, 'charged'), () => destination.flush()),
]);
results.push(['createEventLogger, call below the level (debug at info)', await measure(() => logger.debug('charged', fields), noFlush)]);
await channel.close();
await viewer.close();

const baseline = results[0]![1];
console.log(`node ${process.version}, ${ROUNDS} rounds × ${TARGET_MS} ms, batches of ${BATCH} + flush, median CPU ns per call`);
console.log('');
console.log('| variant | CPU ns per call | × pino |');
console.log('| --- | ---: | ---: |');
for (const [name, ns] of results) console.log(`| ${name} | ${ns.toFixed(0)} | ${(ns / baseline).toFixed(1)} |`);
console.log('');
console.log(`(${received.toLocaleString('en')} log events delivered to the viewer during the run)`);
