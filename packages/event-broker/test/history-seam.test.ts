// The replay/live seam under random interleavings (fast-check): publishes,
// broker restarts (every client drops and resumes), and new subscriptions
// reading history with `since: 'earliest'` while events keep coming. Every
// subscription must see every event exactly once, in order.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { keptMemoryStore, startBroker, until } from './helpers.js';

type Step = { kind: 'publish'; count: number } | { kind: 'restart'; publishWhileDown: number } | { kind: 'late-reader' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('publish' as const), count: fc.integer({ min: 1, max: 15 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), publishWhileDown: fc.integer({ min: 0, max: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('late-reader' as const) }) },
);

test('random publishes, restarts and late readers: every subscription sees every event once, in order', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), async (steps) => {
      const server = await startBroker({ history: [{ pattern: 'seam.#' }], historyStore: keptMemoryStore() });
      const channel = new EventChannel({ url: server.url, ws: { backoff: () => 5 } });
      const lists: number[][] = [];
      const listen = (since?: 'earliest') => {
        const list: number[] = [];
        lists.push(list);
        return channel.on('seam.n', (n) => void list.push(n as number), since ? { since } : {}).ready;
      };
      let published = 0;
      const publish = async (count: number) => {
        // Not awaited one by one: they race the late readers' catch-up.
        await Promise.all(Array.from({ length: count }, () => server.broker.publish('seam.n' as never, ++published as never)));
      };
      try {
        await listen();
        for (const current of steps) {
          if (current.kind === 'publish') await publish(current.count);
          else if (current.kind === 'late-reader') {
            const reading = listen('earliest');
            await publish(3); // while it catches up
            await reading;
          } else {
            await server.restart();
            await publish(current.publishWhileDown);
            await until(() => channel.status.state === 'open', 'reconnected', 5000);
          }
        }
        const expected = Array.from({ length: published }, (_, i) => i + 1);
        await until(() => lists.every((list) => list.length >= published), `all at ${published}: ${lists.map((l) => l.length)}`, 5000);
        for (const list of lists) assert.equal(list, expected);
      } finally {
        await channel.close();
        await server.stop();
      }
    }),
    { numRuns: 40 },
  );
});

test.run();
