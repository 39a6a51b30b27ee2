// The Redis emitters' byte formats (surfaces/socketio/pickle.ts, msgpack.ts) on
// real captured bytes (test/fixtures/socketio/README.md) and under fuzz.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EmitterMessageError } from '../src/surfaces/socketio/emitter-error.js';
import { decodeMsgpack } from '../src/surfaces/socketio/msgpack.js';
import { decodePickle } from '../src/surfaces/socketio/pickle.js';

const test = suite('socket.io emitter codecs: pickle and msgpack');
const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/socketio/${name}`, import.meta.url));

function refusal(fn: () => unknown): { reason: string; opcode?: string | undefined } | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    assert.instance(error, EmitterMessageError);
    const { reason, opcode } = error as EmitterMessageError;
    return opcode === undefined ? { reason } : { reason, opcode };
  }
}

/** Every object in a result is a plain object or an array or a Buffer; nothing else. */
function assertPlain(value: unknown, depth = 0): void {
  assert.ok(depth < 200);
  if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) return;
  if (Buffer.isBuffer(value)) return;
  assert.type(value, 'object');
  if (Array.isArray(value)) {
    assert.is(Object.getPrototypeOf(value), Array.prototype);
    for (const item of value) assertPlain(item, depth + 1);
    return;
  }
  assert.is(Object.getPrototypeOf(value), Object.prototype);
  for (const key of Object.keys(value as object)) assertPlain((value as Record<string, unknown>)[key], depth + 1);
}

const host = 'a2f783676e3f4f6aaf9a0cf4c5033b8f';

test('pickle: the real python-socketio 5.7.2 messages', () => {
  assert.equal(decodePickle(fixture('python-emit-updatechat.pickle')).value, {
    method: 'emit', event: 'UpdateChat', data: { chat_id: 7, text: 'hi' }, namespace: '/', room: 'chat.7', skip_sid: null, callback: null, host_id: host,
  });
  const multi = decodePickle(fixture('python-emit-multi-tuple.pickle'));
  const value = multi.value as Record<string, unknown>;
  assert.equal(value['data'], ['a', 1]);
  assert.ok(multi.isTuple(value['data']));
  assert.is(multi.isTuple([]), false);
  assert.equal((decodePickle(fixture('python-emit-bytes.pickle')).value as Record<string, unknown>)['data'], { blob: Buffer.from([1, 2]) });
});

test('pickle: protocols 3 to 5 of a rich message decode to what Python json.dumps would say', () => {
  const expected = JSON.parse(readFileSync(new URL('./fixtures/socketio/python-rich.expected.json', import.meta.url), 'utf8'), (_key, v) =>
    v !== null && typeof v === 'object' && typeof v.$bytes === 'string' ? Buffer.from(v.$bytes, 'base64') : v,
  );
  for (const protocol of [3, 4, 5]) {
    const decoded = decodePickle(fixture(`python-rich-p${protocol}.pickle`));
    assert.equal(decoded.value, expected, `protocol ${protocol}`);
    assertPlain(decoded.value);
    assert.ok(decoded.isTuple((decoded.value as Record<string, unknown>)['data']));
  }
  assert.equal((decodePickle(fixture('python-bytearray-p5.pickle')).value as Record<string, unknown>)['data'], Buffer.from([1, 2]));
});

test('pickle: what would import or call a global is refused with the opcode named', () => {
  assert.equal(refusal(() => decodePickle(fixture('hostile-reduce-p2.pickle'))), { reason: 'forbidden_opcode', opcode: 'GLOBAL' });
  assert.equal(refusal(() => decodePickle(fixture('hostile-reduce-p4.pickle'))), { reason: 'forbidden_opcode', opcode: 'STACK_GLOBAL' });
  assert.equal(refusal(() => decodePickle(fixture('python-rich-p2.pickle'))), { reason: 'forbidden_opcode', opcode: 'GLOBAL' });
  assert.equal(refusal(() => decodePickle(fixture('python-bytearray-p4.pickle'))), { reason: 'forbidden_opcode', opcode: 'STACK_GLOBAL' });
  // Each refused opcode on its own, after a valid PROTO: named, never run.
  const named: Array<[number, string]> = [
    [0x52, 'REDUCE'], [0x62, 'BUILD'], [0x69, 'INST'], [0x6f, 'OBJ'], [0x81, 'NEWOBJ'], [0x92, 'NEWOBJ_EX'], [0x50, 'PERSID'], [0x51, 'BINPERSID'],
    [0x82, 'EXT1'], [0x83, 'EXT2'], [0x84, 'EXT4'], [0x97, 'NEXT_BUFFER'], [0x98, 'READONLY_BUFFER'], [0x63, 'GLOBAL'], [0x93, 'STACK_GLOBAL'],
    [0x49, 'INT'], [0x53, 'STRING'], [0x64, 'DICT'], [0x8f, 'EMPTY_SET'],
  ];
  for (const [op, name] of named) assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x4e, op, 0x2e))), { reason: 'forbidden_opcode', opcode: name }, name);
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0xff, 0x2e))), { reason: 'unknown_opcode', opcode: '0xff' });
});

test('pickle: big ints, cycles, memo bombs, bad structure are refused', () => {
  assert.equal(refusal(() => decodePickle(fixture('python-bigint-p4.pickle'))), { reason: 'int_too_large' });
  // LONG1 of exactly 2^53-1 is fine, 2^53 is not.
  assert.is(decodePickle(Uint8Array.of(0x80, 4, 0x8a, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f, 0x2e)).value, 2 ** 53 - 1);
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x8a, 7, 0, 0, 0, 0, 0, 0, 0x20, 0x2e))), { reason: 'int_too_large' });
  // A list appended to itself: EMPTY_LIST MEMOIZE BINGET 0 APPEND STOP.
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x5d, 0x94, 0x68, 0, 0x61, 0x2e))), { reason: 'cycle' });
  // Billion laughs: each level a list holding the previous one twice.
  // (MARK … TUPLE gathers every level into one result.)
  const bomb = [0x80, 4, 0x28, 0x5d, 0x94];
  for (let level = 1; level <= 40; level++) bomb.push(0x5d, 0x94, 0x28, 0x68, level - 1, 0x68, level - 1, 0x65);
  bomb.push(0x74, 0x2e);
  assert.equal(refusal(() => decodePickle(Uint8Array.from(bomb))), { reason: 'too_many_values' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x2e))), { reason: 'stack_underflow' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x4e))), { reason: 'truncated' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x4e, 0x2e, 0x4e))), { reason: 'trailing_bytes' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 9, 0x4e, 0x2e))), { reason: 'unsupported_protocol' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x68, 3, 0x2e))), { reason: 'memo_missing' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x75, 0x2e))), { reason: 'mark_missing' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x7d, 0x5d, 0x4e, 0x73, 0x2e))), { reason: 'unhashable_key' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x47, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0, 0x2e))), { reason: 'bad_number' });
  assert.equal(refusal(() => decodePickle(Uint8Array.of(0x80, 4, 0x8c, 1, 0xff, 0x2e))), { reason: 'bad_string' });
  assert.equal(refusal(() => decodePickle(Buffer.alloc(2_000_000))), { reason: 'too_large' });
  const deep = [0x80, 4, ...Array(200).fill(0x28)];
  assert.equal(refusal(() => decodePickle(Uint8Array.from(deep))), { reason: 'too_deep' });
  // A "__proto__" key stays data.
  const proto = decodePickle(Uint8Array.of(0x80, 4, 0x7d, 0x8c, 9, ...Buffer.from('__proto__'), 0x7d, 0x73, 0x2e)).value as object;
  assert.is(Object.getPrototypeOf(proto), Object.prototype);
  assert.ok(Object.hasOwn(proto, '__proto__'));
});

test('msgpack: the real @socket.io/redis-emitter messages', () => {
  assert.equal(decodeMsgpack(fixture('node-emit-room.msgpack')), ['emitter', { type: 2, data: ['chat message', { text: 'hi' }], nsp: '/' }, { rooms: ['room-1'], flags: {}, except: [] }]);
  assert.equal(decodeMsgpack(fixture('node-emit-multi-volatile.msgpack')), ['emitter', { type: 2, data: ['multi', 1, 'two'], nsp: '/admin' }, { rooms: ['a', 'b'], flags: { volatile: true }, except: ['c'] }]);
  assert.equal(decodeMsgpack(fixture('node-emit-binary.msgpack')), ['emitter', { type: 2, data: ['bin', Buffer.from([1, 2, 3])], nsp: '/' }, { rooms: [], flags: {}, except: [] }]);
});

test('msgpack: every format of the subset, and refusals', () => {
  assert.is(decodeMsgpack(Uint8Array.of(0xcf, 0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), 2 ** 53 - 1);
  assert.is(decodeMsgpack(Uint8Array.of(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), -1);
  assert.is(decodeMsgpack(Uint8Array.of(0xd0, 0x80)), -128);
  assert.is(decodeMsgpack(Uint8Array.of(0xca, 0x3f, 0xc0, 0, 0)), 1.5);
  assert.equal(decodeMsgpack(Uint8Array.of(0x92, 0xd4, 0, 0, 0x01)), [null, 1]);
  assert.equal(decodeMsgpack(Uint8Array.of(0x81, 0xa1, 0x61, 0xd4, 0, 0)), {});
  assert.equal(decodeMsgpack(Uint8Array.of(0x81, 0x07, 0xc0)), { '7': null });
  const date = Buffer.alloc(10);
  date[0] = 0xd7;
  date.writeDoubleBE(0, 2);
  assert.is(decodeMsgpack(date), '1970-01-01T00:00:00.000Z');
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0xcf, 0, 0x20, 0, 0, 0, 0, 0, 0))), { reason: 'int_too_large' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0xd4, 5, 0))), { reason: 'unsupported_type' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0xc1))), { reason: 'unsupported_type' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff))), { reason: 'truncated' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0x91))), { reason: 'truncated' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0xc0, 0xc0))), { reason: 'trailing_bytes' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0x81, 0x90, 0xc0))), { reason: 'unhashable_key' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0xa1, 0xff))), { reason: 'bad_string' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.of(0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0))), { reason: 'bad_number' });
  assert.equal(refusal(() => decodeMsgpack(Uint8Array.from([...Array(300).fill(0x91), 0xc0]))), { reason: 'too_deep' });
  const proto = decodeMsgpack(Uint8Array.of(0x81, 0xa9, ...Buffer.from('__proto__'), 0x80)) as object;
  assert.is(Object.getPrototypeOf(proto), Object.prototype);
  assert.ok(Object.hasOwn(proto, '__proto__'));
});

const pickles = ['python-emit-updatechat.pickle', 'python-emit-multi-tuple.pickle', 'python-emit-bytes.pickle', 'python-rich-p4.pickle', 'python-rich-p5.pickle', 'hostile-reduce-p4.pickle'].map(fixture);
const packs = ['node-emit-room.msgpack', 'node-emit-multi-volatile.msgpack', 'node-emit-binary.msgpack'].map(fixture);

/** Random bytes, and real messages with bytes flipped, inserted, removed or truncated. */
function mutations(seeds: Buffer[]): fc.Arbitrary<Uint8Array> {
  const mutated = fc
    .tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete', 'cut')), { minLength: 1, maxLength: 6 }))
    .map(([seed, edits]) => {
      const bytes = [...seed];
      for (const [at, byte, kind] of edits) {
        const i = at % (bytes.length + 1);
        if (kind === 'set' && i < bytes.length) bytes[i] = byte;
        else if (kind === 'insert') bytes.splice(i, 0, byte);
        else if (kind === 'delete') bytes.splice(i, 1);
        else if (kind === 'cut') bytes.length = i;
      }
      return Uint8Array.from(bytes);
    });
  return fc.oneof(fc.uint8Array({ maxLength: 200 }), mutated);
}

function survives(decode: () => unknown): void {
  const started = performance.now();
  let value: unknown;
  try {
    value = decode();
  } catch (error) {
    assert.instance(error, EmitterMessageError);
    return;
  } finally {
    assert.ok(performance.now() - started < 500, 'a decode took more than 500 ms');
  }
  assertPlain(value);
  JSON.stringify(value);
}

test('fuzz: random and mutated pickles never crash, hang, or build anything but plain data', () => {
  fc.assert(fc.property(mutations(pickles), (bytes) => survives(() => decodePickle(bytes).value)), { numRuns: 5000 });
});

test('fuzz: random and mutated msgpack never crash, hang, or build anything but plain data', () => {
  fc.assert(fc.property(mutations(packs), (bytes) => survives(() => decodeMsgpack(bytes))), { numRuns: 5000 });
});

test.run();
