// SmallMap (src/small-map.ts) behaves as a Map over any sequence of
// operations, below and past the size where it turns into one.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SMALL_MAP_ENTRIES, SmallMap } from '../src/small-map.js';

const test = suite('SmallMap');

const key = fc.integer({ min: 0, max: SMALL_MAP_ENTRIES * 2 }).map((n) => `k${n}`);
// Mostly sets, so that sequences grow past SMALL_MAP_ENTRIES (and turn into a Map).
const operation = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('set' as const), key, value: fc.integer() }), weight: 6 },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), key }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('clear' as const) }), weight: 1 },
);

test('every operation answers as a Map does, and both hold the same entries in the same order', () => {
  fc.assert(
    fc.property(fc.array(operation, { minLength: 1, maxLength: 80, size: 'max' }), fc.array(key, { maxLength: 5 }), (operations, probes) => {
      const small = new SmallMap<string, number>();
      const map = new Map<string, number>();
      for (const step of operations) {
        if (step.op === 'set') {
          assert.is(small.set(step.key, step.value), small);
          map.set(step.key, step.value);
        } else if (step.op === 'delete') assert.is(small.delete(step.key), map.delete(step.key));
        else {
          small.clear();
          map.clear();
        }
        assert.is(small.size, map.size);
        for (const probe of probes) {
          assert.is(small.get(probe), map.get(probe));
          assert.is(small.has(probe), map.has(probe));
        }
        assert.equal([...small], [...map]);
        assert.equal([...small.keys()], [...map.keys()]);
        assert.equal([...small.values()], [...map.values()]);
      }
    }),
  );
});

test('changing it while iterating sees the entries as they were', () => {
  const small = new SmallMap<string, number>();
  for (let n = 0; n < 3; n++) small.set(`k${n}`, n);
  const seen: string[] = [];
  for (const [name] of small) {
    seen.push(name);
    small.delete(name);
    small.set(`${name}'`, 0);
  }
  assert.equal(seen, ['k0', 'k1', 'k2']);
  assert.equal([...small.keys()], ["k0'", "k1'", "k2'"]);
});

test.run();
