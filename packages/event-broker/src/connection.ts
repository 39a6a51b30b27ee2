import { closeCodes } from '@eventwire/event-channel/protocol';
import type { WebSocket } from 'ws';
import type { BrokerUser } from './auth/authenticate.js';
import type { BudgetedReader, OutboundBudget } from './outbound-budget.js';
import type { PreparedTextFrame } from './prepared-frame.js';

/** The WebSocket surfaces: each a protocol beside the others over the same core. */
export type SocketSurface = 'native' | 'synap' | 'broadcasting' | 'pusher';

/** Time a cut slow consumer gets to read its close frame before the socket is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1000;

/** The part of ws's underlying net.Socket this class uses. */
interface TcpSocket {
  cork(): void;
  uncork(): void;
  write(bytes: Buffer): boolean;
  readonly destroyed?: boolean;
  /** Kept by Node for every socket: what /metrics reports as bytes in and out, at no cost per frame. */
  readonly bytesRead?: number;
  readonly bytesWritten?: number;
}

/**
 * One WebSocket as the broker sees it, whatever the surface: sends with a
 * bound on what may pile up for a client that stopped reading, and liveness
 * for the server-wide heartbeat.
 */
export class Connection implements BudgetedReader {
  readonly id: string;
  readonly socket: WebSocket;
  readonly surface: SocketSurface;
  readonly remote: string;
  /** Cleared by each heartbeat tick, set by any pong or message. */
  alive = true;
  /** Who is connected, once authenticated; undefined for anonymous connections. */
  #user: BrokerUser | undefined;
  #expiryTimer: ReturnType<typeof setTimeout> | undefined;
  #maxOutboundBytes: number;
  #slowConsumerMs: number;
  #onSlow: (connection: Connection) => void;
  readonly #budget: OutboundBudget | undefined;
  readonly #closeCode: ((code: number) => number) | undefined;
  // Set while the unsent data is above the bound: the deadline for draining it.
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #cut = false;
  #corked = false;
  #backloggedSince: number | undefined;
  /** What the budget was last told this reader has unsent. */
  #reportedUnsent = 0;
  #watchingDrain = false;
  // ws's own net.Socket (`_socket`); absent in another WebSocket implementation,
  // where we neither batch nor write prepared frames.
  readonly #tcp: TcpSocket | undefined;
  // With an extension negotiated (permessage-deflate), ws compresses messages
  // asynchronously and holds them in its own queue; raw bytes written beside
  // it would overtake them. Then every message goes through ws.
  readonly #writesPrepared: boolean;

  get user(): BrokerUser | undefined {
    return this.#user;
  }

  /**
   * The connection is (re)authenticated as `user`: when its credentials
   * expire without a refresh, it is closed with 4001, since a token must not
   * outlive its validity on a long-lived socket.
   */
  authenticated(user: BrokerUser | undefined): void {
    this.#user = user;
    clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    if (user?.expiresAt === undefined) return;
    // setTimeout holds at most ~24.8 days; a later expiry is re-checked then.
    const delay = Math.min(Math.max(0, user.expiresAt - Date.now()), 2 ** 31 - 1);
    this.#expiryTimer = setTimeout(() => {
      if (user.expiresAt! > Date.now()) return this.authenticated(user);
      this.close(closeCodes.unauthorized, 'token expired', 1000);
    }, delay);
    this.#expiryTimer.unref();
  }

  constructor(options: {
    id: string;
    socket: WebSocket;
    surface: SocketSurface;
    remote: string;
    maxOutboundBytes: number;
    slowConsumerMs: number;
    onSlow: (connection: Connection) => void;
    /** The bound on what all connections together may have queued. */
    budget?: OutboundBudget;
    /**
     * The surface's own close code for one of eventwire's (a Pusher client
     * reads 4008 as "do not reconnect", eventwire's slow consumer as "do").
     */
    closeCode?: (code: number) => number;
  }) {
    this.id = options.id;
    this.socket = options.socket;
    this.surface = options.surface;
    this.remote = options.remote;
    this.#maxOutboundBytes = options.maxOutboundBytes;
    this.#slowConsumerMs = options.slowConsumerMs;
    this.#onSlow = options.onSlow;
    this.#budget = options.budget;
    this.#closeCode = options.closeCode;
    this.#tcp = (options.socket as unknown as { _socket?: TcpSocket })._socket;
    this.#writesPrepared = this.#tcp !== undefined && options.socket.extensions === '';
  }

  /**
   * Queues `text` for the client. A client that does not read what it is sent
   * is cut with 4008 (see #judge): dropping it costs one client its stream,
   * keeping it would cost the broker unbounded memory.
   */
  send(text: string): void {
    if (this.#cut || this.socket.readyState !== this.socket.OPEN) return;
    const corked = this.#cork();
    this.socket.send(text);
    // While corked, this tick's frames sit in our buffer whatever the client
    // does; judge the client after the flush (see #cork), not mid-burst.
    if (!corked) this.#judge();
  }

  /**
   * Sends a frame built once for every recipient (see PreparedTextFrame):
   * its bytes go straight to the TCP socket, in order with ws's own writes
   * (the broker only sends strings, and with no extension negotiated ws's
   * sender never holds a frame back). ws counts them in `bufferedAmount`.
   */
  sendPrepared(frame: PreparedTextFrame): void {
    if (!this.#writesPrepared) return this.send(frame.text);
    if (this.#cut || this.socket.readyState !== this.socket.OPEN) return;
    this.#cork();
    this.#tcp!.write(frame.bytes);
  }

  /**
   * Holds this socket's writes until the current tick ends, so every frame
   * queued in one tick (a burst of publishes) leaves in one writev instead of
   * one syscall each. `ws` corks per frame itself; corks nest, so ours wins.
   * Invisible to clients: frames and their order are unchanged.
   */
  #cork(): boolean {
    if (this.#corked) return true;
    const tcp = this.#tcp;
    if (!tcp) return false;
    this.#corked = true;
    tcp.cork();
    process.nextTick(() => {
      this.#corked = false;
      if (tcp.destroyed) return;
      tcp.uncork();
      this.#judge();
    });
    return true;
  }

  /**
   * Decides, after a flush, whether the client keeps up. What the kernel would
   * not take is what the client has not read yet. Above twice the bound it is
   * cut at once (memory); above the bound it gets `slowConsumerMs` to drain
   * below it: one burst bigger than the bound (a batch of large events in one
   * tick) is not a slow reader, a client that stopped reading is.
   */
  #judge(): void {
    if (this.#cut) return;
    const unsent = this.socket.bufferedAmount;
    // Most flushes of a reader that keeps up end with nothing unsent, as the last one did: no call at all.
    if (unsent !== this.#reportedUnsent && this.#budget) {
      if (unsent === 0) this.#backloggedSince = undefined;
      else if (this.#backloggedSince === undefined) {
        this.#backloggedSince = Date.now();
        this.#watchDrain();
      }
      this.#reportedUnsent = unsent;
      this.#budget.report(this, unsent);
    }
    if (this.#cut) return; // the budget cut this one: it was furthest behind
    if (unsent > 2 * this.#maxOutboundBytes) return this.#cutSlowConsumer();
    if (unsent <= this.#maxOutboundBytes) {
      // Drained in time: a later burst gets a whole grace period of its own.
      clearTimeout(this.#drainTimer);
      this.#drainTimer = undefined;
      return;
    }
    if (this.#drainTimer) return;
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      if (this.#cut || this.socket.readyState !== this.socket.OPEN) return;
      if (this.socket.bufferedAmount > this.#maxOutboundBytes) this.#cutSlowConsumer();
    }, this.#slowConsumerMs);
    // Never what keeps a process alive; the check is moot once the broker stops.
    this.#drainTimer.unref();
  }

  /** Starts a closing handshake; the socket is destroyed if it does not finish in `graceMs`. */
  close(code: number, reason: string, graceMs: number): void {
    if (this.socket.readyState === this.socket.CLOSED) return;
    this.socket.close(this.#closeCode ? this.#closeCode(code) : code, reason);
    const timer = setTimeout(() => this.socket.terminate(), graceMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  /** The connection is gone: it holds no part of the budget any more. */
  closed(): void {
    this.#budget?.forget(this);
  }

  /**
   * Listens, from the first time this reader falls behind, for the kernel
   * taking everything queued: then it is not behind any more. (Lazily: most
   * connections never fall behind, and a listener each would add up.)
   */
  #watchDrain(): void {
    if (this.#watchingDrain || !this.#tcp) return;
    this.#watchingDrain = true;
    (this.#tcp as unknown as { on(event: 'drain', listener: () => void): void }).on('drain', () => {
      this.#backloggedSince = undefined;
      this.#reportedUnsent = 0;
      this.#budget!.report(this, 0);
    });
  }

  /** Bytes read from and written to this connection's TCP socket so far (WebSocket framing and handshake included). */
  get traffic(): { readonly received: number; readonly sent: number } {
    return { received: this.#tcp?.bytesRead ?? 0, sent: this.#tcp?.bytesWritten ?? 0 };
  }

  /** Bytes queued for this client now. */
  get unsentBytes(): number {
    return this.socket.bufferedAmount;
  }

  /** Since when this client's queue has not been empty, if it is not. */
  get backloggedSince(): number | undefined {
    return this.#backloggedSince;
  }

  /**
   * Cut to keep all connections' queues within the broker's budget: dropped
   * at once, since what it holds is what must be freed (a close frame would
   * wait behind the backlog it will never read in time). A slow consumer cut
   * already is dropped too: its backlog waits out the close's grace period,
   * and the budget, which stops counting a reader it cuts, would let others
   * grow into memory still held (under a flood, 12 such readers held 72 MiB
   * past a 64 MiB budget; bench/overload.bench.ts).
   */
  cutForBudget(): void {
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    if (!this.#cut) {
      this.#cut = true;
      this.#onSlow(this);
    }
    this.socket.terminate();
  }

  #cutSlowConsumer(): void {
    this.#cut = true;
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#onSlow(this);
    this.close(closeCodes.slowConsumer, 'slow consumer: outbound buffer full', SLOW_CONSUMER_GRACE_MS);
  }
}
