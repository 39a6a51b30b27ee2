// A safe decoder for the pickles python-socketio (≤ 5.13) publishes on Redis.
// Pure, no I/O, and it never runs anything: pickle is a small stack machine whose
// opcodes can import and call any Python global (GLOBAL/STACK_GLOBAL + REDUCE is
// `os.system('…')`), so this decoder interprets an allow-list of opcodes that
// build plain data only and refuses every other opcode by name:
//
//   allowed   PROTO (2–5) FRAME STOP MARK EMPTY_DICT EMPTY_LIST EMPTY_TUPLE
//             SETITEM SETITEMS APPEND APPENDS TUPLE TUPLE1 TUPLE2 TUPLE3
//             SHORT_BINUNICODE BINUNICODE BINUNICODE8 SHORT_BINBYTES BINBYTES
//             BINBYTES8 BYTEARRAY8 BININT BININT1 BININT2 LONG1 LONG4 BINFLOAT
//             NONE NEWTRUE NEWFALSE MEMOIZE BINPUT LONG_BINPUT BINGET LONG_BINGET
//   refused   GLOBAL STACK_GLOBAL REDUCE BUILD INST OBJ NEWOBJ NEWOBJ_EX PERSID
//             BINPERSID EXT1 EXT2 EXT4 NEXT_BUFFER READONLY_BUFFER, the text
//             protocol's opcodes (protocol 0/1 are never what python-socketio
//             sends), and any byte that is no opcode
//
// (the opcodes real python-socketio messages use, from Python's pickletools on
// protocols 2–5: research doc "Pickle opcodes"). What it builds: dict → plain
// object (str keys; int/float/bool/None keys written as json.dumps writes them;
// other keys refused), list and tuple → array (`isTuple` tells them apart, as
// python-socketio ≤ 5.13 uses a tuple for several arguments), str → string,
// int within ±(2^53−1) → number (beyond: refused, never rounded), float →
// number (NaN/±Infinity refused: JSON cannot carry them), bool, None → null,
// bytes/bytearray → Buffer (a copy).
//
// Bounded: input size, nesting depth, memo entries, and the number of values
// the result holds once shared references (BINGET of one list twice) are
// expanded — so neither a "billion laughs" of memo references nor a cycle (a
// list appended to itself: refused) can make the result expensive to walk.
//
// Contract for the bridge: `decodePickle(bytes)` returns `{ value, isTuple }`
// or throws `EmitterMessageError` (`reason`; `opcode` names a refused opcode).
import { EmitterMessageError } from './emitter-error.js';

/** Bounds on one pickle. */
export interface PickleLimits {
  /**
   * Largest input, in bytes.
   * @default 1048576
   */
  readonly maxBytes: number;
  /**
   * Most nesting levels in the result (and open MARKs while decoding).
   * @default 128
   */
  readonly maxDepth: number;
  /**
   * Most memo entries.
   * @default 65536
   */
  readonly maxMemo: number;
  /**
   * Most values in the result, counting a shared container once per place it appears.
   * @default 100000
   */
  readonly maxValues: number;
  /**
   * Most bytes of str and bytes in the result, counting a shared one once per place it appears.
   * @default 4194304
   */
  readonly maxResultBytes: number;
}

/** The defaults of {@link PickleLimits}. */
export const pickleLimitDefaults: PickleLimits = { maxBytes: 1_048_576, maxDepth: 128, maxMemo: 65_536, maxValues: 100_000, maxResultBytes: 4_194_304 };

/** A decoded pickle: plain data, and which of its arrays were Python tuples. */
export interface DecodedPickle {
  readonly value: unknown;
  isTuple(value: unknown): boolean;
}

// Opcodes by byte. Allowed ones are handled in the switch below; this table names every opcode for refusals.
const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT', 0x4b: 'BININT1',
  0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE', 0x53: 'STRING', 0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND', 0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT',
  0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET', 0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT', 0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS',
  0x47: 'BINFLOAT', 0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/** Python containers while decoding; turned into plain data (copied) at STOP. */
class PyList {
  readonly items: unknown[] = [];
}
class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}
class PyDict {
  readonly entries = new Map<string, unknown>();
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes one pickle into plain data, or throws {@link EmitterMessageError}. */
export function decodePickle(input: Uint8Array, limits: PickleLimits = pickleLimitDefaults): DecodedPickle {
  if (input.byteLength > limits.maxBytes) throw new EmitterMessageError('too_large', `A pickle of ${input.byteLength} bytes is over the limit of ${limits.maxBytes}`);
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;

  const need = (count: number): number => {
    if (count < 0 || at + count > bytes.length) throw new EmitterMessageError('truncated', 'The pickle ends inside an opcode');
    const start = at;
    at += count;
    return start;
  };
  const uint = (size: 1 | 2 | 4 | 8): number => {
    const start = need(size);
    if (size === 1) return bytes[start]!;
    if (size === 2) return bytes.readUInt16LE(start);
    if (size === 4) return bytes.readUInt32LE(start);
    const big = bytes.readBigUInt64LE(start);
    // Any 8-byte length past the input is truncated anyway; keep it a number.
    return big > BigInt(bytes.length) ? bytes.length + 1 : Number(big);
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) throw new EmitterMessageError('stack_underflow', 'An opcode takes more values than the stack holds');
    return stack.pop();
  };
  const top = (): unknown => {
    // As pickle's own machine: a MARK starts a new frame, nothing below it is reachable until it is popped.
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) throw new EmitterMessageError('stack_underflow', 'An opcode needs a value on the stack');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const mark = marks.pop();
    if (mark === undefined) throw new EmitterMessageError('mark_missing', 'An opcode needs a MARK that was never set');
    return stack.splice(mark);
  };
  const text = (length: number): string => {
    const start = need(length);
    try {
      return strictUtf8.decode(bytes.subarray(start, start + length));
    } catch {
      throw new EmitterMessageError('bad_string', 'A pickled str is not UTF-8');
    }
  };
  const blob = (length: number): Buffer => {
    const start = need(length);
    return Buffer.from(bytes.subarray(start, start + length)); // a copy: never a view into the message
  };
  const put = (index: number): void => {
    if (!memo.has(index) && memo.size >= limits.maxMemo) throw new EmitterMessageError('memo_full', `A pickle memoizes more than ${limits.maxMemo} values`);
    memo.set(index, top());
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof PyDict)) throw new EmitterMessageError('stack_underflow', 'SETITEM(S) needs a dict under its items');
    if (items.length % 2 !== 0) throw new EmitterMessageError('stack_underflow', 'SETITEMS needs key/value pairs');
    for (let i = 0; i < items.length; i += 2) dict.entries.set(keyOf(items[i]), items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!(list instanceof PyList)) throw new EmitterMessageError('stack_underflow', 'APPEND(S) needs a list under its items');
    for (const item of items) list.items.push(item);
  };

  for (;;) {
    if (at >= bytes.length) throw new EmitterMessageError('truncated', 'The pickle ends without STOP');
    const op = bytes[at++]!;
    switch (op) {
      case 0x80: {
        const version = uint(1);
        if (version < 2 || version > 5) throw new EmitterMessageError('unsupported_protocol', `Pickle protocol ${version} is not accepted (2 to 5)`);
        break;
      }
      case 0x95: // FRAME: a length hint for buffered readers; the whole message is here already.
        if (uint(8) > bytes.length - at) throw new EmitterMessageError('truncated', 'A FRAME is longer than the rest of the pickle');
        break;
      case 0x2e: {
        // STOP
        if (at !== bytes.length) throw new EmitterMessageError('trailing_bytes', 'Bytes follow the pickle\'s STOP');
        if (stack.length !== 1 || marks.length !== 0) throw new EmitterMessageError('stack_underflow', 'STOP needs exactly one value on the stack');
        return toPlain(stack[0], limits);
      }
      case 0x28:
        if (marks.length >= limits.maxDepth) throw new EmitterMessageError('too_deep', `A pickle nests more than ${limits.maxDepth} MARKs`);
        marks.push(stack.length);
        break;
      case 0x7d:
        stack.push(new PyDict());
        break;
      case 0x5d:
        stack.push(new PyList());
        break;
      case 0x29:
        stack.push(new PyTuple([]));
        break;
      case 0x73: {
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        const item = pop();
        appendItems(top(), [item]);
        break;
      }
      case 0x65: {
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x74:
        stack.push(new PyTuple(popMark()));
        break;
      case 0x85:
      case 0x86:
      case 0x87: {
        const items: unknown[] = [];
        for (let n = op - 0x84; n > 0; n--) items.unshift(pop());
        stack.push(new PyTuple(items));
        break;
      }
      case 0x8c:
        stack.push(text(uint(1)));
        break;
      case 0x58:
        stack.push(text(uint(4)));
        break;
      case 0x8d:
        stack.push(text(uint(8)));
        break;
      case 0x43:
        stack.push(blob(uint(1)));
        break;
      case 0x42:
        stack.push(blob(uint(4)));
        break;
      case 0x8e:
      case 0x96:
        stack.push(blob(uint(8)));
        break;
      case 0x4a:
        stack.push(bytes.readInt32LE(need(4)));
        break;
      case 0x4b:
        stack.push(uint(1));
        break;
      case 0x4d:
        stack.push(uint(2));
        break;
      case 0x8a:
      case 0x8b: {
        const length = uint(op === 0x8a ? 1 : 4);
        // Python writes the fewest bytes; more than 8 always means a value past 2^53.
        if (length > 8) throw new EmitterMessageError('int_too_large', 'A pickled int is beyond ±(2^53−1)');
        stack.push(longOf(bytes.subarray(need(length), at)));
        break;
      }
      case 0x47: {
        const value = bytes.readDoubleBE(need(8));
        if (!Number.isFinite(value)) throw new EmitterMessageError('bad_number', 'A pickled float is NaN or infinite, which JSON cannot carry');
        stack.push(value);
        break;
      }
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x94:
        put(memo.size);
        break;
      case 0x71:
        put(uint(1));
        break;
      case 0x72:
        put(uint(4));
        break;
      case 0x68:
      case 0x6a: {
        const index = uint(op === 0x68 ? 1 : 4);
        if (!memo.has(index)) throw new EmitterMessageError('memo_missing', `The memo has no entry ${index}`);
        stack.push(memo.get(index));
        break;
      }
      default: {
        const name = OPCODE_NAMES[op];
        if (name === undefined) throw new EmitterMessageError('unknown_opcode', `Byte 0x${op.toString(16).padStart(2, '0')} at ${at - 1} is no pickle opcode`, `0x${op.toString(16).padStart(2, '0')}`);
        throw new EmitterMessageError('forbidden_opcode', `Pickle opcode ${name} is refused: only plain data is accepted, nothing that imports, calls or builds objects`, name);
      }
    }
    if (stack.length > limits.maxValues) throw new EmitterMessageError('too_many_values', `A pickle holds more than ${limits.maxValues} values`);
  }
}

/** A little-endian two's-complement int, refused beyond ±(2^53−1). */
function longOf(raw: Uint8Array): number {
  if (raw.length === 0) return 0;
  let value = 0n;
  for (let i = raw.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(raw[i]!);
  if (raw[raw.length - 1]! & 0x80) value -= 1n << BigInt(raw.length * 8);
  if (value > MAX_SAFE || value < -MAX_SAFE) throw new EmitterMessageError('int_too_large', 'A pickled int is beyond ±(2^53−1)');
  return Number(value);
}

/** A dict key as json.dumps writes it; containers, bytes and tuples are refused. */
function keyOf(key: unknown): string {
  if (typeof key === 'string') return key;
  if (typeof key === 'number') return String(key);
  if (typeof key === 'boolean') return key ? 'true' : 'false';
  if (key === null) return 'null';
  throw new EmitterMessageError('unhashable_key', 'A pickled dict key must be a str, int, float, bool or None');
}

/** Copies the decoded graph into plain data: cycles refused, depth and expanded size bounded. */
function toPlain(root: unknown, limits: PickleLimits): DecodedPickle {
  const tuples = new WeakSet<object>();
  const onPath = new Set<object>();
  let values = 0;
  let resultBytes = 0;
  const copy = (value: unknown, depth: number): unknown => {
    if (++values > limits.maxValues) throw new EmitterMessageError('too_many_values', `A pickle holds more than ${limits.maxValues} values once shared references are expanded`);
    if (typeof value === 'string' || value instanceof Buffer) {
      resultBytes += value.length;
      if (resultBytes > limits.maxResultBytes) throw new EmitterMessageError('too_many_values', `A pickle's strings and bytes exceed ${limits.maxResultBytes} bytes once shared references are expanded`);
    }
    if (!(value instanceof PyList || value instanceof PyTuple || value instanceof PyDict)) return value;
    if (depth >= limits.maxDepth) throw new EmitterMessageError('too_deep', `A pickle nests more than ${limits.maxDepth} levels`);
    if (onPath.has(value)) throw new EmitterMessageError('cycle', 'A pickled container contains itself');
    onPath.add(value);
    let out: unknown;
    if (value instanceof PyDict) {
      const object: Record<string, unknown> = {};
      for (const [key, item] of value.entries) Object.defineProperty(object, key, { value: copy(item, depth + 1), enumerable: true, writable: true, configurable: true });
      out = object;
    } else {
      const array = value.items.map((item) => copy(item, depth + 1));
      if (value instanceof PyTuple) tuples.add(array);
      out = array;
    }
    onPath.delete(value);
    return out;
  };
  const value = copy(root, 0);
  return { value, isTuple: (candidate) => typeof candidate === 'object' && candidate !== null && tuples.has(candidate) };
}
