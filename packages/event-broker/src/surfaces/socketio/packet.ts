// Socket.IO v5 packets: one Engine.IO message's text ↔ `{ type, nsp, id?, data, attachments? }`.
// Pure, no I/O. The format (socket.io-protocol v5, socket.io-parser):
//
//   <type digit>[<attachments>-][<nsp>,][<ack id>][<JSON data>]
//
// type 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR, 5 BINARY_EVENT,
// 6 BINARY_ACK; the namespace is written only when it is not `/`; BINARY_* carry
// the count of binary Engine.IO messages that follow (see binary-packet.ts).
//
// Contract for the surface:
// - `decodePacket(text)` returns a packet or throws `SocketIoPacketError`
//   (`code` invalid_frame / payload_too_large / invalid_payload, `reason` which
//   rule) exactly where socket.io-parser refuses: unknown type, bad attachment
//   count (more than `maxAttachments`, default 10), payload that is not JSON, a
//   CONNECT payload that is not an object, a DISCONNECT with a payload, an
//   EVENT whose payload is not an array led by a number or a non-reserved
//   event name, an ACK whose payload is not an array, an ack id that is not
//   digits (`42abc[…]` is not JSON after the namespace). Also refused, where
//   socket.io-parser would let them through to its server: EVENT/ACK without a
//   payload, an ack id beyond 2^53, text longer than `maxLength`, data deeper
//   than `maxDepth` (the broker's payload rule, payload-shape.ts).
// - A BINARY_EVENT/BINARY_ACK comes back with `attachments` set and its data
//   still holding placeholders: feed it to `BinaryReassembler`.
// - `encodePacket(packet)` is the inverse for data without binary; for data
//   holding Buffers use `encodeBinaryPacket` (binary-packet.ts), which also
//   picks the BINARY_* type.
import { findPayloadProblem, payloadLimitDefaults } from '@eventwire/event-channel/protocol';
import { SocketIoPacketError } from './packet-error.js';

/** Socket.IO v5 packet types. */
export const PacketType = {
  CONNECT: 0,
  DISCONNECT: 1,
  EVENT: 2,
  ACK: 3,
  CONNECT_ERROR: 4,
  BINARY_EVENT: 5,
  BINARY_ACK: 6,
} as const;

/** One of {@link PacketType}. */
export type PacketTypeNumber = (typeof PacketType)[keyof typeof PacketType];

/** One Socket.IO packet. `data` is plain JSON data (or, for a packet being encoded, may hold Buffers). */
export interface SocketIoPacket {
  readonly type: PacketTypeNumber;
  /** The namespace, `/` when the text names none. */
  readonly nsp: string;
  /** The ack id: an EVENT asking for an answer, or the ACK answering it. */
  readonly id?: number;
  /** CONNECT: the auth object (or undefined); EVENT: `[name, ...args]`; ACK: the args; CONNECT_ERROR: `{ message, data? }` or a string. */
  readonly data?: unknown;
  /** BINARY_EVENT / BINARY_ACK: how many binary messages follow. */
  readonly attachments?: number;
}

/** Bounds on what one packet may cost to decode. */
export interface PacketLimits {
  /**
   * Longest packet text, in UTF-16 code units. Engine.IO's `maxPayload`
   * already bounds a message; this keeps the codec safe on its own.
   * @default 1000000
   */
  readonly maxLength: number;
  /**
   * Most nesting levels in the data, as the broker's payload rule.
   * @default 128
   */
  readonly maxDepth: number;
  /**
   * Most binary attachments one packet may announce (socket.io-parser's `maxAttachments`).
   * @default 10
   */
  readonly maxAttachments: number;
}

/** The defaults of {@link PacketLimits}: socket.io's `maxHttpBufferSize`/`maxPayload`, the broker's depth, socket.io-parser's attachment count. */
export const packetLimitDefaults: PacketLimits = { maxLength: 1_000_000, maxDepth: payloadLimitDefaults.maxDepth, maxAttachments: 10 };

/**
 * Event names a client may not emit: socket.io gives them meaning of its own
 * (socket.io-parser RESERVED_EVENTS), so a packet naming one is refused.
 */
export const RESERVED_EVENTS: ReadonlySet<string> = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

const ZERO = 0x30;
const NINE = 0x39;

/** Decodes one Engine.IO message's text into a Socket.IO packet; throws {@link SocketIoPacketError}. */
export function decodePacket(text: string, limits: PacketLimits = packetLimitDefaults): SocketIoPacket {
  if (text.length > limits.maxLength) throw new SocketIoPacketError('too_large', `A Socket.IO packet of ${text.length} characters is over the limit of ${limits.maxLength}`);
  const typeCode = text.charCodeAt(0);
  if (!(typeCode >= ZERO && typeCode <= ZERO + 6) || text.length === 0) throw new SocketIoPacketError('unknown_type', `Unknown Socket.IO packet type "${text.slice(0, 1)}"`);
  const type = (typeCode - ZERO) as PacketTypeNumber;
  let i = 1;

  let attachments: number | undefined;
  if (type === PacketType.BINARY_EVENT || type === PacketType.BINARY_ACK) {
    const dash = text.indexOf('-', i);
    const digits = dash < 0 ? '' : text.slice(i, dash);
    if (!/^[0-9]{1,4}$/.test(digits)) throw new SocketIoPacketError('illegal_attachments', 'A binary packet must start with its attachment count and "-"');
    attachments = Number(digits);
    if (attachments > limits.maxAttachments) throw new SocketIoPacketError('too_many_attachments', `A packet announces ${attachments} attachments; at most ${limits.maxAttachments} are accepted`);
    i = dash + 1;
  }

  let nsp = '/';
  if (text.charCodeAt(i) === 0x2f) {
    // Up to the comma, or to the end (`41/custom`).
    const comma = text.indexOf(',', i);
    const end = comma < 0 ? text.length : comma;
    nsp = text.slice(i, end);
    i = comma < 0 ? end : end + 1;
  }

  let id: number | undefined;
  const idStart = i;
  while (i < text.length && text.charCodeAt(i) >= ZERO && text.charCodeAt(i) <= NINE) i++;
  if (i > idStart) {
    id = Number(text.slice(idStart, i));
    if (!Number.isSafeInteger(id)) throw new SocketIoPacketError('bad_ack_id', 'An ack id must be an integer below 2^53');
  }

  let data: unknown;
  const hasData = i < text.length;
  if (hasData) {
    try {
      data = JSON.parse(text.slice(i));
    } catch {
      // `42abc[…]` lands here too: what follows the namespace is neither digits nor JSON.
      throw new SocketIoPacketError(notJsonReason(text.slice(i), nsp, id), 'The data of a Socket.IO packet must be JSON');
    }
    const problem = findPayloadProblem(data, limits.maxDepth);
    if (problem !== undefined) throw new SocketIoPacketError('too_deep', `The data of a Socket.IO packet ${problem}`);
  }
  checkPayload(type, hasData, data, id);
  const packet: { -readonly [K in keyof SocketIoPacket]: SocketIoPacket[K] } = { type, nsp };
  if (id !== undefined) packet.id = id;
  if (hasData) packet.data = data;
  if (attachments !== undefined) packet.attachments = attachments;
  return packet;
}

/** Names the likely mistake when what follows the header is not JSON: a namespace without its `/`, an ack id that is not digits, or bad JSON. */
function notJsonReason(rest: string, nsp: string, id: number | undefined): 'bad_namespace' | 'bad_ack_id' | 'not_json' {
  if (nsp === '/' && id === undefined && /^[^[{",]+,/.test(rest)) return 'bad_namespace';
  if (id === undefined && /^[^[{"\d-]/.test(rest) && /[[{]/.test(rest)) return 'bad_ack_id';
  return 'not_json';
}

/** socket.io-parser's `isPayloadValid`, stricter where its server would fail later. */
function checkPayload(type: PacketTypeNumber, hasData: boolean, data: unknown, id: number | undefined): void {
  switch (type) {
    case PacketType.CONNECT:
      if (hasData && !isPlainObject(data)) throw new SocketIoPacketError('invalid_payload', 'A CONNECT payload must be an object');
      if (id !== undefined) throw new SocketIoPacketError('bad_ack_id', 'A CONNECT packet carries no ack id');
      return;
    case PacketType.DISCONNECT:
      if (hasData || id !== undefined) throw new SocketIoPacketError('invalid_payload', 'A DISCONNECT packet carries nothing');
      return;
    case PacketType.CONNECT_ERROR:
      if (!hasData || !(typeof data === 'string' || isPlainObject(data))) throw new SocketIoPacketError('invalid_payload', 'A CONNECT_ERROR payload must be an object or a string');
      return;
    case PacketType.EVENT:
    case PacketType.BINARY_EVENT: {
      if (!Array.isArray(data)) throw new SocketIoPacketError('invalid_payload', 'An EVENT payload must be an array');
      const name: unknown = data[0];
      if (typeof name === 'number') return;
      if (typeof name !== 'string') throw new SocketIoPacketError('invalid_payload', 'An EVENT payload must start with the event name');
      if (RESERVED_EVENTS.has(name)) throw new SocketIoPacketError('reserved_event', `"${name}" is a reserved event name`);
      return;
    }
    case PacketType.ACK:
    case PacketType.BINARY_ACK:
      if (!Array.isArray(data)) throw new SocketIoPacketError('invalid_payload', 'An ACK payload must be an array');
      if (id === undefined) throw new SocketIoPacketError('bad_ack_id', 'An ACK must carry the id it answers');
      return;
  }
}

/**
 * Encodes a packet whose data holds no binary. The namespace must start with
 * `/` (written only when it is not `/`), the id must be a safe non-negative integer.
 */
export function encodePacket(packet: SocketIoPacket): string {
  return header(packet, packet.type, packet.attachments) + (packet.data === undefined ? '' : JSON.stringify(packet.data));
}

/** `<type>[<attachments>-][<nsp>,][<id>]`: what precedes the JSON data. */
export function header(packet: SocketIoPacket, type: PacketTypeNumber, attachments: number | undefined): string {
  if (typeof packet.nsp !== 'string' || !packet.nsp.startsWith('/')) throw new SocketIoPacketError('bad_namespace', 'A namespace must start with "/"');
  if (packet.nsp.includes(',')) throw new SocketIoPacketError('bad_namespace', 'A namespace cannot hold a ","');
  if (packet.id !== undefined && !(Number.isSafeInteger(packet.id) && packet.id >= 0)) throw new SocketIoPacketError('bad_ack_id', 'An ack id must be a non-negative integer');
  let text = String(type);
  if (attachments !== undefined) text += `${attachments}-`;
  if (packet.nsp !== '/') text += `${packet.nsp},`;
  if (packet.id !== undefined) text += String(packet.id);
  return text;
}

/** An object literal as JSON.parse makes them (not an array, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
