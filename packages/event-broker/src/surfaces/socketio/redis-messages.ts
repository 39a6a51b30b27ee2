// What Socket.IO's Redis emitters publish, normalised into one shape. Pure, no I/O.
//
// - python-socketio's managers publish on channel `socketio` (configurable) a
//   dict `{method, event, data, namespace, room, skip_sid, callback, host_id}`:
//   pickled up to 5.13 (`data` one value, or a tuple of arguments), JSON from
//   5.14 (`data` always a list, and `binary`: `[<data with placeholders>,
//   base64(att0), …]`). Other methods: `disconnect {sid}`, `close_room {room}`,
//   `enter_room`/`leave_room {sid, room}`, `callback` (answers to a server's
//   ack, which no write-only emitter can ask for).
// - `@socket.io/redis-emitter` publishes msgpack `[uid, {type: 2, data: [event,
//   ...args], nsp}, {rooms, except, flags: {volatile?}}]` on `socket.io#<nsp>#…`
//   and JSON requests on `socket.io-request#<nsp>#`: socketsJoin (2),
//   socketsLeave (3), disconnectSockets (4), serverSideEmit (6).
//
// Contract for the bridge: `decodePythonManagerMessage(bytes)`,
// `decodeNodeEmitterMessage(bytes)` and `decodeNodeEmitterRequest(channel,
// bytes)` each return an {@link EmitterItem} or throw `EmitterMessageError`
// (count it by `reason`, drop the message). `rooms: []` means the whole
// namespace. A socket is always in the room named by its id, so a request
// aimed at one socket (python `disconnect {sid}`) selects `rooms: [sid]`.
// Arguments hold Buffers where the emitter sent bytes; give them to
// `envelopeDataOf` (arguments.ts).
import { findPayloadProblem, payloadLimitDefaults } from '@eventwire/event-channel/protocol';
import { BinaryReassembler } from './binary-packet.js';
import { EmitterMessageError } from './emitter-error.js';
import { decodeMsgpack, msgpackLimitDefaults } from './msgpack.js';
import { PacketType, isPlainObject } from './packet.js';
import { decodePickle, pickleLimitDefaults } from './pickle.js';

/** Which emitter a message came from. */
export type EmitterSource = 'python-socketio' | 'socket.io-redis-emitter';

/** One emit, whoever sent it. */
export interface EmitterMessage {
  readonly event: string;
  readonly args: unknown[];
  readonly nsp: string;
  /** The rooms to deliver to; empty: the whole namespace. */
  readonly rooms: string[];
  /** Rooms (socket ids included: every socket is in its own room) whose sockets are skipped. */
  readonly except: string[];
  /** Deliver only to sockets connected now: not stored, not replayed. */
  readonly volatile: boolean;
  readonly source: EmitterSource;
}

/** Requests acting on sockets rather than emitting to them. `rooms`/`except` select the sockets, as for an emit. */
export type EmitterRequest =
  | { readonly type: 'socketsJoin'; readonly nsp: string; readonly rooms: string[]; readonly except: string[]; readonly join: string[]; readonly source: EmitterSource }
  | { readonly type: 'socketsLeave'; readonly nsp: string; readonly rooms: string[]; readonly except: string[]; readonly leave: string[]; readonly source: EmitterSource }
  | { readonly type: 'disconnectSockets'; readonly nsp: string; readonly rooms: string[]; readonly except: string[]; readonly close: boolean; readonly source: EmitterSource }
  | { readonly type: 'serverSideEmit'; readonly nsp: string; readonly event: string; readonly args: unknown[]; readonly source: EmitterSource };

/** What one Redis message decodes to; `ignored` names what is understood but means nothing here (python `callback`). */
export type EmitterItem =
  | { readonly kind: 'emit'; readonly message: EmitterMessage }
  | { readonly kind: 'request'; readonly request: EmitterRequest }
  | { readonly kind: 'ignored'; readonly method: string };

const PYTHON: EmitterSource = 'python-socketio';
const NODE: EmitterSource = 'socket.io-redis-emitter';
const MAX_BYTES = pickleLimitDefaults.maxBytes;

/** A python-socketio manager message: pickle (first byte PROTO 0x80) or JSON (`{`). */
export function decodePythonManagerMessage(bytes: Uint8Array): EmitterItem {
  if (bytes.byteLength > MAX_BYTES) throw new EmitterMessageError('too_large', `A message of ${bytes.byteLength} bytes is over the limit of ${MAX_BYTES}`);
  if (bytes[0] === 0x80) {
    const { value, isTuple } = decodePickle(bytes);
    const message = object(value, 'message');
    return pythonItem(message, () => {
      const data = message['data'];
      if (data === null || data === undefined) return [];
      return isTuple(data) ? (data as unknown[]) : [data];
    });
  }
  const message = object(parseJson(bytes), 'message');
  return pythonItem(message, (): unknown[] => {
    const sent = message['data'];
    if (!Array.isArray(sent)) throw new EmitterMessageError('bad_field', 'python-socketio ≥ 5.14 sends data as a list');
    const data: unknown[] = message['binary'] === true ? reconstruct(sent) : sent;
    if (data.length === 1) return data[0] === null ? [] : [data[0]];
    return data;
  });
}

function pythonItem(message: Record<string, unknown>, args: () => unknown[]): EmitterItem {
  const method = message['method'];
  const nsp = namespace(message['namespace'] ?? '/');
  switch (method) {
    case 'emit':
      return {
        kind: 'emit',
        message: { event: string(message['event'], 'event'), args: checked(args()), nsp, rooms: oneOrMany(message['room'], 'room'), except: oneOrMany(message['skip_sid'], 'skip_sid'), volatile: false, source: PYTHON },
      };
    case 'disconnect':
      return { kind: 'request', request: { type: 'disconnectSockets', nsp, rooms: [string(message['sid'], 'sid')], except: [], close: false, source: PYTHON } };
    case 'close_room': {
      const room = string(message['room'], 'room');
      return { kind: 'request', request: { type: 'socketsLeave', nsp, rooms: [room], except: [], leave: [room], source: PYTHON } };
    }
    case 'enter_room':
      return { kind: 'request', request: { type: 'socketsJoin', nsp, rooms: [string(message['sid'], 'sid')], except: [], join: [string(message['room'], 'room')], source: PYTHON } };
    case 'leave_room':
      return { kind: 'request', request: { type: 'socketsLeave', nsp, rooms: [string(message['sid'], 'sid')], except: [], leave: [string(message['room'], 'room')], source: PYTHON } };
    case 'callback':
      return { kind: 'ignored', method };
    default:
      throw new EmitterMessageError('unknown_method', `python-socketio method ${JSON.stringify(String(method)).slice(0, 40)} is not known`);
  }
}

/** python-socketio's binary JSON data: `[<list with placeholders>, base64(att0), …]` → the list with Buffers. */
function reconstruct(data: unknown[]): unknown[] {
  const [shape, ...encoded] = data;
  if (!Array.isArray(shape) || encoded.some((item) => typeof item !== 'string')) throw new EmitterMessageError('bad_field', 'Binary data must be a list and base64 attachments');
  const assembler = new BinaryReassembler({ type: PacketType.BINARY_EVENT, nsp: '/', data: shape, attachments: encoded.length });
  let whole: { readonly data?: unknown } | undefined = encoded.length === 0 ? { data: shape } : undefined;
  try {
    for (const item of encoded) whole = assembler.add(Buffer.from(item as string, 'base64'));
  } catch {
    throw new EmitterMessageError('bad_field', 'A binary placeholder names no attachment');
  }
  return whole!.data as unknown[];
}

/** A `@socket.io/redis-emitter` message (msgpack, channel `socket.io#<nsp>#…`). */
export function decodeNodeEmitterMessage(bytes: Uint8Array): EmitterItem {
  const value = decodeMsgpack(bytes, msgpackLimitDefaults);
  if (!Array.isArray(value) || value.length < 2) throw new EmitterMessageError('not_a_message', 'An emitter message is [uid, packet, options]');
  const packet = object(value[1], 'packet');
  const opts = value[2] === undefined || value[2] === null ? {} : object(value[2], 'options');
  if (packet['type'] !== PacketType.EVENT && packet['type'] !== PacketType.BINARY_EVENT) throw new EmitterMessageError('unknown_method', 'Only EVENT packets are emitted');
  const data = packet['data'];
  if (!Array.isArray(data) || data.length === 0) throw new EmitterMessageError('bad_field', 'An emitted packet\'s data is [event, ...args]');
  const flags = opts['flags'] === undefined ? {} : object(opts['flags'], 'flags');
  return {
    kind: 'emit',
    message: {
      event: string(data[0], 'event'),
      args: checked(data.slice(1)),
      nsp: namespace(packet['nsp'] ?? '/'),
      rooms: strings(opts['rooms'] ?? [], 'rooms'),
      except: strings(opts['except'] ?? [], 'except'),
      volatile: flags['volatile'] === true,
      source: NODE,
    },
  };
}

/** A `@socket.io/redis-emitter` request (JSON on `<key>-request#<nsp>#`, the emitter's `key` being `socket.io` by default). */
export function decodeNodeEmitterRequest(channel: string, bytes: Uint8Array, key = 'socket.io'): EmitterItem {
  const prefix = `${key}-request#`;
  const nsp = channel.startsWith(prefix) && channel.endsWith('#') ? channel.slice(prefix.length, -1) : '';
  if (!nsp.startsWith('/') || nsp.includes('#')) throw new EmitterMessageError('bad_field', `A request channel is ${prefix}<nsp>#`);
  const request = object(parseJson(bytes), 'request');
  const opts = request['opts'] === undefined ? {} : object(request['opts'], 'opts');
  const select = { nsp, rooms: strings(opts['rooms'] ?? [], 'rooms'), except: strings(opts['except'] ?? [], 'except'), source: NODE };
  switch (request['type']) {
    case 2:
      return { kind: 'request', request: { type: 'socketsJoin', ...select, join: strings(request['rooms'], 'rooms') } };
    case 3:
      return { kind: 'request', request: { type: 'socketsLeave', ...select, leave: strings(request['rooms'], 'rooms') } };
    case 4:
      return { kind: 'request', request: { type: 'disconnectSockets', ...select, close: request['close'] === true } };
    case 6: {
      const data = request['data'];
      if (!Array.isArray(data) || data.length === 0) throw new EmitterMessageError('bad_field', 'serverSideEmit data is [event, ...args]');
      return { kind: 'request', request: { type: 'serverSideEmit', nsp, event: string(data[0], 'event'), args: checked(data.slice(1)), source: NODE } };
    }
    default:
      throw new EmitterMessageError('unknown_method', 'Only socketsJoin, socketsLeave, disconnectSockets and serverSideEmit requests are accepted');
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function parseJson(bytes: Uint8Array): unknown {
  if (bytes.byteLength > MAX_BYTES) throw new EmitterMessageError('too_large', `A message of ${bytes.byteLength} bytes is over the limit of ${MAX_BYTES}`);
  try {
    return JSON.parse(strictUtf8.decode(bytes));
  } catch {
    throw new EmitterMessageError('not_json', 'The message is neither a pickle nor JSON');
  }
}

function checked(args: unknown[]): unknown[] {
  const problem = findPayloadProblem(args.map((arg) => (Buffer.isBuffer(arg) ? null : arg)), payloadLimitDefaults.maxDepth);
  if (problem !== undefined) throw new EmitterMessageError(problem.includes('deep') ? 'too_deep' : 'bad_number', `The emitted data ${problem}`);
  return args;
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw new EmitterMessageError('not_a_message', `The ${what} must be a map`);
  return value;
}

function string(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new EmitterMessageError('bad_field', `${what} must be a string`);
  return value;
}

function strings(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw new EmitterMessageError('bad_field', `${what} must be a list of strings`);
  return [...new Set(value as string[])];
}

/** python's `room`/`skip_sid`: None, one string, or a list of strings. */
function oneOrMany(value: unknown, what: string): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === 'string') return [value];
  return strings(value, what);
}

function namespace(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) throw new EmitterMessageError('bad_field', 'A namespace must be a string starting with "/"');
  return value;
}
