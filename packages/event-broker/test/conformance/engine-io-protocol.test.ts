// The official Engine.IO v4 conformance suite (socketio/engine.io-protocol's
// test-suite/, vendored unchanged in ./engine.io-protocol/) against a real
// broker: our Engine.IO layer behind a surface registered through
// `BrokerOptions.surfaces`, configured as the suite's reference server
// (echo, pingInterval 300, pingTimeout 200, maxPayload 1e6, CORS *). The
// suite runs in its own mocha process; only its URL line is rewritten.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker } from '../helpers.js';
import { runSuite } from './run-suite.js';
import { engineEchoSurface } from './engine-echo-surface.js';

const test = suite('engine.io-protocol conformance suite');

test('all 24 tests of the official suite pass against the broker’s Engine.IO layer', async () => {
  await using server = await startBroker({
    surfaces: [engineEchoSurface({ pingInterval: 300, pingTimeout: 200, maxPayload: 1_000_000, cors: { origin: '*' } })],
  });
  const report = await runSuite('engine.io-protocol', server.port);
  const failed = report.failures.map((failure) => `${failure.fullTitle}: ${failure.err.message ?? ''}`);
  assert.equal(failed, [], 'no test fails');
  assert.equal(report.pending, [], 'none is skipped');
  assert.is(report.stats.passes, 24);
  assert.is(report.stats.tests, 24);
});

test.run();
