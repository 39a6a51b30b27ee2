/**
 * A text message framed once for many sockets. Frames from a server are
 * never masked (RFC 6455 §5.1) and the broker negotiates no extensions, so
 * one message has the same bytes on every connection: a publish to 1,000
 * subscribers encodes its UTF-8 and builds its frame header once, instead of
 * `ws` doing both for each of the 1,000 sends.
 */
export class PreparedTextFrame {
  /** The message itself, for a socket that cannot take raw bytes. */
  readonly text: string;
  #bytes: Buffer | undefined;
  // The same message behind a transport's prefix (Engine.IO's `4`), built by
  // the first recipient that needs it and shared by the others.
  #prefixed: Map<string, PreparedTextFrame> | undefined;

  constructor(text: string) {
    this.text = text;
  }

  /** The whole frame on the wire: header, then the UTF-8 payload (built on first use, once). */
  get bytes(): Buffer {
    return (this.#bytes ??= frameText(this.text));
  }

  /**
   * This message with `prefix` in front, itself prepared once for every
   * recipient: a wire that frames messages in a protocol of its own
   * (Engine.IO's message packet `4…`) keeps the one-frame-per-event path.
   */
  prefixed(prefix: string): PreparedTextFrame {
    this.#prefixed ??= new Map();
    let frame = this.#prefixed.get(prefix);
    if (!frame) this.#prefixed.set(prefix, (frame = new PreparedTextFrame(prefix + this.text)));
    return frame;
  }
}

function frameText(text: string): Buffer {
  const length = Buffer.byteLength(text);
  // RFC 6455 §5.2: 7-bit length, or 126 + 16-bit, or 127 + 64-bit (big-endian).
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const bytes = Buffer.allocUnsafe(header + length);
  bytes[0] = 0x81; // FIN, opcode 1 (text)
  if (header === 2) {
    bytes[1] = length;
  } else if (header === 4) {
    bytes[1] = 126;
    bytes.writeUInt16BE(length, 2);
  } else {
    bytes[1] = 127;
    bytes.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    bytes.writeUInt32BE(length >>> 0, 6);
  }
  bytes.write(text, header, 'utf8');
  return bytes;
}
