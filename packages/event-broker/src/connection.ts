import { closeCodes } from '@eventwire/event-channel/protocol';
import type { WebSocket } from 'ws';

/** Time a cut slow consumer gets to read its close frame before the socket is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1000;

/**
 * One WebSocket as the broker sees it, whatever the surface: sends with a
 * bound on what may pile up for a client that stopped reading, and liveness
 * for the server-wide heartbeat.
 */
export class Connection {
  readonly id: string;
  readonly socket: WebSocket;
  readonly surface: 'native' | 'synap';
  readonly remote: string;
  /** Cleared by each heartbeat tick, set by any pong or message. */
  alive = true;
  #maxOutboundBytes: number;
  #onSlow: (connection: Connection) => void;
  #cut = false;

  constructor(options: {
    id: string;
    socket: WebSocket;
    surface: 'native' | 'synap';
    remote: string;
    maxOutboundBytes: number;
    onSlow: (connection: Connection) => void;
  }) {
    this.id = options.id;
    this.socket = options.socket;
    this.surface = options.surface;
    this.remote = options.remote;
    this.#maxOutboundBytes = options.maxOutboundBytes;
    this.#onSlow = options.onSlow;
  }

  /**
   * Queues `text` for the client. A client whose unsent data passes the bound
   * is cut with 4008: dropping it costs one client its stream, keeping it would
   * cost the broker unbounded memory.
   */
  send(text: string): void {
    if (this.#cut || this.socket.readyState !== this.socket.OPEN) return;
    this.socket.send(text);
    if (this.socket.bufferedAmount > this.#maxOutboundBytes) this.#cutSlowConsumer();
  }

  /** Starts a closing handshake; the socket is destroyed if it does not finish in `graceMs`. */
  close(code: number, reason: string, graceMs: number): void {
    if (this.socket.readyState === this.socket.CLOSED) return;
    this.socket.close(code, reason);
    const timer = setTimeout(() => this.socket.terminate(), graceMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  #cutSlowConsumer(): void {
    this.#cut = true;
    this.#onSlow(this);
    this.close(closeCodes.slowConsumer, 'slow consumer: outbound buffer full', SLOW_CONSUMER_GRACE_MS);
  }
}
