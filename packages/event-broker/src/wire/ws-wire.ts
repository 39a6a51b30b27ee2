// A Wire over a `ws` WebSocket, writing prepared frames straight to its TCP
// socket: the broker's hot path (one frame built per event, its bytes written
// to every subscriber) lives here, below the connection.
import { WebSocket } from 'ws';
import type { PreparedTextFrame } from '../prepared-frame.js';
import { installTextFrameReader } from './text-frame-reader.js';
import type { Wire, WireEvents } from './wire.js';

/** The part of ws's underlying net.Socket this wire uses. */
interface TcpSocket {
  cork(): void;
  uncork(): void;
  write(bytes: Buffer): boolean;
  on(event: 'drain', listener: () => void): void;
  readonly destroyed?: boolean;
  /** Kept by Node for every socket: what /metrics reports as bytes in and out, at no cost per frame. */
  readonly bytesRead?: number;
  readonly bytesWritten?: number;
}

/**
 * Flushes every wire written to in one tick, after it, in one callback: a
 * publish to 1,000 subscribers schedules one `process.nextTick` instead of
 * one per connection. One per broker (UpgradeAdmission holds it).
 */
export class TickFlusher {
  #wires: WsWire[] = [];
  #scheduled = false;
  // The frames the last wire of this flush joined, and the bytes it built: a
  // fan-out hands every subscriber the same frames in the same order, so the
  // next wire with the same list writes the same Buffer instead of copying
  // them again (1,000 subscribers: one join per tick, not 1,000).
  #joinedFrames: readonly Buffer[] = [];
  #joined: Buffer | undefined;

  /** `wire` holds writes until the end of this tick. */
  add(wire: WsWire): void {
    this.#wires.push(wire);
    if (this.#scheduled) return;
    this.#scheduled = true;
    process.nextTick(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const wires = this.#wires;
    this.#wires = [];
    for (const wire of wires) wire.flush();
    this.#joinedFrames = [];
    this.#joined = undefined;
  };

  /** `frames` as one Buffer, shared with the previous wire of this flush when it held the same frames. */
  join(frames: readonly Buffer[], bytes: number): Buffer {
    const last = this.#joinedFrames;
    if (this.#joined && last.length === frames.length && sameFrames(last, frames)) return this.#joined;
    this.#joinedFrames = frames;
    return (this.#joined = Buffer.concat(frames as Buffer[], bytes));
  }
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

export class WsWire implements Wire {
  readonly #socket: WebSocket;
  // ws's own net.Socket (`_socket`); absent in another WebSocket implementation,
  // where we neither batch nor write prepared frames.
  readonly #tcp: TcpSocket | undefined;
  // With an extension negotiated (permessage-deflate), ws compresses messages
  // asynchronously and holds them in its own queue; raw bytes written beside
  // it would overtake them. Then every message goes through ws.
  readonly #writesPrepared: boolean;
  readonly #flusher: TickFlusher;
  #batching = false;
  // Prepared frames of this tick, written as one Buffer at the flush: one
  // stream write per socket per tick instead of one per frame (Node's
  // Writable allocates and later walks an entry for every write; at 1→1,000
  // fan-out that was ~27 % of the broker's busy time, bench/RESULTS.md #35).
  #held: Buffer[] = [];
  #heldBytes = 0;
  #flushed: (() => void) | undefined;
  #events: WireEvents | undefined;
  #watchingDrain = false;

  constructor(socket: WebSocket, flusher: TickFlusher = new TickFlusher()) {
    this.#socket = socket;
    this.#flusher = flusher;
    this.#tcp = (socket as unknown as { _socket?: TcpSocket })._socket;
    this.#writesPrepared = this.#tcp !== undefined && socket.extensions === '';
  }

  get open(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  get unsentBytes(): number {
    return this.#socket.bufferedAmount + this.#heldBytes;
  }

  get traffic(): { readonly received: number; readonly sent: number } {
    return { received: this.#tcp?.bytesRead ?? 0, sent: this.#tcp?.bytesWritten ?? 0 };
  }

  listen(events: WireEvents): void {
    this.#events = events;
    const socket = this.#socket;
    // Complete text frames (nearly every frame a client sends) skip ws's
    // Receiver and its 'message' emit (wire/text-frame-reader.ts); the rest
    // still arrives here, in order, through ws.
    installTextFrameReader(socket, (payload) => events.message(payload, false));
    socket.on('message', (data, isBinary) => events.message(asBuffer(data), isBinary));
    socket.on('pong', () => events.alive());
    socket.on('error', (error) => events.error(error));
    socket.on('close', (code, reason) => events.closed(code, reason.toString()));
  }

  send(text: string): void {
    // After the prepared frames held so far: ws writes to the (corked) socket at once.
    this.#release();
    // ws drops (and reports to no callback) a send on a socket no longer open.
    this.#socket.send(text);
  }

  /** ws frames it (no extension is negotiated, so its sender writes at once, in order with the prepared frames). */
  sendBinary(bytes: Buffer): void {
    this.#release();
    this.#socket.send(bytes, { binary: true });
  }

  /**
   * Its bytes go straight to the TCP socket, in order with ws's own writes
   * (the broker only sends strings, and with no extension negotiated ws's
   * sender never holds a frame back). ws counts them in `bufferedAmount`.
   */
  sendPrepared(frame: PreparedTextFrame): void {
    if (!this.#writesPrepared) return this.send(frame.text);
    const bytes = frame.bytes;
    if (!this.#batching) {
      this.#tcp!.write(bytes);
      return;
    }
    this.#held.push(bytes);
    this.#heldBytes += bytes.length;
  }

  /** What this tick held goes to the socket (still corked), as one write. */
  #release(): void {
    const held = this.#held;
    if (held.length === 0) return;
    const bytes = this.#heldBytes;
    this.#held = [];
    this.#heldBytes = 0;
    if (this.#tcp!.destroyed) return;
    this.#tcp!.write(held.length === 1 ? held[0]! : this.#flusher.join(held, bytes));
  }

  /** `ws` corks per frame itself; corks nest, so ours holds the whole tick. */
  batch(flushed: () => void): boolean {
    const tcp = this.#tcp;
    if (!tcp) return false;
    if (this.#batching) return true;
    this.#batching = true;
    this.#flushed = flushed;
    tcp.cork();
    this.#flusher.add(this);
    return true;
  }

  /** The tick is over (TickFlusher): what was held leaves in one write. */
  flush(): void {
    this.#release();
    this.#batching = false;
    const tcp = this.#tcp!;
    if (tcp.destroyed) return;
    tcp.uncork();
    this.#flushed!();
  }

  probe(): void {
    this.#release();
    this.#socket.ping();
  }

  close(code: number, reason: string): void {
    if (this.#socket.readyState === WebSocket.CLOSED) return;
    // The close frame comes after every frame sent before it.
    this.#release();
    this.#socket.close(code, reason);
  }

  terminate(): void {
    this.#socket.terminate();
  }

  watchDrain(): void {
    if (this.#watchingDrain || !this.#tcp) return;
    this.#watchingDrain = true;
    this.#tcp.on('drain', () => this.#events?.drained());
  }
}

/** ws hands a Buffer by default; the other binary types only with options the broker never sets. */
function asBuffer(data: Buffer | ArrayBuffer | Buffer[]): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data); // a view on the ArrayBuffer, not a copy
}
