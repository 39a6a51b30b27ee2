// What one stored event costs in the JS heap, estimated without serialising
// it: the history stores bound the bytes they hold with it (`maxBytes`).
import type { EventEnvelope } from '../envelope.js';

/**
 * Heap bytes a history store spends per held event beyond what the envelope's
 * own values cost (`estimateValueBytes`): the envelope object, its entry in
 * the topic's log and in the deduplication index (a Map slot, a queue slot).
 * Measured with `bench/history-memory.bench.ts` (bench/RESULTS.md, "History
 * memory bound"): heap used per held event, minus the walk's estimate of the
 * envelope's values, for a small event.
 */
export const EVENT_OVERHEAD_BYTES = 390;

/*
 * The walk's costs, after V8 on 64-bit Node (no pointer compression): a
 * string is a 16-byte header and one byte per character (two for text outside
 * Latin-1, which the estimate does not look for: such strings count half, a
 * factor the stated bound allows for); a property or array element is an
 * 8-byte slot; a number that is not a small integer is also a 16-byte
 * HeapNumber; an object or array has a header and a backing store.
 */
const STRING_HEADER = 16;
const SLOT = 8;
const HEAP_NUMBER = 16;
const OBJECT_HEADER = 32;
const ARRAY_HEADER = 32;
/**
 * Past this many properties V8 keeps an object as a hash table (dictionary
 * mode): each property then costs about three more words (measured: a parsed
 * object of 500 keys took ~50 bytes per property).
 */
const FAST_PROPERTIES = 128;
const DICTIONARY_ENTRY = 24;

/**
 * Estimated heap bytes of one stored event: its values walked (no
 * `JSON.stringify`, nothing allocated for flat data) plus
 * {@link EVENT_OVERHEAD_BYTES}. Property names count like strings, though V8
 * shares them between objects: an over-estimate, so the bound errs towards
 * holding less. A value met twice (shared, or a cycle) counts once.
 */
export function estimateEventBytes(envelope: EventEnvelope): number {
  let bytes = EVENT_OVERHEAD_BYTES;
  for (const key in envelope) {
    const value: unknown = (envelope as unknown as Record<string, unknown>)[key];
    bytes += key === 'data' || key === 'metadata' ? SLOT + estimateValueBytes(value) : SLOT + scalarBytes(value);
  }
  return bytes;
}

/** Estimated heap bytes of a JSON-like value (its slot in a parent not counted). Iterative: no depth can overflow the stack. */
export function estimateValueBytes(value: unknown): number {
  if (typeof value !== 'object' || value === null) return scalarBytes(value);
  const walk: SizeWalk = { root: value, pending: undefined, seen: undefined };
  let bytes = 0;
  let container: object | undefined = value;
  while (container !== undefined) {
    if (Array.isArray(container)) {
      bytes += ARRAY_HEADER + container.length * SLOT;
      for (let index = 0; index < container.length; index++) bytes += visit(walk, container[index]);
    } else {
      bytes += OBJECT_HEADER;
      const record = container as Record<string, unknown>;
      let properties = 0;
      for (const key in record) {
        properties++;
        bytes += SLOT + STRING_HEADER + key.length + visit(walk, record[key]);
      }
      if (properties > FAST_PROPERTIES) bytes += properties * DICTIONARY_ENTRY;
    }
    container = walk.pending?.pop();
  }
  return bytes;
}

/** The containers a size walk has still to count, and those met already; made once there is a container inside a container (most events are one flat object). */
interface SizeWalk {
  readonly root: object;
  pending: object[] | undefined;
  seen: Set<object> | undefined;
}

/** One value inside a container: a scalar's bytes, or 0 for a container, queued once however often it is met (shared, or a cycle). */
function visit(walk: SizeWalk, item: unknown): number {
  if (typeof item !== 'object' || item === null) return scalarBytes(item);
  walk.seen ??= new Set([walk.root]);
  if (!walk.seen.has(item)) {
    walk.seen.add(item);
    (walk.pending ??= []).push(item);
  }
  return 0;
}

function scalarBytes(value: unknown): number {
  switch (typeof value) {
    case 'string':
      return STRING_HEADER + value.length;
    case 'number':
      // Small integers live in their slot; other numbers are boxed.
      return Number.isInteger(value) && Math.abs(value) < 2 ** 31 ? 0 : HEAP_NUMBER;
    default:
      return 0;
  }
}
