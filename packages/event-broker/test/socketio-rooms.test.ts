// The Socket.IO room ↔ topic mapping (surfaces/socketio/rooms.ts): the lead's
// table of examples, and properties over arbitrary namespaces and rooms.
import { EventwireError, findTopicProblem } from '@eventwire/event-channel';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emitTopic, namespaceTopic, readTopic, roomOf, roomTopic, socketTopic } from '../src/surfaces/socketio/rooms.js';
import { errorCodeOf } from './helpers.js';

const test = suite('socket.io rooms ↔ topics');


test('the examples of the decision', () => {
  const table: Array<[string, string, string]> = [
    ['/', 'chat.7', 'chat.7'],
    ['/', 'private-user.1', 'private-user.1'],
    ['/', 'presence-room.7', 'presence-room.7'],
    ['/admin', 'private-x.1', 'private-admin:x.1'],
    ['/admin', 'x.1', 'admin:x.1'],
    ['/a/b', 'r', 'a%2Fb:r'],
    ['/', 'room one', 'room%20one'],
    ['/', '50%', '50%25'],
    ['/', 'a:b', 'a%3Ab'],
    ['/', 'a.*', 'a.%2A'],
    ['/', 'a.#', 'a.%23'],
    ['/', 'x>y', 'x%3Ey'],
    ['/', '$nsp', '%24nsp'],
    ['/', 'private-$server-to-user.5', 'private-%24server-to-user.5'],
    ['/', 'a.$b', 'a.$b'],
    ['/', 'é', 'é'],
    ['/', 'tab\there', 'tab%09here'],
    ['/', 'nb\u00a0sp', 'nb%C2%A0sp'],
    ['/private-x', 'y', '%70rivate-x:y'],
    ['/x', 'private-y', 'private-x:y'],
  ];
  for (const [nsp, room, topic] of table) {
    assert.is(roomTopic(nsp, room), topic, `${nsp} ${room}`);
    assert.equal(roomOf(topic), { nsp, room });
  }
});

test('reserved topics per namespace, and what they read back as', () => {
  assert.is(namespaceTopic('/'), '$nsp');
  assert.is(namespaceTopic('/admin'), 'admin:$nsp');
  assert.is(socketTopic('/', 'pIW-dX3SMHOxHuFeAAAA'), '$sid.pIW-dX3SMHOxHuFeAAAA');
  assert.is(socketTopic('/admin', 'a.b'), 'admin:$sid.a%2Eb');
  assert.is(emitTopic('/', 'chat message'), '$emit.chat%20message');
  assert.is(emitTopic('/admin', 'a.b/c'), 'admin:$emit.a%2Eb%2Fc');
  assert.equal(readTopic('$nsp'), { kind: 'namespace', nsp: '/' });
  assert.equal(readTopic('admin:$sid.a%2Eb'), { kind: 'socket', nsp: '/admin', sid: 'a.b' });
  assert.equal(readTopic('$emit.chat%20message'), { kind: 'emit', nsp: '/', event: 'chat message' });
  assert.is(roomOf('$nsp'), undefined);
  assert.is(roomOf('admin:$emit.x'), undefined);
});

test('empty segments, bad namespaces and over-long rooms are invalid_topic', () => {
  for (const room of ['', '.a', 'a.', 'a..b', 'private-', 'private-.x']) assert.is(errorCodeOf(() => roomTopic('/', room)), 'invalid_topic', room);
  assert.is(errorCodeOf(() => roomTopic('admin', 'x')), 'invalid_topic');
  assert.is(errorCodeOf(() => roomTopic('/', 'x'.repeat(300))), 'invalid_topic');
  assert.is(errorCodeOf(() => roomTopic('/', Array(40).fill('a').join('.'))), 'invalid_topic');
  assert.is(errorCodeOf(() => roomTopic('/', '\ud800')), 'invalid_topic');
  assert.is(errorCodeOf(() => emitTopic('/', '')), 'invalid_topic');
  assert.is(errorCodeOf(() => roomTopic('/', 'x', { maxLength: 3, maxSegments: 32 })), undefined);
  assert.is(errorCodeOf(() => roomTopic('/', 'abcd', { maxLength: 3, maxSegments: 32 })), 'invalid_topic');
});

test('remembered topics answer as a fresh mapping would: per limits, per namespace, refusals never remembered', () => {
  const tight = { maxLength: 10, maxSegments: 32 };
  // Mapped under the default limits first: the tight limits still refuse it.
  assert.is(roomTopic('/', 'room.eleven'), 'room.eleven');
  assert.is(errorCodeOf(() => roomTopic('/', 'room.eleven', tight)), 'invalid_topic');
  assert.is(roomTopic('/', 'room.ten', tight), 'room.ten');
  assert.is(emitTopic('/', 'pub'), '$emit.pub');
  assert.is(errorCodeOf(() => emitTopic('/', 'pub', { maxLength: 5, maxSegments: 32 })), 'invalid_topic');
  // The same name in other namespaces, and as a room or an event.
  assert.is(roomTopic('/admin', 'pub'), 'admin:pub');
  assert.is(roomTopic('/', 'pub'), 'pub');
  assert.is(emitTopic('/admin', 'pub'), 'admin:$emit.pub');
  assert.is(roomTopic('/a', 'bc'), 'a:bc');
  assert.is(roomTopic('/ab', 'c'), 'ab:c');
  // A refusal is refused again; more names than the table holds still map right.
  assert.is(errorCodeOf(() => roomTopic('/', 'a..b')), 'invalid_topic');
  assert.is(errorCodeOf(() => roomTopic('/', 'a..b')), 'invalid_topic');
  for (let i = 0; i < 3000; i++) assert.is(roomTopic('/n', `r.${i}`), `n:r.${i}`);
  assert.is(errorCodeOf(() => roomTopic({ toString: () => '/' } as unknown as string, 'pub')), 'invalid_topic');
});

test('non-canonical topics name no room', () => {
  for (const topic of ['%41', 'a%2x', 'a%2e', 'a%', '$sid', '$other', ':x', 'a:b:c', 'private-:x', '%C3', '$x', 'x%20%']) {
    assert.is(readTopic(topic), undefined, topic);
  }
});

const anyNamespace = fc.oneof(
  fc.constant('/'),
  fc.string({ maxLength: 12 }).map((s) => `/${s}`),
  fc.constantFrom('/admin', '/private-x', '/presence-', '/$nsp', '//', '/a.b', '/a:b'),
);
const anyRoom = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 12 }),
  fc.array(fc.constantFrom('a', '.', '%', ':', '$', '*', '#', '>', ' ', 'private-', 'presence-', '$nsp', '$sid', '\u3000', '\n', '%2F'), { maxLength: 8 }).map((parts) => parts.join('')),
);

function attempt(nsp: string, room: string): string | undefined {
  try {
    return roomTopic(nsp, room);
  } catch (error) {
    assert.instance(error, EventwireError);
    assert.is((error as EventwireError).code, 'invalid_topic');
    return undefined;
  }
}

test('property: round-trips or invalid_topic; produced topics are valid topics', () => {
  fc.assert(
    fc.property(anyNamespace, anyRoom, (nsp, room) => {
      const topic = attempt(nsp, room);
      if (topic === undefined) return;
      assert.is(findTopicProblem(topic, 'topic'), undefined, topic);
      assert.not.match(topic, /[\s*#>]/);
      assert.equal(roomOf(topic), { nsp, room });
    }),
    { numRuns: 3000 },
  );
});

test('property: different (namespace, room) pairs never share a topic, nor a reserved topic', () => {
  fc.assert(
    fc.property(anyNamespace, anyRoom, anyNamespace, anyRoom, (n1, r1, n2, r2) => {
      const a = attempt(n1, r1);
      const b = attempt(n2, r2);
      if (a !== undefined && b !== undefined && (n1 !== n2 || r1 !== r2)) assert.is.not(a, b);
      if (a !== undefined) {
        assert.is.not(a, namespaceTopic(n2));
        for (const reserved of ['$nsp', '$sid.', '$emit.']) assert.not.ok(a.startsWith(reserved) || a.includes(`:${reserved}`), a);
      }
    }),
    { numRuns: 3000 },
  );
});

test('property: socket ids and event names round-trip through their topics', () => {
  fc.assert(
    fc.property(anyNamespace, fc.string({ minLength: 1, maxLength: 40 }), (nsp, name) => {
      let sid: string | undefined;
      try {
        sid = socketTopic(nsp, name);
      } catch (error) {
        assert.is((error as EventwireError).code, 'invalid_topic');
        return;
      }
      assert.equal(readTopic(sid), { kind: 'socket', nsp, sid: name });
      assert.equal(readTopic(emitTopic(nsp, name)), { kind: 'emit', nsp, event: name });
    }),
    { numRuns: 2000 },
  );
});

test.run();
