import { EventwireError } from '../errors.js';

/**
 * Bounds on the shape of an event's data, beside the size limit. One copy,
 * applied where data enters: by the broker on every surface before any hook,
 * schema, router or store sees it, and by every channel on what it receives.
 */
export interface PayloadLimits {
  /**
   * Most levels of nesting (`{"a":{"a":…}}`, `[[…]]`): a scalar is 0 deep,
   * `{"a":1}` and `[1]` are 1 deep. Deeper data is refused with `invalid_payload`.
   * @default 128
   */
  readonly maxDepth: number;
}

/**
 * The defaults of {@link PayloadLimits}. 128 levels, as serde_json's parser
 * allows: far past any real document, and far inside what JavaScript's own
 * recursive walks (`JSON.stringify` fails a little past 4,000 levels at the
 * top of a stack, a schema validator much sooner) can take from deep in a call.
 */
export const payloadLimitDefaults: PayloadLimits = { maxDepth: 128 };

/**
 * The highest `maxDepth` that can be configured. Data this deep still leaves
 * `JSON.stringify` (which the broker runs to send every event) most of the
 * stack: past it, serialising could fail with a stack overflow.
 */
export const MAX_PAYLOAD_DEPTH = 1000;

/**
 * What is wrong with the shape of `value` for JSON, or undefined: nested
 * deeper than `maxDepth`, a number JSON cannot carry (`±Infinity`, `NaN`:
 * `JSON.parse('1e400')` is `Infinity`, which `JSON.stringify` would turn into
 * `null`, changing the data silently) or a `BigInt` (which it cannot write).
 *
 * One pass, iterative (no recursion, so no input can overflow the stack), and
 * bounded by the value's size: data parsed from JSON has at most one value per
 * byte, so the size limit bounds the walk. Allocates nothing for a scalar.
 */
export function findPayloadProblem(value: unknown, maxDepth: number): string | undefined {
  if (typeof value !== 'object' || value === null) return scalarProblem(value);
  if (maxDepth < 1) return tooDeep(maxDepth);
  // Containers still to look into, and how deep each one is.
  const walk: Walk = { pending: undefined, depths: undefined };
  let container: object | undefined = value;
  let depth = 1;
  while (container !== undefined) {
    let problem: string | undefined;
    if (Array.isArray(container)) {
      for (let index = 0; index < container.length && problem === undefined; index++) problem = visit(walk, container[index], depth, maxDepth);
    } else {
      // Own keys only, as JSON.stringify writes them (for…in allocates no key list).
      for (const key in container) {
        if (hasOwn.call(container, key)) problem = visit(walk, (container as Record<string, unknown>)[key], depth, maxDepth);
        if (problem !== undefined) break;
      }
    }
    if (problem !== undefined) return problem;
    container = walk.pending?.pop();
    if (container !== undefined) depth = walk.depths!.pop()!;
  }
  return undefined;
}

/** The containers a walk has still to look into, made only when one is met inside another (most events are one flat object). */
interface Walk {
  pending: object[] | undefined;
  depths: number[] | undefined;
}

/** One value inside a container `depth` deep: queued when it is a container itself, checked when it is a scalar. */
function visit(walk: Walk, item: unknown, depth: number, maxDepth: number): string | undefined {
  if (typeof item === 'object' && item !== null) {
    if (depth >= maxDepth) return tooDeep(maxDepth);
    (walk.pending ??= []).push(item);
    (walk.depths ??= []).push(depth + 1);
    return undefined;
  }
  return typeof item === 'string' ? undefined : scalarProblem(item);
}

const hasOwn = Object.prototype.hasOwnProperty;

function tooDeep(maxDepth: number): string {
  return `is nested deeper than ${maxDepth} levels, the limit`;
}

function scalarProblem(value: unknown): string | undefined {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? undefined : `holds the number ${String(value)}, which JSON cannot carry (it would arrive as null)`;
  }
  if (typeof value === 'bigint') return 'holds a BigInt, which JSON cannot carry';
  return undefined;
}

/**
 * Throws `invalid_payload` when the data of an event on `topic` is of a shape
 * JSON cannot carry intact or is nested too deep (see {@link findPayloadProblem}).
 */
export function assertPayloadShape(topic: string, data: unknown, limits: PayloadLimits = payloadLimitDefaults): void {
  const problem = findPayloadProblem(data, limits.maxDepth);
  if (problem !== undefined) throw payloadShapeError(topic, problem);
}

/** The `invalid_payload` for data on `topic` with `problem` (from {@link findPayloadProblem}). */
export function payloadShapeError(topic: string, problem: string): EventwireError {
  return new EventwireError('invalid_payload', `Payload for "${topic.slice(0, 255)}" refused: the data ${problem}`);
}
