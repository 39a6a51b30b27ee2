// Socket.IO arguments ↔ envelope data (surfaces/socketio/arguments.ts).
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { argumentsOf, envelopeDataOf } from '../src/surfaces/socketio/arguments.js';

const test = suite('socket.io arguments ↔ envelope data');

test('one argument is the data; zero or several are spread', () => {
  assert.equal(envelopeDataOf('UpdateChat', [{ chat_id: 7 }]), { data: { chat_id: 7 }, metadata: { event: 'UpdateChat' } });
  assert.equal(envelopeDataOf('multi', ['a', 1]), { data: ['a', 1], metadata: { event: 'multi', args: 'spread' } });
  assert.equal(envelopeDataOf('none', []), { data: [], metadata: { event: 'none', args: 'spread' } });
  // One argument that is itself an array stays one argument.
  assert.equal(envelopeDataOf('list', [[1, 2]]), { data: [1, 2], metadata: { event: 'list' } });
  assert.equal(argumentsOf({ topic: 't', data: [1, 2], metadata: { event: 'list' } }), { event: 'list', args: [[1, 2]] });
  assert.equal(argumentsOf({ topic: 't', data: ['a', 1], metadata: { event: 'multi', args: 'spread' } }), { event: 'multi', args: ['a', 1] });
});

test('an envelope without metadata.event is named after its topic; no data is no argument', () => {
  assert.equal(argumentsOf({ topic: 'chat.7', data: { text: 'hi' } }), { event: 'chat.7', args: [{ text: 'hi' }] });
  assert.equal(argumentsOf({ topic: 'chat.7' }), { event: 'chat.7', args: [] });
  assert.equal(argumentsOf({ topic: 'chat.7', data: null }), { event: 'chat.7', args: [null] });
  // "spread" with data that is not an array cannot be spread: one argument.
  assert.equal(argumentsOf({ topic: 't', data: 5, metadata: { args: 'spread' } }), { event: 't', args: [5] });
});

test('binary is { $binary: base64 } in the envelope and a Buffer again on the way out', () => {
  const inbound = envelopeDataOf('bin', [Buffer.from([1, 2, 3]), { nested: [new Uint8Array([4]).buffer] }]);
  assert.equal(inbound.data, [{ $binary: 'AQID' }, { nested: [{ $binary: 'BA==' }] }]);
  assert.equal(JSON.parse(JSON.stringify(inbound.data)), inbound.data);
  const out = argumentsOf({ topic: 't', data: inbound.data, metadata: inbound.metadata });
  assert.equal(out.args, [Buffer.from([1, 2, 3]), { nested: [Buffer.from([4])] }]);
  // Not the reserved shape: left as data.
  assert.equal(argumentsOf({ topic: 't', data: { $binary: 'not base64!' } }).args, [{ $binary: 'not base64!' }]);
  assert.equal(argumentsOf({ topic: 't', data: { $binary: 'AQID', other: 1 } }).args, [{ $binary: 'AQID', other: 1 }]);
});

const binaryFree = fc.jsonValue({ maxDepth: 4 }).filter((v) => !JSON.stringify(v).includes('$binary'));
const arg = fc.oneof(binaryFree, fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b)));

test('property: args → envelope → JSON → args is the identity (Buffers for binary)', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 10 }), fc.array(arg, { maxLength: 4 }), (event, args) => {
      const { data, metadata } = envelopeDataOf(event, args);
      const wire = JSON.parse(JSON.stringify({ data, metadata }));
      const back = argumentsOf({ topic: 'x', data: wire.data, metadata: wire.metadata });
      assert.is(back.event, event);
      // JSON turns -0 into 0, as the wire does for any surface.
      assert.equal(back.args, JSON.parse(JSON.stringify(args), (_k, v) => (v?.type === 'Buffer' ? Buffer.from(v.data) : v)));
    }),
    { numRuns: 2000 },
  );
});

test.run();
