// The official Socket.IO v5 conformance suite (socketio/socket.io-protocol's
// test-suite/, vendored unchanged in ./socket.io-protocol/) against a real
// broker running the built-in `socketio` surface, configured through
// `broker.socketio` as the suite's reference server (its README):
//
//   io.on('connection', (socket) => {
//     socket.emit('auth', socket.handshake.auth);
//     socket.on('message', (...args) => socket.emit('message-back', ...args));
//     socket.on('message-with-ack', (...args) => { const ack = args.pop(); ack(...args); });
//   });
//   io.of('/custom').on('connection', (socket) => socket.emit('auth', socket.handshake.auth));
//
// with pingInterval 300, pingTimeout 200, connectTimeout 1000, maxPayload 1e6, CORS *.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EventBrokerServer } from '../../src/server.js';
import { startBroker } from '../helpers.js';
import { runSuite } from './run-suite.js';

const test = suite('socket.io-protocol conformance suite');

/**
 * The suite's reference server, as a config's `setup` would write it, with
 * one difference: the `auth` greeting leaves 10 ms after the CONNECT answer.
 * The suite's client awaits the answer, then starts listening for the
 * greeting; its WebSocket dispatches every message of one network read
 * synchronously, so a greeting that shares a read with the answer is lost to
 * it. Socket.IO writes each packet apart and usually wins that race; the
 * broker batches a tick's writes into one (wire/ws-wire.ts), so here the
 * race is decided in the test's own handler instead of slowing every
 * CONNECT of the product.
 */
function referenceServer(broker: EventBrokerServer): void {
  const io = broker.socketio!;
  const greet = (socket: Parameters<Parameters<typeof io.on>[1]>[0]): void => {
    setTimeout(() => socket.connected && socket.emit('auth', socket.handshake.auth), 10);
  };
  io.on('connection', (socket) => {
    greet(socket);
    socket.on('message', (...args) => socket.emit('message-back', ...args));
    socket.on('message-with-ack', (...args) => {
      const ack = args.pop() as (...answer: unknown[]) => void;
      ack(...args);
    });
  });
  io.of('/custom').on('connection', greet);
}

test('all 32 tests of the official suite pass against the broker’s Socket.IO surface', async () => {
  await using server = await startBroker({
    socketio: { pingInterval: 300, pingTimeout: 200, connectTimeout: 1000, maxPayload: 1_000_000, cors: { origin: '*' } },
  }, referenceServer);
  const report = await runSuite('socket.io-protocol', server.port);
  const failed = report.failures.map((failure) => `${failure.fullTitle}: ${failure.err.message ?? ''}`);
  assert.equal(failed, [], 'no test fails');
  assert.equal(report.pending, [], 'none is skipped');
  assert.is(report.stats.passes, 32);
  assert.is(report.stats.tests, 32);
});

test.run();
