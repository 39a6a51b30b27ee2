// Socket.IO event arguments ↔ an eventwire envelope's `data` and `metadata`.
// Pure, no I/O. The decision (PROTOCOL.md "Socket.IO"):
//
// - one argument → `data` is that argument (so `socket.emit('UpdateChat', chat)`
//   and `broadcastOn('chat.7')` with `chat` as data are the same event);
// - zero or several arguments → `data` is the argument array and
//   `metadata.args` is `"spread"`;
// - binary (Buffer, ArrayBuffer, typed arrays), anywhere in an argument, is
//   `{ "$binary": "<base64>" }` inside the JSON envelope, and a Buffer again on
//   the way out;
// - the Socket.IO event name is `metadata.event` (as on the Pusher surface); an
//   envelope without one is named after its topic.
//
// Contract for the surface: `envelopeDataOf(event, args)` for what a socket or
// an emitter sends (args as decoded: Buffers where attachments were), and
// `argumentsOf({ topic, data, metadata })` for what goes to sockets (feed its
// args to `encodeBinaryPacket`). An object whose only key is `$binary` holding
// valid base64 always reads back as bytes: that shape is reserved.
import { isPlainObject } from './packet.js';

/** `metadata.args` when `data` holds the arguments as an array. */
export const SPREAD = 'spread';

/** What an envelope carries for one Socket.IO emit. */
export interface EnvelopeData {
  readonly data: unknown;
  readonly metadata: { readonly event: string; readonly args?: typeof SPREAD };
}

/** What a socket receives for one envelope. */
export interface SocketIoArguments {
  readonly event: string;
  readonly args: unknown[];
}

/** The envelope `data` and `metadata` for an emit of `event` with `args`. */
export function envelopeDataOf(event: string, args: readonly unknown[]): EnvelopeData {
  if (args.length === 1) return { data: toJsonSafe(args[0]), metadata: { event } };
  return { data: args.map(toJsonSafe), metadata: { event, args: SPREAD } };
}

/** The event name and arguments a socket receives for an envelope. */
export function argumentsOf(envelope: { readonly topic: string; readonly data?: unknown; readonly metadata?: Readonly<Record<string, unknown>> | undefined }): SocketIoArguments {
  const named = envelope.metadata?.['event'];
  const event = typeof named === 'string' ? named : envelope.topic;
  const spread = envelope.metadata?.['args'] === SPREAD && Array.isArray(envelope.data);
  if (spread) return { event, args: (envelope.data as unknown[]).map(fromJsonSafe) };
  return { event, args: envelope.data === undefined ? [] : [fromJsonSafe(envelope.data)] };
}

/** Binary → `{ $binary: base64 }`, recursively; everything else as it is. */
export function toJsonSafe(value: unknown): unknown {
  if (value instanceof ArrayBuffer) return { $binary: Buffer.from(value).toString('base64') };
  if (ArrayBuffer.isView(value)) return { $binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (!isPlainObject(value)) return value;
  return mapObject(value, toJsonSafe);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `{ $binary: base64 }` → Buffer, recursively; everything else as it is. */
export function fromJsonSafe(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(fromJsonSafe);
  if (!isPlainObject(value)) return value;
  const keys = Object.keys(value);
  const encoded = value['$binary'];
  if (keys.length === 1 && typeof encoded === 'string' && BASE64.test(encoded)) return Buffer.from(encoded, 'base64');
  return mapObject(value, fromJsonSafe);
}

function mapObject(value: Record<string, unknown>, map: (item: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // defineProperty: a "__proto__" key stays an own property instead of setting the prototype.
  for (const key of Object.keys(value)) Object.defineProperty(out, key, { value: map(value[key]), enumerable: true, writable: true, configurable: true });
  return out;
}
