// The test hub's channels against the shared transport and history suites,
// unchanged: what every ws:// channel to a real broker must do, done over
// the hub's in-process pipes (on real time: the suites wait with real timers).
import { EventChannel } from '@eventwire/event-channel';
import { runHistorySuite } from '../../event-channel/test/history-suite.js';
import { runTransportSuite } from '../../event-channel/test/transport-suite.js';
import { createTestHub } from '../src/testing/index.js';

runTransportSuite('test hub', async () => {
  const hub = await createTestHub({ clock: false });
  return {
    connect: (): EventChannel => hub.channel({ ws: { backoff: () => 0 } }),
    teardown: () => hub.close(),
  };
});

runHistorySuite('test hub', async () => {
  const hub = await createTestHub({ clock: false, config: { history: [{ pattern: 'hist.#', maxEvents: 1000 }] } });
  return {
    connect: (): EventChannel => hub.channel({ ws: { backoff: () => 0 } }),
    teardown: () => hub.close(),
  };
});
