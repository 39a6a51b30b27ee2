// The shape walk (#37) on its own, without a network: how depth is counted,
// what is refused, and that no shape can overflow the stack or hang it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findPayloadProblem, payloadShapeError } from '../src/protocol/index.js';
import { MAX_PAYLOAD_DEPTH, payloadLimitDefaults } from '../src/index.js';

const test = suite('payload shape');

const nestedArrays = (depth: number): unknown => {
  let value: unknown = [];
  for (let level = 1; level < depth; level++) value = [value];
  return value;
};

test('depth: a scalar is 0, {"a":1} and [1] are 1; exactly maxDepth passes, one more is refused', () => {
  const cases: Array<[unknown, number]> = [
    [1, 0],
    ['x', 0],
    [null, 0],
    [{}, 1],
    [{ a: 1 }, 1],
    [[1], 1],
    [{ a: [1] }, 2],
    [[{ a: { b: [] } }], 4],
    [nestedArrays(128), 128],
  ];
  for (const [value, depth] of cases) {
    assert.is(findPayloadProblem(value, depth), undefined, `${JSON.stringify(value).slice(0, 30)} at ${depth}`);
    if (depth > 0) assert.match(findPayloadProblem(value, depth - 1) ?? '', /nested deeper than/, `${JSON.stringify(value).slice(0, 30)} at ${depth - 1}`);
  }
});

test('numbers that do not survive JSON, and BigInt, are refused wherever they are; others are not', () => {
  for (const bad of [Infinity, -Infinity, Number.NaN, JSON.parse('1e400'), { a: [1, { b: JSON.parse('-1e400') }] }, [1n]]) {
    assert.type(findPayloadProblem(bad, 128), 'string');
  }
  const fine: unknown[] = [JSON.parse('1e-400'), -0, Number.MAX_VALUE, Number.MIN_VALUE, '\ud800', 'a\u0000b', { __proto__: null, x: 1 }, JSON.parse('{"__proto__":{"x":1}}'), undefined, true];
  for (const [index, value] of fine.entries()) assert.is(findPayloadProblem(value, 128), undefined, `fine[${index}]`);
});

test('no shape overflows the stack or hangs: 1,000,000 deep, 100,000 keys wide, a cycle', () => {
  assert.match(findPayloadProblem(nestedArrays(1_000_000), MAX_PAYLOAD_DEPTH) ?? '', /nested deeper than 1000/);
  let deepObject: Record<string, unknown> = {};
  for (let level = 0; level < 1_000_000; level++) deepObject = { a: deepObject };
  assert.match(findPayloadProblem(deepObject, payloadLimitDefaults.maxDepth) ?? '', /nested deeper than 128/);
  const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, index) => [`k${index}`, { v: index }]));
  assert.is(findPayloadProblem(wide, 128), undefined);
  const cycle: Record<string, unknown> = {};
  cycle['self'] = cycle;
  assert.match(findPayloadProblem(cycle, 128) ?? '', /nested deeper than/);
});

test('the refusal is invalid_payload naming the topic and the reason', () => {
  const error = payloadShapeError('order.created', findPayloadProblem({ n: Infinity }, 128)!);
  assert.is(error.code, 'invalid_payload');
  assert.match(error.message, /order\.created/);
  assert.match(error.message, /Infinity/);
});

test.run();
