// Socket.IO v5 packets (surfaces/socketio/packet.ts, binary-packet.ts): the
// conformance suite's packets, socket.io-parser's refusals, binary
// reassembly, and a fuzz of random and mutated texts.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BinaryReassembler, encodeBinaryPacket, reassembleNow } from '../src/surfaces/socketio/binary-packet.js';
import { SocketIoPacketError } from '../src/surfaces/socketio/packet-error.js';
import { decodePacket, encodePacket, PacketType } from '../src/surfaces/socketio/packet.js';

const test = suite('socket.io packets');

function refusal(fn: () => unknown): { code: string; reason: string } | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    assert.instance(error, SocketIoPacketError);
    const { code, reason } = error as SocketIoPacketError;
    return { code, reason };
  }
}

test('the packets the conformance suite sends decode as socket.io-parser does', () => {
  assert.equal(decodePacket('0'), { type: 0, nsp: '/' });
  assert.equal(decodePacket('0{"token":"123"}'), { type: 0, nsp: '/', data: { token: '123' } });
  assert.equal(decodePacket('0/custom,'), { type: 0, nsp: '/custom' });
  assert.equal(decodePacket('0/custom,{"token":"abc"}'), { type: 0, nsp: '/custom', data: { token: 'abc' } });
  assert.equal(decodePacket('0/random'), { type: 0, nsp: '/random' });
  assert.equal(decodePacket('1'), { type: 1, nsp: '/' });
  assert.equal(decodePacket('1/custom'), { type: 1, nsp: '/custom' });
  assert.equal(decodePacket('2["message",1,"2",{"3":[true]}]'), { type: 2, nsp: '/', data: ['message', 1, '2', { '3': [true] }] });
  assert.equal(decodePacket('2456["message-with-ack",1]'), { type: 2, nsp: '/', id: 456, data: ['message-with-ack', 1] });
  assert.equal(decodePacket('2/admin,13["ev",1]'), { type: 2, nsp: '/admin', id: 13, data: ['ev', 1] });
  assert.equal(decodePacket('313["ok"]'), { type: 3, nsp: '/', id: 13, data: ['ok'] });
  assert.equal(decodePacket('4{"message":"Invalid namespace"}'), { type: 4, nsp: '/', data: { message: 'Invalid namespace' } });
  assert.equal(decodePacket('51-["message",{"_placeholder":true,"num":0}]'), {
    type: 5,
    nsp: '/',
    data: ['message', { _placeholder: true, num: 0 }],
    attachments: 1,
  });
  assert.equal(decodePacket('61-/a,456[{"_placeholder":true,"num":0}]'), { type: 6, nsp: '/a', id: 456, data: [{ _placeholder: true, num: 0 }], attachments: 1 });
  assert.equal(decodePacket('2[7]'), { type: 2, nsp: '/', data: [7] });
});

test('socket.io-parser refusals, each with a stable code and reason', () => {
  const table: Array<[string, string, string]> = [
    ['', 'invalid_frame', 'unknown_type'],
    ['abc', 'invalid_frame', 'unknown_type'],
    ['7[]', 'invalid_frame', 'unknown_type'],
    ['2{}', 'invalid_frame', 'invalid_payload'],
    ['2"x"', 'invalid_frame', 'invalid_payload'],
    ['2[]', 'invalid_frame', 'invalid_payload'],
    ['2[null]', 'invalid_frame', 'invalid_payload'],
    ['2', 'invalid_frame', 'invalid_payload'],
    ['2abc["message"]', 'invalid_frame', 'bad_ack_id'],
    ['2["connect"]', 'invalid_frame', 'reserved_event'],
    ['2["disconnecting"]', 'invalid_frame', 'reserved_event'],
    ['2["newListener"]', 'invalid_frame', 'reserved_event'],
    ['2[1', 'invalid_frame', 'not_json'],
    ['3{}', 'invalid_frame', 'invalid_payload'],
    ['3[]', 'invalid_frame', 'bad_ack_id'],
    ['0[]', 'invalid_frame', 'invalid_payload'],
    ['0"x"', 'invalid_frame', 'invalid_payload'],
    ['0null', 'invalid_frame', 'invalid_payload'],
    ['1{}', 'invalid_frame', 'invalid_payload'],
    ['4', 'invalid_frame', 'invalid_payload'],
    ['0admin,{}', 'invalid_frame', 'bad_namespace'],
    ['5["x"]', 'invalid_frame', 'illegal_attachments'],
    ['5-["x"]', 'invalid_frame', 'illegal_attachments'],
    ['5a-["x"]', 'invalid_frame', 'illegal_attachments'],
    ['511-["x"]', 'invalid_frame', 'too_many_attachments'],
    ['299999999999999999999["x"]', 'invalid_frame', 'bad_ack_id'],
    [`2${'['.repeat(200)}"x"${']'.repeat(200)}`, 'invalid_payload', 'too_deep'],
    [`2["x","${'a'.repeat(1_000_001)}"]`, 'payload_too_large', 'too_large'],
  ];
  for (const [text, code, reason] of table) assert.equal(refusal(() => decodePacket(text)), { code, reason }, text.slice(0, 40));
});

test('encode is the inverse of decode, namespace written only when not "/"', () => {
  for (const text of ['0', '0{"sid":"x"}', '0/custom,{"sid":"y"}', '1/custom,', '2["a",1]', '2/x,13["a"]', '313["ok"]', '4{"message":"m","data":{"code":"forbidden"}}']) {
    assert.is(encodePacket(decodePacket(text)), text === '1/custom,' ? '1/custom,' : text);
  }
  assert.equal(refusal(() => encodePacket({ type: 2, nsp: 'admin', data: ['a'] })), { code: 'invalid_frame', reason: 'bad_namespace' });
  assert.equal(refusal(() => encodePacket({ type: 2, nsp: '/', id: -1, data: ['a'] })), { code: 'invalid_frame', reason: 'bad_ack_id' });
});

test('binary: the suite packet with two attachments reassembles, and encodes back the same', () => {
  const head = decodePacket('51-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'.replace('51-', '52-'));
  const assembler = new BinaryReassembler(head);
  assert.is(assembler.add(Uint8Array.of(1, 2, 3)), undefined);
  const whole = assembler.add(Buffer.from([4, 5]))!;
  assert.equal(whole.data, ['message', Buffer.from([1, 2, 3]), Buffer.from([4, 5])]);
  const encoded = encodeBinaryPacket({ type: PacketType.EVENT, nsp: '/', data: whole.data });
  assert.is(encoded.text, '52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]');
  assert.equal(encoded.attachments, [Buffer.from([1, 2, 3]), Buffer.from([4, 5])]);
  // An ack with binary becomes BINARY_ACK, numbering depth-first.
  const ack = encodeBinaryPacket({ type: PacketType.ACK, nsp: '/a', id: 456, data: [{ x: [new Uint8Array([9])], y: new Uint8Array([8]).buffer }] });
  assert.is(ack.text, '62-/a,456[{"x":[{"_placeholder":true,"num":0}],"y":{"_placeholder":true,"num":1}}]');
  assert.equal(encodeBinaryPacket({ type: PacketType.EVENT, nsp: '/', data: ['plain'] }), { text: '2["plain"]', attachments: [] });
});

test('binary: placeholders out of range, extra attachments and wrong shapes are refused', () => {
  const cases = ['{"_placeholder":true,"num":1}', '{"_placeholder":true,"num":-1}', '{"_placeholder":true,"num":0.5}', '{"_placeholder":true,"num":"0"}', '{"_placeholder":true}'];
  for (const placeholder of cases) {
    const assembler = new BinaryReassembler(decodePacket(`51-["m",${placeholder}]`));
    assert.equal(refusal(() => assembler.add(Uint8Array.of(1))), { code: 'invalid_frame', reason: 'illegal_placeholder' }, placeholder);
  }
  const done = new BinaryReassembler(decodePacket('51-["m",{"_placeholder":true,"num":0}]'));
  done.add(Uint8Array.of(1));
  assert.equal(refusal(() => done.add(Uint8Array.of(2))), { code: 'invalid_frame', reason: 'unexpected_attachment' });
  assert.equal(refusal(() => reassembleNow(decodePacket('50-["m",{"_placeholder":true,"num":0}]'))), { code: 'invalid_frame', reason: 'illegal_placeholder' });
  const proto = new BinaryReassembler(decodePacket('51-["m",{"__proto__":{"_placeholder":true,"num":0}}]')).add(Uint8Array.of(7))!;
  const arg = (proto.data as unknown[])[1] as object;
  assert.is(Object.getPrototypeOf(arg), Object.prototype);
  assert.ok(Object.hasOwn(arg, '__proto__'));
});

test('fuzz: random and mutated texts decode or are refused with a SocketIoPacketError, never anything else', () => {
  const seeds = ['0{"token":"1"}', '2/admin,13["ev",1,{"a":[true]}]', '51-["m",{"_placeholder":true,"num":0}]', '313["ok"]', '1/x,', '4{"message":"m"}'];
  const mutated = fc
    .tuple(fc.constantFrom(...seeds), fc.nat(40), fc.nat(40), fc.string({ maxLength: 6 }))
    .map(([seed, at, cut, insert]) => seed.slice(0, at % (seed.length + 1)) + insert + seed.slice((at % (seed.length + 1)) + (cut % 4)));
  fc.assert(
    fc.property(fc.oneof(fc.string({ maxLength: 60 }), mutated, fc.jsonValue({ maxDepth: 4 }).map((v) => `2${JSON.stringify(v)}`)), (text) => {
      let packet;
      try {
        packet = decodePacket(text);
      } catch (error) {
        assert.instance(error, SocketIoPacketError);
        return;
      }
      assert.ok(packet.type >= 0 && packet.type <= 6);
      assert.ok(packet.nsp.startsWith('/'));
      if (packet.attachments !== undefined) {
        try {
          const assembler = new BinaryReassembler(packet);
          for (let n = 0; n < packet.attachments; n++) assembler.add(Uint8Array.of(n));
          if (packet.attachments === 0) reassembleNow(packet);
        } catch (error) {
          assert.instance(error, SocketIoPacketError);
        }
      } else if (!packet.nsp.includes(',')) {
        // Re-encoding what was accepted decodes to the same packet.
        assert.equal(decodePacket(encodePacket(packet)), packet);
      }
    }),
    { numRuns: 5000 },
  );
});

test.run();
