// A cluster broker's mirror of the JetStream history stream is held in
// memory: historyMaxMemoryBytes bounds it as it bounds the other stores. The
// stream keeps every event; the mirror keeps the newest that fit, and a
// reader behind what it let go is told (`trimmed`), never skipped silently.
import type { EventEnvelope, EventMap } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import { startBroker, type TestBroker } from './helpers.js';

const test = suite<{ server: NatsServer | undefined; broker: TestBroker<EventMap> | undefined }>('history memory in a cluster (JetStream mirror)');
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

if (!natsServerAvailable()) {
  test.skip('(nats-server not installed: skipped)', () => {});
} else {
  test.before.each((context) => {
    context.server = undefined;
    context.broker = undefined;
  });
  test.after.each(async (context) => {
    await context.broker?.stop();
    await context.server?.stop();
  });

  test('a mirror bounded at 16 KiB keeps the newest ~1.5 KiB events of 60, in order, and GET /history from the first says trimmed', async (context) => {
    context.server = await startNatsServer({ jetstream: true });
    context.broker = await startBroker({
      history: [{ pattern: 'mem.#', maxEvents: 10_000 }],
      historyMaxMemoryBytes: 16 * 1024,
      cluster: { url: context.server.url, node: 'mirror-a', history: { stream: `HISTMEM_${process.pid}` } },
    });
    const broker = context.broker;
    assert.is(broker.broker.stats().history?.kind, 'jetstream');
    const first = await broker.broker.publish('mem.x' as never, { n: 1, pad: 'p'.repeat(1000) } as never);
    for (const n of range(2, 60)) await broker.broker.publish('mem.x' as never, { n, pad: 'p'.repeat(1000) } as never);
    const response = await fetch(`${broker.httpUrl}/history/mem.x?since=${encodeURIComponent(first.event.offset!)}&limit=1000`);
    const page = (await response.json()) as { events: EventEnvelope[]; gap?: string };
    const held = page.events.map((event) => (event.data as { n: number }).n);
    assert.ok(held.length >= 5 && held.length <= 15, `${held.length} held: the bound keeps about ten`);
    assert.equal(held, range(61 - held.length, 60), 'the newest, each once, in order');
    assert.is(page.gap, 'trimmed');
  });
}

test.run();
