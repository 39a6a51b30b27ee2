// History held in memory (#29): a flood through a broker with history on
// leaves its heap at most the history bound (historyMaxMemoryBytes) × the
// measured factor + a fixed allowance, however many events pass; before the
// bound, every event was held up to the 1,000,000-event count.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { startBroker, until, type TestBroker } from '../helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const MiB = 1024 * 1024;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const test = suite<{ server: TestBroker<never> | undefined; channel: EventChannel | undefined }>('history memory');
test.before.each((context) => {
  context.server = undefined;
  context.channel = undefined;
});
test.after.each(async (context) => {
  await context.channel?.close();
  await context.server?.stop();
});

test('a flood of 100 MiB of events with history on, bounded at 8 MiB: the heap grows by at most the bound × 1.1 + 8 MiB, and a live subscriber gets every event in order', async (context) => {
  const bound = 8 * MiB;
  const server = (await startBroker({ history: [{ pattern: 'flood.#', maxEvents: 1_000_000 }], historyMaxMemoryBytes: bound })) as unknown as TestBroker<never>;
  context.server = server;
  const channel = new EventChannel({ url: server.url });
  context.channel = channel;
  let received = 0;
  let inOrder = true;
  await channel.on('flood.#', (data) => {
    if ((data as { n: number }).n !== received) inOrder = false;
    received++;
  }).ready;
  // Each event's own data, as a socket's parse would make it (one shared string would be held once).
  const before = heapUsed();
  const total = 100 * 1024; // ~1.4 KiB each as held: ~140 MiB without the bound
  const batch = 1000;
  for (let from = 0; from < total; from += batch) {
    await Promise.all(Array.from({ length: batch }, (_, i) => server.broker.publish(`flood.t${(from + i) % 50}` as never, { n: from + i, pad: 'f'.repeat(1000) } as never)));
    await until(() => received >= from + batch, `the subscriber has the first ${from + batch}`);
  }
  const grown = heapUsed() - before;
  assert.ok(inOrder, 'every event once and in order');
  if (process.env['HISTMEM_TRACE']) console.log(`heap grew ${(grown / MiB).toFixed(1)} MiB`);
  assert.ok(grown <= bound * 1.1 + 8 * MiB, `heap grew ${(grown / MiB).toFixed(1)} MiB for an ${bound / MiB} MiB history bound`);
});

test.run();
