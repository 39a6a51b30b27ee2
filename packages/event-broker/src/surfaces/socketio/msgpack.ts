// A small MessagePack decoder for what `@socket.io/redis-emitter` publishes
// (it encodes with notepack.io). Pure, no I/O. Written here rather than taken
// from npm: the subset is ~100 lines, and the general decoders (msgpackr,
// @msgpack/msgpack) have extension registries that can be made to construct
// objects (msgpackr's records and structured clone, registered ext types) —
// this one cannot: it builds plain data only.
//
// Accepted: nil, true/false, every int format (uint64/int64 only within
// ±(2^53−1), else refused), float32/float64 (NaN/±Infinity refused: JSON
// cannot carry them), fixstr/str8/16/32 (strict UTF-8), bin8/16/32 → Buffer (a
// copy), fixarray/array16/32 → array, fixmap/map16/32 → plain object (str keys;
// number keys as strings; others refused), and notepack's two extensions: ext
// type 0 of 8 bytes (a Date: its ISO string, as JSON.stringify would write it)
// and fixext1 type 0 (undefined: null in an array, left out of a map, as JSON).
// Every other ext type is refused `unsupported_type`.
//
// Bounded: input size, nesting depth, and declared lengths (a container cannot
// announce more items than bytes remain, so no input makes it allocate more
// than its size). Contract: `decodeMsgpack(bytes)` returns the value or throws
// `EmitterMessageError`.
import { EmitterMessageError } from './emitter-error.js';

/** Bounds on one MessagePack message. */
export interface MsgpackLimits {
  /**
   * Largest input, in bytes.
   * @default 1048576
   */
  readonly maxBytes: number;
  /**
   * Most nesting levels.
   * @default 128
   */
  readonly maxDepth: number;
}

/** The defaults of {@link MsgpackLimits}. */
export const msgpackLimitDefaults: MsgpackLimits = { maxBytes: 1_048_576, maxDepth: 128 };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/** Marks notepack's `undefined` while decoding. */
const UNDEFINED = Symbol('undefined');

/** Decodes one MessagePack value that spans the whole input; throws {@link EmitterMessageError}. */
export function decodeMsgpack(input: Uint8Array, limits: MsgpackLimits = msgpackLimitDefaults): unknown {
  if (input.byteLength > limits.maxBytes) throw new EmitterMessageError('too_large', `A MessagePack message of ${input.byteLength} bytes is over the limit of ${limits.maxBytes}`);
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let at = 0;

  const need = (count: number): number => {
    if (at + count > bytes.length) throw new EmitterMessageError('truncated', 'The MessagePack message ends inside a value');
    const start = at;
    at += count;
    return start;
  };
  const str = (length: number): string => {
    const start = need(length);
    try {
      return strictUtf8.decode(bytes.subarray(start, start + length));
    } catch {
      throw new EmitterMessageError('bad_string', 'A MessagePack str is not UTF-8');
    }
  };
  const bin = (length: number): Buffer => {
    const start = need(length);
    return Buffer.from(bytes.subarray(start, start + length));
  };
  const safe = (value: bigint): number => {
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) throw new EmitterMessageError('int_too_large', 'A MessagePack int is beyond ±(2^53−1)');
    return Number(value);
  };
  const float = (value: number): number => {
    if (!Number.isFinite(value)) throw new EmitterMessageError('bad_number', 'A MessagePack float is NaN or infinite, which JSON cannot carry');
    return value;
  };
  const count = (n: number): number => {
    // Every item takes at least one byte: a larger count is a lie, refused before allocating.
    if (n > bytes.length - at) throw new EmitterMessageError('truncated', 'A MessagePack container announces more items than bytes remain');
    return n;
  };
  const array = (n: number, depth: number): unknown[] => {
    const out: unknown[] = new Array(count(n));
    for (let i = 0; i < n; i++) {
      const item = value(depth + 1);
      out[i] = item === UNDEFINED ? null : item;
    }
    return out;
  };
  const map = (n: number, depth: number): Record<string, unknown> => {
    count(n);
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const rawKey = value(depth + 1);
      let key: string;
      if (typeof rawKey === 'string') key = rawKey;
      else if (typeof rawKey === 'number') key = String(rawKey);
      else throw new EmitterMessageError('unhashable_key', 'A MessagePack map key must be a str or a number');
      const item = value(depth + 1);
      // defineProperty: a "__proto__" key stays an own property.
      if (item !== UNDEFINED) Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  const ext = (length: number): unknown => {
    const type = bytes.readInt8(need(1));
    const start = need(length);
    if (type === 0 && length === 1 && bytes[start] === 0) return UNDEFINED;
    if (type === 0 && length === 8) {
      const time = bytes.readDoubleBE(start);
      const date = new Date(time);
      if (Number.isNaN(date.getTime())) throw new EmitterMessageError('bad_number', 'A MessagePack date is not a valid time');
      return date.toISOString();
    }
    throw new EmitterMessageError('unsupported_type', `MessagePack extension type ${type} (${length} bytes) is not accepted`);
  };

  const value = (depth: number): unknown => {
    if (depth > limits.maxDepth) throw new EmitterMessageError('too_deep', `A MessagePack message nests more than ${limits.maxDepth} levels`);
    const byte = bytes[need(1)]!;
    if (byte <= 0x7f) return byte;
    if (byte >= 0xe0) return byte - 0x100;
    if ((byte & 0xe0) === 0xa0) return str(byte & 0x1f);
    if ((byte & 0xf0) === 0x90) return array(byte & 0x0f, depth);
    if ((byte & 0xf0) === 0x80) return map(byte & 0x0f, depth);
    switch (byte) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return bin(bytes[need(1)]!);
      case 0xc5:
        return bin(bytes.readUInt16BE(need(2)));
      case 0xc6:
        return bin(bytes.readUInt32BE(need(4)));
      case 0xc7:
        return ext(bytes[need(1)]!);
      case 0xc8:
        return ext(bytes.readUInt16BE(need(2)));
      case 0xc9:
        return ext(bytes.readUInt32BE(need(4)));
      case 0xca:
        return float(bytes.readFloatBE(need(4)));
      case 0xcb:
        return float(bytes.readDoubleBE(need(8)));
      case 0xcc:
        return bytes[need(1)]!;
      case 0xcd:
        return bytes.readUInt16BE(need(2));
      case 0xce:
        return bytes.readUInt32BE(need(4));
      case 0xcf:
        return safe(bytes.readBigUInt64BE(need(8)));
      case 0xd0:
        return bytes.readInt8(need(1));
      case 0xd1:
        return bytes.readInt16BE(need(2));
      case 0xd2:
        return bytes.readInt32BE(need(4));
      case 0xd3:
        return safe(bytes.readBigInt64BE(need(8)));
      case 0xd4:
        return ext(1);
      case 0xd5:
        return ext(2);
      case 0xd6:
        return ext(4);
      case 0xd7:
        return ext(8);
      case 0xd8:
        return ext(16);
      case 0xd9:
        return str(bytes[need(1)]!);
      case 0xda:
        return str(bytes.readUInt16BE(need(2)));
      case 0xdb:
        return str(bytes.readUInt32BE(need(4)));
      case 0xdc:
        return array(bytes.readUInt16BE(need(2)), depth);
      case 0xdd:
        return array(bytes.readUInt32BE(need(4)), depth);
      case 0xde:
        return map(bytes.readUInt16BE(need(2)), depth);
      case 0xdf:
        return map(bytes.readUInt32BE(need(4)), depth);
      default:
        // 0xc1 is never used by MessagePack.
        throw new EmitterMessageError('unsupported_type', `Byte 0x${byte.toString(16)} starts no MessagePack value`);
    }
  };

  const result = value(0);
  if (at !== bytes.length) throw new EmitterMessageError('trailing_bytes', 'Bytes follow the MessagePack value');
  return result === UNDEFINED ? null : result;
}
