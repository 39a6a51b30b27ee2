import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createEventIdGenerator, eventIdTime } from '../src/index.js';

const test = suite('event ids');

test('ids are 26-char Crockford base32 and encode their creation time', () => {
  const next = createEventIdGenerator(() => 1_700_000_000_123);
  const id = next();
  assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.is(eventIdTime(id), 1_700_000_000_123);
});

test('ids strictly increase within one millisecond and when the clock steps back', () => {
  const times = [5000, 5000, 5000, 4000, 4000, 6000, 6000];
  let i = 0;
  const next = createEventIdGenerator(() => times[i++]!);
  const ids = times.map(() => next());
  for (let k = 1; k < ids.length; k++) assert.ok(ids[k - 1]! < ids[k]!, `${ids[k - 1]} < ${ids[k]}`);
  assert.is(eventIdTime(ids[3]!), 5000); // the step back kept the last time
  assert.is(eventIdTime(ids[5]!), 6000);
});

test('a burst of 100k ids from one generator is unique and sorted', () => {
  const next = createEventIdGenerator();
  const ids = Array.from({ length: 100_000 }, () => next());
  assert.is(new Set(ids).size, ids.length);
  assert.equal([...ids].sort(), ids);
});

test('eventIdTime rejects what is not a ULID', () => {
  assert.is(eventIdTime('short'), undefined);
  assert.is(eventIdTime('U'.repeat(26)), undefined); // U is not in the alphabet
});


test('an id is one flat string: 100k of them kept cost ~60 bytes each, not a cons chain per character (~490)', () => {
  // Ids are kept for as long as a connection lives and an event stays in history.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const next = createEventIdGenerator();
  gc();
  const before = process.memoryUsage().heapUsed;
  const ids = Array.from({ length: 100_000 }, () => next());
  gc();
  const perId = (process.memoryUsage().heapUsed - before) / ids.length;
  assert.ok(perId < 150, `${perId.toFixed(0)} bytes per id`);
});

test.run();
