// Engine.IO v4 packets (engine.io-protocol README, "Packet encoding"): a
// text packet is its type digit then its data; a binary message is raw bytes
// on WebSocket and `b<base64>` on long-polling, where a payload is packets
// joined by the record separator.
import { EventwireError } from '@eventwire/event-channel';

/** Packet types by digit: what each means to a session. */
export const packetTypes = ['open', 'close', 'ping', 'pong', 'message', 'upgrade', 'noop'] as const;
export type PacketType = (typeof packetTypes)[number];

/** One decoded packet: text data for every type, or bytes for a binary message. */
export type EnginePacket = { readonly type: PacketType; readonly data: string } | { readonly type: 'message'; readonly data: Buffer };

/** Separates packets in a long-polling payload (engine.io-parser's SEPARATOR, U+001E; never inside a packet: JSON escapes it and base64 has none). */
export const payloadSeparator = '\x1e';

/** Decodes one text packet (a WebSocket text frame, or one record of a polling payload); `b…` is a base64 binary message, polling's only. */
export function decodePacket(text: string, base64Binary: boolean): EnginePacket {
  const first = text.charCodeAt(0);
  if (base64Binary && first === 0x62 /* b */) return { type: 'message', data: Buffer.from(text.slice(1), 'base64') };
  const type = packetTypes[first - 0x30];
  if (type === undefined || text.length === 0) throw new EventwireError('invalid_frame', `Not an Engine.IO packet: "${text.slice(0, 20)}"`);
  return { type, data: text.slice(1) };
}

/** Decodes a long-polling POST body into its packets; one invalid packet makes the whole payload invalid. */
export function decodePayload(body: string): EnginePacket[] {
  return body.split(payloadSeparator).map((text) => decodePacket(text, true));
}

/** The text of a packet (`4hello`), or of a binary message on polling (`b<base64>`). */
export function encodePollingPacket(packet: string | Buffer): string {
  return typeof packet === 'string' ? packet : `b${packet.toString('base64')}`;
}

/** The type digit of `type`, as it begins a text packet. */
export function packetDigit(type: PacketType): string {
  return String(packetTypes.indexOf(type));
}
