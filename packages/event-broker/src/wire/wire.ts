// The contract between a connection and what carries its bytes. Everything
// above it (Connection, the surfaces, the server) sees messages, not sockets:
// a WebSocket is one Wire (wire/ws-wire.ts); a transport where one logical
// connection is a series of HTTP requests (Engine.IO long-polling) is
// another, with no change above it.
import type { PreparedTextFrame } from '../prepared-frame.js';

/** What a wire tells its connection. Set once, by the connection, before any message. */
export interface WireEvents {
  /** One whole message; `binary` when it was sent as binary. */
  message(data: Buffer, binary: boolean): void;
  /** The peer answered a liveness probe (a WebSocket pong). */
  alive(): void;
  /** Everything queued before the last `unsentBytes` reading has been handed to the kernel. */
  drained(): void;
  /** The wire is gone, for whatever reason; nothing more arrives or leaves. */
  closed(code: number, reason: string): void;
  /** A transport error, for the log; `closed` follows. */
  error(error: Error): void;
}

/**
 * One client's bytes, both ways. The connection sends only while the wire
 * is `open` (checked once per send, on the hot path, by the connection
 * rather than again here); a wire that closes meanwhile drops what it is
 * given, and its session learns so from `closed`. Sends never throw.
 */
export interface Wire {
  /** Open for sending. */
  readonly open: boolean;
  /** Bytes accepted for this client and not yet taken by the kernel: what a reader that stopped reading holds. */
  readonly unsentBytes: number;
  /** Bytes read and written so far, framing and handshake included (for `/metrics`). */
  readonly traffic: { readonly received: number; readonly sent: number };
  /**
   * The wire keeps its own liveness (Engine.IO's protocol pings, with
   * per-session deadlines stricter than the broker's heartbeat tick) and
   * reports `closed` itself when the peer is gone: the broker's heartbeat
   * neither probes it nor drops it. Absent or false: the heartbeat does.
   */
  readonly ownsLiveness?: boolean;
  /** Starts delivering events. */
  listen(events: WireEvents): void;
  /** Sends one text message. */
  send(text: string): void;
  /** Sends a message built once for every recipient (a wire that cannot use its bytes sends its text). */
  sendPrepared(frame: PreparedTextFrame): void;
  /**
   * Sends one binary message (Socket.IO's attachments), in order with the
   * text ones. A transport without binary frames encodes it (Engine.IO
   * long-polling: `b<base64>`).
   */
  sendBinary(bytes: Buffer): void;
  /**
   * Holds writes until the current tick ends, so a burst leaves in one
   * syscall; `flushed` runs after the tick's writes were handed on. Returns
   * false when the wire does not batch (then nothing is held and `flushed`
   * never runs).
   */
  batch(flushed: () => void): boolean;
  /**
   * From now on, reports `drained` (asked for the first time a connection
   * falls behind: most never do, and a listener each would add up).
   */
  watchDrain(): void;
  /** Asks the peer to prove it is there; it answers through `alive`. */
  probe(): void;
  /** Starts a closing handshake with `code`. */
  close(code: number, reason: string): void;
  /** Drops the wire at once, with nothing more sent. */
  terminate(): void;
}
