// An in-process WebSocket: the client half is what EventChannel's ws://
// transport (or any client written against the WebSocket API) talks to; the
// server half is a Wire the broker admits exactly as it admits a socket's.
// Nothing is opened: no port, no file descriptor. Every frame crosses on a
// later turn of the event loop (setImmediate), in order, never
// synchronously — as bytes over a socket would — so code that is only right
// by accident of a synchronous delivery fails here as it would over TCP.
import type { WebSocketLike } from '@eventwire/event-channel';
import { InFlight } from '../in-flight.js';
import type { PreparedTextFrame } from '../prepared-frame.js';
import type { Wire, WireEvents } from '../wire/wire.js';

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** ws's code for a connection that ended without a closing handshake. */
const ABNORMAL = 1006;
/** The code a receiver reports for a close frame without one (RFC 6455 §7.1.5). */
const NO_STATUS = 1005;
/** How long ws lets a peer answer a close frame before it drops the socket (ws's closeTimeout). */
const CLOSE_TIMEOUT_MS = 30_000;

/**
 * Frames and admissions in flight on a hub's pipes, each crossing on its
 * own turn: the hub is settled only when none are left.
 */
export class PipeTraffic {
  #crossing = 0;
  /** Upgrades being admitted (authentication may take a few turns). */
  readonly admissions = new InFlight();

  /** Frames crossing and upgrades being admitted now. */
  get pending(): number {
    return this.#crossing + this.admissions.count;
  }

  /** Runs `task` on a later turn, counted until it has run. */
  later(task: () => void): void {
    this.#crossing++;
    setImmediate(() => {
      this.#crossing--;
      task();
    });
  }
}

/** What the hub does with a socket opened on it: admit it as the broker admits an upgrade. */
export type PipeAdmitter = (socket: PipeSocket) => void;

/**
 * The client half: the WebSocket API (`readyState`, `on*` slots, `send`,
 * `close`, ws's `terminate`). Created by the client with `new
 * hub.WebSocket(url)`; the hub admits it on a later turn.
 */
export class PipeSocket implements WebSocketLike {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;

  readonly url: string;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  #state = CONNECTING;
  #wire: PipeWire | undefined;
  readonly #traffic: PipeTraffic;
  /** Frames held while the reader is paused (a client that stopped reading). */
  #held: (() => void)[] | undefined;
  readonly #closeListeners: (() => void)[] = [];

  constructor(url: string, traffic: PipeTraffic, admit: PipeAdmitter) {
    this.url = url;
    this.#traffic = traffic;
    traffic.later(() => {
      if (this.#state === CONNECTING) admit(this);
    });
  }

  get readyState(): number {
    return this.#state;
  }

  /** Nothing waits in a kernel buffer here: what is sent is on its way. */
  get bufferedAmount(): number {
    return 0;
  }

  send(data: string): void {
    if (this.#state === CONNECTING) throw new Error('WebSocket is not open: readyState 0 (CONNECTING)');
    const wire = this.#wire;
    if (this.#state !== OPEN || !wire) return;
    this.#traffic.later(() => wire.receive(data));
  }

  /** Starts a closing handshake (ws's `close`): the broker hears `code` (1005 when none), then this socket closes. */
  close(code?: number, reason = ''): void {
    if (this.#state === CLOSED || this.#state === CLOSING) return;
    const wire = this.#wire;
    if (this.#state === CONNECTING || !wire) return this.#closed(ABNORMAL, '');
    this.#state = CLOSING;
    this.#traffic.later(() => {
      wire.closedBy(code ?? NO_STATUS, reason);
      this.#closed(code ?? NO_STATUS, reason);
    });
  }

  /** Drops the connection with no handshake: both ends see 1006. */
  terminate(): void {
    if (this.#state === CLOSED) return;
    this.#wire?.closedBy(ABNORMAL, '');
    this.#closed(ABNORMAL, '');
  }

  /** Stops reading (frames and liveness probes wait), as a client stuck in a long task would. */
  pause(): void {
    this.#held ??= [];
  }

  /** Reads again: what waited arrives, in order. */
  resume(): void {
    const held = this.#held;
    this.#held = undefined;
    for (const frame of held ?? []) this.#traffic.later(frame);
  }

  /** Whether this socket stopped reading. */
  get paused(): boolean {
    return this.#held !== undefined;
  }

  // ---------------------------------------------------------------------------
  // Called by the hub and by the server half

  /** The broker's end, once the upgrade was accepted. */
  get wire(): PipeWire | undefined {
    return this.#wire;
  }

  /** Runs `listener` once this socket has closed. */
  whenClosed(listener: () => void): void {
    if (this.#state === CLOSED) listener();
    else this.#closeListeners.push(listener);
  }

  /** The upgrade was accepted: open on the next turn, before any frame the broker sends. */
  accepted(wire: PipeWire): void {
    if (this.#state !== CONNECTING) return wire.closedBy(ABNORMAL, '');
    this.#wire = wire;
    this.#state = OPEN;
    this.#traffic.later(() => this.onopen?.({ type: 'open' }));
  }

  /** The upgrade was refused with an HTTP status: what `ws` reports (an error naming the status, then 1006). */
  refused(status: number): void {
    if (this.#state !== CONNECTING) return;
    this.#state = CLOSED;
    for (const listener of this.#closeListeners.splice(0)) listener();
    this.#traffic.later(() => {
      this.onerror?.({ type: 'error', message: `Unexpected server response: ${status}` });
      this.onclose?.({ code: ABNORMAL, reason: '', wasClean: false });
    });
  }

  /** A frame from the broker, in order after the ones before it; held while paused. */
  deliver(frame: () => void): number {
    if (this.#held) {
      this.#held.push(frame);
      return this.#held.length;
    }
    this.#traffic.later(frame);
    return 0;
  }

  /** A frame from the client to the broker (a pong), on a later turn. */
  toServer(task: () => void): void {
    this.#traffic.later(task);
  }

  /** A text or binary message, unless the socket has closed meanwhile. */
  message(data: string | Buffer): void {
    if (this.#state === OPEN || this.#state === CLOSING) this.onmessage?.({ data });
  }

  /** The broker's closing handshake reached this socket: it answers, and both ends are closed. */
  closeFrame(code: number, reason: string): void {
    if (this.#state === CLOSED) return;
    this.#closed(code, reason);
  }

  /** The broker dropped the connection. */
  dropped(): void {
    if (this.#state !== CLOSED) this.#closed(ABNORMAL, '');
  }

  #closed(code: number, reason: string): void {
    this.#state = CLOSED;
    this.#held = undefined;
    for (const listener of this.#closeListeners.splice(0)) listener();
    this.#traffic.later(() => this.onclose?.({ code, reason, wasClean: code !== ABNORMAL }));
  }
}

/**
 * The server half: the broker's side of one pipe. Frames to a paused
 * client count as unsent bytes, so the broker's slow-consumer cut and
 * heartbeat see a stalled reader as they would one over TCP.
 */
export class PipeWire implements Wire {
  readonly #client: PipeSocket;
  #events: WireEvents | undefined;
  /** May send: until a close begins. */
  #open = true;
  /** Closed: nothing more either way, and `closed` reported (or waiting for `listen`). */
  #ended = false;
  /** A close that came before the connection listened: reported when it does. */
  #closedEarly: { readonly code: number; readonly reason: string } | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #unsent = 0;
  #watchingDrain = false;
  readonly traffic = { received: 0, sent: 0 };

  constructor(client: PipeSocket) {
    this.#client = client;
  }

  get open(): boolean {
    return this.#open;
  }

  get unsentBytes(): number {
    return this.#unsent;
  }

  listen(events: WireEvents): void {
    const early = this.#closedEarly;
    if (!early) {
      this.#events = events;
      return;
    }
    this.#closedEarly = undefined;
    queueMicrotask(() => events.closed(early.code, early.reason));
  }

  send(text: string): void {
    this.#toClient(Buffer.byteLength(text), () => this.#client.message(text));
  }

  sendPrepared(frame: PreparedTextFrame): void {
    this.send(frame.text);
  }

  sendBinary(bytes: Buffer): void {
    const copy = Buffer.from(bytes);
    this.#toClient(copy.length, () => this.#client.message(copy));
  }

  batch(): boolean {
    return false;
  }

  watchDrain(): void {
    this.#watchingDrain = true;
  }

  /** A ping the client reads in turn (not while paused) and answers on its way back. */
  probe(): void {
    if (!this.#open) return;
    this.#client.deliver(() => this.#client.toServer(() => !this.#ended && this.#events?.alive()));
  }

  /**
   * The closing handshake: the close frame reaches the client after what was
   * sent before it, and what the client sent meanwhile still arrives. A
   * client that never reads it (paused) is dropped after ws's 30 s, on the
   * hub's clock.
   */
  close(code: number, reason: string): void {
    if (!this.#open) return;
    this.#open = false;
    this.#client.deliver(() => {
      this.#client.closeFrame(code, reason);
      this.#closed(code, reason);
    });
    this.#closeTimer = setTimeout(() => this.terminate(), CLOSE_TIMEOUT_MS);
    this.#closeTimer.unref?.();
  }

  terminate(): void {
    this.#open = false;
    if (this.#ended) return;
    this.#client.dropped();
    this.#closed(ABNORMAL, '');
  }

  // ---------------------------------------------------------------------------
  // Called by the client half

  /** A message from the client: taken until the wire has closed (also while it closes, as ws does). */
  receive(text: string): void {
    if (this.#ended) return;
    const data = Buffer.from(text);
    this.traffic.received += data.length;
    this.#events?.message(data, false);
  }

  /** The client closed (`code`) or went away (1006). */
  closedBy(code: number, reason: string): void {
    this.#open = false;
    this.#closed(code, reason);
  }

  #toClient(bytes: number, frame: () => void): void {
    if (!this.#open) return;
    this.#unsent += bytes;
    this.#client.deliver(() => {
      this.#unsent -= bytes;
      this.traffic.sent += bytes;
      frame();
      if (this.#unsent === 0 && this.#watchingDrain) this.#events?.drained();
    });
  }

  #closed(code: number, reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#closeTimer);
    const events = this.#events;
    this.#events = undefined;
    if (events) events.closed(code, reason);
    else this.#closedEarly = { code, reason };
  }
}
