// Fault: a disk that takes 1.5 s per fsync (an overloaded volume), under a
// broker with a durable log synced every 100 ms (the default). The syncs are
// real, only delayed (an LD_PRELOAD shim around fdatasync/fsync). The log
// used to sync on the event loop, so every sync held every connection and
// heartbeat of the broker: acknowledged emits waited for the disk and timed
// out. Counted here: every acked emit settles within its 1 s bound (acked,
// none timing out), and the subscriber gets every event once and in order.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventChannel, EventwireError } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { slowFsyncAvailable, slowFsyncEnv } from '../../../../scripts/testing/slow-fsync.js';
import { runBrokerCli, until, waitForOutput, within } from '../helpers.js';

const test = suite('fault: a slow disk under the durable log');
const FSYNC_DELAY_MS = 1500;
const BOUND_MS = 1000;
const EMITS = 200;

if (!slowFsyncAvailable()) {
  test.skip('(no C compiler to build the slow-fsync shim: the slow-disk fault is skipped)', () => {});
} else {
  test(`fsync taking ${FSYNC_DELAY_MS} ms: acked emits settle within ${BOUND_MS} ms, every event delivered once, in order`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slow-disk-'));
    const broker = runBrokerCli(['--port', '0', '--host', '127.0.0.1', '--quiet', '--data-dir', dir, '--history', 'disk.#:10000:1h', '--fsync', '100'], {
      env: slowFsyncEnv(FSYNC_DELAY_MS),
    });
    let publisher: EventChannel | undefined;
    let subscriber: EventChannel | undefined;
    try {
      const [, url] = await waitForOutput(broker.output, /listening on (ws:\/\/[\d.]+:\d+)/, 'the broker on a slow disk');
      subscriber = new EventChannel({ url: url! });
      const received: number[] = [];
      await subscriber.on('disk.n', (n) => void received.push(n as number)).ready;
      publisher = new EventChannel({ url: url!, ws: { requestTimeoutMs: BOUND_MS } });
      await publisher.ready();
      const failures: string[] = [];
      let slowest = 0;
      // Paced over ~4 s, so the 100 ms sync timer fires (and, on the event loop, would stall) many times.
      for (let n = 1; n <= EMITS; n++) {
        const started = performance.now();
        try {
          await publisher.emit('disk.n', n, { ack: true });
        } catch (error) {
          failures.push(`${n}: ${error instanceof EventwireError ? error.code : String(error)}`);
        }
        slowest = Math.max(slowest, performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(failures, [], `every emit acked within ${BOUND_MS} ms (slowest ${slowest.toFixed(0)} ms)`);
      await until(() => received.length >= EMITS, 'every event at the subscriber', 10_000);
      assert.equal(received, Array.from({ length: EMITS }, (_, i) => i + 1), 'once each, in order');
    } finally {
      await Promise.all([publisher?.close(), subscriber?.close()]);
      broker.child.kill('SIGKILL');
      await within(broker.exit, 10_000, 'the broker gone');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
