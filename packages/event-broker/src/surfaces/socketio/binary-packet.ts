// Binary Socket.IO packets (BINARY_EVENT 5, BINARY_ACK 6). Pure, no I/O.
//
// On the wire a binary packet is its text (`51-["up",{"_placeholder":true,"num":0}]`)
// followed by as many binary Engine.IO messages as it announces; each Buffer of
// the data is replaced by a placeholder `{"_placeholder":true,"num":n}`, n
// numbered depth-first in the order the encoder meets them (socket.io-parser
// binary.ts), and the n-th binary message is that Buffer.
//
// Contract for the surface:
// - After `decodePacket` returns a packet with `attachments` (> 0), make a
//   `BinaryReassembler(packet)` and give it each following binary message with
//   `add(bytes)`: it answers undefined until the last one, then the packet with
//   its placeholders replaced by Buffers (type and attachments kept). A text
//   message arriving while one is pending is a protocol error for the surface
//   (socket.io-parser throws "got plaintext data when reconstructing a packet").
//   A packet announcing 0 attachments is complete at once: `reassembleNow`.
// - A placeholder whose `num` is not an integer in [0, attachments), or an extra
//   attachment, throws `SocketIoPacketError` (`illegal_placeholder`,
//   `unexpected_attachment`): the surface closes the connection.
// - `encodeBinaryPacket` takes a packet whose data may hold Buffers, ArrayBuffers
//   or typed arrays and returns the text and the attachments to send after it;
//   without binary it returns the plain text and no attachments (type unchanged).
import { SocketIoPacketError } from './packet-error.js';
import { PacketType, header, isPlainObject, type SocketIoPacket } from './packet.js';

/** What to send for one packet: its text, then each attachment as a binary message. */
export interface EncodedPacket {
  readonly text: string;
  readonly attachments: readonly Buffer[];
}

/** Collects the binary messages a BINARY_EVENT/BINARY_ACK announced and rebuilds its data. */
export class BinaryReassembler {
  readonly #packet: SocketIoPacket;
  readonly #buffers: Buffer[] = [];

  constructor(packet: SocketIoPacket) {
    if (packet.attachments === undefined) throw new SocketIoPacketError('illegal_attachments', 'Only a binary packet has attachments to wait for');
    this.#packet = packet;
  }

  /** How many attachments are still to come. */
  get missing(): number {
    return this.#packet.attachments! - this.#buffers.length;
  }

  /** Takes the next binary message; the packet once it is whole, else undefined. */
  add(bytes: Uint8Array): SocketIoPacket | undefined {
    if (this.missing <= 0) throw new SocketIoPacketError('unexpected_attachment', 'A binary message arrived that no packet announced');
    this.#buffers.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return this.missing === 0 ? reconstruct(this.#packet, this.#buffers) : undefined;
  }
}

/** A binary packet that announced no attachments is already whole (its placeholders, if any, are illegal). */
export function reassembleNow(packet: SocketIoPacket): SocketIoPacket {
  return reconstruct(packet, []);
}

function reconstruct(packet: SocketIoPacket, buffers: readonly Buffer[]): SocketIoPacket {
  const used = new Set<number>();
  const data = replacePlaceholders(packet.data, buffers, used);
  return { ...packet, data };
}

/** Recursion is bounded: decodePacket refused data deeper than its maxDepth. */
function replacePlaceholders(value: unknown, buffers: readonly Buffer[], used: Set<number>): unknown {
  if (Array.isArray(value)) return value.map((item) => replacePlaceholders(item, buffers, used));
  if (!isPlainObject(value)) return value;
  if (value['_placeholder'] === true) {
    const num = value['num'];
    if (typeof num !== 'number' || !Number.isInteger(num) || num < 0 || num >= buffers.length) {
      throw new SocketIoPacketError('illegal_placeholder', 'A placeholder must name an attachment by its index');
    }
    used.add(num);
    return buffers[num];
  }
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // defineProperty: a "__proto__" key from JSON stays a plain own property.
    Object.defineProperty(out, key, { value: replacePlaceholders(value[key], buffers, used), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** True for what Socket.IO sends as an attachment. */
export function isBinary(value: unknown): value is Uint8Array | ArrayBuffer {
  return value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

/**
 * Encodes a packet whose data may hold binary: placeholders numbered
 * depth-first, EVENT → BINARY_EVENT and ACK → BINARY_ACK when there is any.
 */
export function encodeBinaryPacket(packet: SocketIoPacket): EncodedPacket {
  const attachments: Buffer[] = [];
  const data = packet.data === undefined ? undefined : deconstruct(packet.data, attachments);
  let type = packet.type;
  if (attachments.length > 0) {
    if (type === PacketType.EVENT) type = PacketType.BINARY_EVENT;
    else if (type === PacketType.ACK) type = PacketType.BINARY_ACK;
    else if (type !== PacketType.BINARY_EVENT && type !== PacketType.BINARY_ACK) throw new SocketIoPacketError('invalid_payload', 'Only an EVENT or an ACK can carry binary');
  }
  const binary = type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK;
  const text = header(packet, type, binary ? attachments.length : undefined) + (data === undefined ? '' : JSON.stringify(data));
  return { text, attachments };
}

function deconstruct(value: unknown, attachments: Buffer[]): unknown {
  if (isBinary(value)) {
    const bytes = value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    attachments.push(bytes);
    return { _placeholder: true, num: attachments.length - 1 };
  }
  if (Array.isArray(value)) return value.map((item) => deconstruct(item, attachments));
  if (!isPlainObject(value) || typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    Object.defineProperty(out, key, { value: deconstruct(value[key], attachments), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
