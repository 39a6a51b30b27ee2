// The Redis emitters' messages normalised (surfaces/socketio/redis-messages.ts),
// on the real captured bytes of test/fixtures/socketio/ and under fuzz.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EmitterMessageError } from '../src/surfaces/socketio/emitter-error.js';
import { decodeNodeEmitterMessage, decodeNodeEmitterRequest, decodePythonManagerMessage } from '../src/surfaces/socketio/redis-messages.js';

const test = suite('socket.io Redis emitter messages');
const fixture = (name: string): Buffer => readFileSync(new URL(`./fixtures/socketio/${name}`, import.meta.url));
const py = { volatile: false, source: 'python-socketio' };
const node = { source: 'socket.io-redis-emitter' };

function reason(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    assert.instance(error, EmitterMessageError);
    return (error as EmitterMessageError).reason;
  }
}

test('python-socketio: the pickle era (5.7.2, real) and the JSON era (≥ 5.14) normalise to the same emits', () => {
  const updateChat = { kind: 'emit', message: { event: 'UpdateChat', args: [{ chat_id: 7, text: 'hi' }], nsp: '/', rooms: ['chat.7'], except: [], ...py } };
  const multi = { kind: 'emit', message: { event: 'multi', args: ['a', 1], nsp: '/admin', rooms: ['room one'], except: ['SIDXYZ'], ...py } };
  const bin = { kind: 'emit', message: { event: 'bin', args: [{ blob: Buffer.from([1, 2]) }], nsp: '/', rooms: [], except: [], ...py } };
  assert.equal(decodePythonManagerMessage(fixture('python-emit-updatechat.pickle')), updateChat);
  assert.equal(decodePythonManagerMessage(fixture('python-json-updatechat.json')), updateChat);
  assert.equal(decodePythonManagerMessage(fixture('python-emit-multi-tuple.pickle')), multi);
  assert.equal(decodePythonManagerMessage(fixture('python-json-multi.json')), multi);
  assert.equal(decodePythonManagerMessage(fixture('python-emit-bytes.pickle')), bin);
  assert.equal(decodePythonManagerMessage(fixture('python-json-binary.json')), bin);
});

test('python-socketio: room and skip_sid lists, no data, and the other methods', () => {
  const json = (message: object) => Buffer.from(JSON.stringify({ host_id: 'h', namespace: '/', ...message }));
  assert.equal(decodePythonManagerMessage(json({ method: 'emit', event: 'e', data: [null], room: ['a', 'b', 'a'], skip_sid: ['s1', 's2'] })), {
    kind: 'emit', message: { event: 'e', args: [], nsp: '/', rooms: ['a', 'b'], except: ['s1', 's2'], ...py },
  });
  // A list as the one argument stays one argument.
  assert.equal((decodePythonManagerMessage(json({ method: 'emit', event: 'e', data: [[1, 2]] })) as { message: { args: unknown[] } }).message.args, [[1, 2]]);
  assert.equal(decodePythonManagerMessage(json({ method: 'disconnect', sid: 'S' })), { kind: 'request', request: { type: 'disconnectSockets', nsp: '/', rooms: ['S'], except: [], close: false, source: 'python-socketio' } });
  assert.equal(decodePythonManagerMessage(json({ method: 'close_room', room: 'r' })), { kind: 'request', request: { type: 'socketsLeave', nsp: '/', rooms: ['r'], except: [], leave: ['r'], source: 'python-socketio' } });
  assert.equal(decodePythonManagerMessage(json({ method: 'enter_room', sid: 'S', room: 'r' })), { kind: 'request', request: { type: 'socketsJoin', nsp: '/', rooms: ['S'], except: [], join: ['r'], source: 'python-socketio' } });
  assert.equal(decodePythonManagerMessage(json({ method: 'callback', sid: 'S', id: 1, args: [] })), { kind: 'ignored', method: 'callback' });
  assert.is(reason(() => decodePythonManagerMessage(json({ method: 'exec' }))), 'unknown_method');
  assert.is(reason(() => decodePythonManagerMessage(json({ method: 'emit', event: 'e', data: [1], namespace: 'admin' }))), 'bad_field');
  assert.is(reason(() => decodePythonManagerMessage(json({ method: 'emit', event: 1, data: [1] }))), 'bad_field');
  assert.is(reason(() => decodePythonManagerMessage(json({ method: 'emit', event: 'e', data: 1 }))), 'bad_field');
  assert.is(reason(() => decodePythonManagerMessage(json({ method: 'emit', event: 'e', data: [[{ _placeholder: true, num: 3 }], 'AQI='], binary: true }))), 'bad_field');
  assert.is(reason(() => decodePythonManagerMessage(Buffer.from('[1]'))), 'not_a_message');
  assert.is(reason(() => decodePythonManagerMessage(Buffer.from('nope'))), 'not_json');
  assert.is(reason(() => decodePythonManagerMessage(fixture('hostile-reduce-p4.pickle'))), 'forbidden_opcode');
});

test('@socket.io/redis-emitter: the real msgpack emits and JSON requests', () => {
  assert.equal(decodeNodeEmitterMessage(fixture('node-emit-room.msgpack')), {
    kind: 'emit', message: { event: 'chat message', args: [{ text: 'hi' }], nsp: '/', rooms: ['room-1'], except: [], volatile: false, ...node },
  });
  assert.equal(decodeNodeEmitterMessage(fixture('node-emit-multi-volatile.msgpack')), {
    kind: 'emit', message: { event: 'multi', args: [1, 'two'], nsp: '/admin', rooms: ['a', 'b'], except: ['c'], volatile: true, ...node },
  });
  assert.equal(decodeNodeEmitterMessage(fixture('node-emit-binary.msgpack')), {
    kind: 'emit', message: { event: 'bin', args: [Buffer.from([1, 2, 3])], nsp: '/', rooms: [], except: [], volatile: false, ...node },
  });
  assert.equal(decodeNodeEmitterRequest('socket.io-request#/#', fixture('node-request-sockets-join.json')), {
    kind: 'request', request: { type: 'socketsJoin', nsp: '/', rooms: ['room-1'], except: [], join: ['room-2'], ...node },
  });
  assert.equal(decodeNodeEmitterRequest('socket.io-request#/#', fixture('node-request-server-side-emit.json')), {
    kind: 'request', request: { type: 'serverSideEmit', nsp: '/', event: 'hello', args: ['world'], ...node },
  });
  const request = (body: object) => decodeNodeEmitterRequest('socket.io-request#/admin#', Buffer.from(JSON.stringify(body)));
  assert.equal(request({ type: 3, opts: { rooms: [], except: ['x'] }, rooms: ['r'] }), { kind: 'request', request: { type: 'socketsLeave', nsp: '/admin', rooms: [], except: ['x'], leave: ['r'], ...node } });
  assert.equal(request({ type: 4, opts: { rooms: ['r'], except: [] }, close: true }), { kind: 'request', request: { type: 'disconnectSockets', nsp: '/admin', rooms: ['r'], except: [], close: true, ...node } });
  assert.is(reason(() => request({ type: 5, opts: {} })), 'unknown_method');
  assert.is(reason(() => request({ type: 2, opts: { rooms: [1] }, rooms: ['r'] })), 'bad_field');
  assert.is(reason(() => decodeNodeEmitterRequest('elsewhere', Buffer.from('{}'))), 'bad_field');
});

test('fuzz: random and mutated messages of every format give an item or an EmitterMessageError', () => {
  const seeds = ['python-emit-updatechat.pickle', 'python-emit-multi-tuple.pickle', 'python-json-binary.json', 'python-json-multi.json', 'node-emit-multi-volatile.msgpack', 'node-emit-binary.msgpack'].map(fixture);
  const mutated = fc.tuple(fc.constantFrom(...seeds), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([seed, at, byte]) => {
    const copy = Buffer.from(seed);
    copy[at % copy.length] = byte;
    return copy;
  });
  fc.assert(
    fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 100 })), (bytes) => {
      for (const decode of [decodePythonManagerMessage, decodeNodeEmitterMessage, (b: Uint8Array) => decodeNodeEmitterRequest('socket.io-request#/#', b)]) {
        try {
          const item = decode(bytes);
          assert.ok(['emit', 'request', 'ignored'].includes(item.kind));
        } catch (error) {
          assert.instance(error, EmitterMessageError);
        }
      }
    }),
    { numRuns: 4000 },
  );
});

test.run();
