import { closeCodes } from '@eventwire/event-channel/protocol';
import type { BrokerUser } from './auth/authenticate.js';
import type { BudgetedReader, OutboundBudget } from './outbound-budget.js';
import type { PreparedTextFrame } from './prepared-frame.js';
import type { SurfaceName } from './surfaces/surface.js';
import type { Wire } from './wire/wire.js';

/** What a connection's owner hears from it. */
export interface ConnectionEvents {
  /** One whole message from the client (any message also proves it alive). */
  message(data: Buffer, binary: boolean): void;
  /** The connection is gone; called once. */
  closed(code: number, reason: string): void;
  /** A transport error, for the log. */
  error(error: Error): void;
}

/** Time a cut slow consumer gets to read its close frame before the socket is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1000;

/**
 * One client as the broker sees it, whatever the surface and whatever
 * carries it (a Wire): sends with a bound on what may pile up for a client
 * that stopped reading, liveness for the server-wide heartbeat, and the
 * user it is authenticated as.
 */
export class Connection implements BudgetedReader {
  readonly id: string;
  readonly wire: Wire;
  /** The name of the surface it speaks (`native`, `pusher`, …). */
  readonly surface: SurfaceName;
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
  #gone = false;
  #backloggedSince: number | undefined;
  /** What the budget was last told this reader has unsent. */
  #reportedUnsent = 0;
  #watchingDrain = false;
  // Set while a closing handshake runs: the wire is dropped if it does not finish in time.
  #graceTimer: ReturnType<typeof setTimeout> | undefined;
  #whenClosed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  // Bound once: a batch's flush runs for every tick a connection is written to.
  readonly #afterFlush = (): void => this.#judge();

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
    wire: Wire;
    surface: SurfaceName;
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
    this.wire = options.wire;
    this.surface = options.surface;
    this.remote = options.remote;
    this.#maxOutboundBytes = options.maxOutboundBytes;
    this.#slowConsumerMs = options.slowConsumerMs;
    this.#onSlow = options.onSlow;
    this.#budget = options.budget;
    this.#closeCode = options.closeCode;
  }

  /** Starts listening to the wire; `events` hears the client's messages and the end. */
  start(events: ConnectionEvents): void {
    this.wire.listen({
      message: (data, binary) => {
        this.alive = true;
        events.message(data, binary);
      },
      alive: () => (this.alive = true),
      drained: () => {
        this.#backloggedSince = undefined;
        this.#reportedUnsent = 0;
        this.#budget?.report(this, 0);
      },
      error: (error) => events.error(error),
      closed: (code, reason) => {
        this.#gone = true;
        clearTimeout(this.#graceTimer);
        clearTimeout(this.#drainTimer);
        clearTimeout(this.#expiryTimer);
        this.#budget?.forget(this);
        events.closed(code, reason);
        this.#resolveClosed?.();
      },
    });
  }

  /** Open: sends reach the client (false once closing, cut or gone). */
  get open(): boolean {
    return !this.#cut && this.wire.open;
  }

  /** Resolves once the connection is gone. */
  whenClosed(): Promise<void> {
    if (this.#gone) return Promise.resolve();
    this.#whenClosed ??= new Promise((resolve) => (this.#resolveClosed = resolve));
    return this.#whenClosed;
  }

  /**
   * Queues `text` for the client. A client that does not read what it is sent
   * is cut with 4008 (see #judge): dropping it costs one client its stream,
   * keeping it would cost the broker unbounded memory.
   */
  send(text: string): void {
    if (this.#cut || !this.wire.open) return;
    // Every frame queued in one tick (a burst of publishes) leaves in one
    // write; invisible to clients: frames and their order are unchanged.
    const batched = this.wire.batch(this.#afterFlush);
    this.wire.send(text);
    // While batched, this tick's frames sit in our buffer whatever the client
    // does; judge the client after the flush, not mid-burst.
    if (!batched) this.#judge();
  }

  /** Sends a frame built once for every recipient (see PreparedTextFrame). The hot path: once per delivery. */
  sendPrepared(frame: PreparedTextFrame): void {
    if (this.#cut || !this.wire.open) return;
    const batched = this.wire.batch(this.#afterFlush);
    this.wire.sendPrepared(frame);
    if (!batched) this.#judge();
  }

  /** Sends one binary message (an attachment), bounded like the text ones. */
  sendBinary(bytes: Buffer): void {
    if (this.#cut || !this.wire.open) return;
    const batched = this.wire.batch(this.#afterFlush);
    this.wire.sendBinary(bytes);
    if (!batched) this.#judge();
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
    const unsent = this.wire.unsentBytes;
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
      if (!this.open) return;
      if (this.wire.unsentBytes > this.#maxOutboundBytes) this.#cutSlowConsumer();
    }, this.#slowConsumerMs);
    // Never what keeps a process alive; the check is moot once the broker stops.
    this.#drainTimer.unref();
  }

  /** Starts a closing handshake; the socket is destroyed if it does not finish in `graceMs`. */
  close(code: number, reason: string, graceMs: number): void {
    if (this.#gone || this.#graceTimer) return;
    this.wire.close(this.#closeCode ? this.#closeCode(code) : code, reason);
    this.#graceTimer = setTimeout(() => this.wire.terminate(), graceMs);
    this.#graceTimer.unref();
  }

  /** Drops the connection at once (a heartbeat it missed; nothing more is sent). */
  terminate(): void {
    this.wire.terminate();
  }

  /** Starts the connection's liveness probe: `alive` is cleared now and set again by the answer or any message. */
  probe(): void {
    this.alive = false;
    this.wire.probe();
  }

  /**
   * Listens, from the first time this reader falls behind, for the wire
   * handing on everything queued: then it is not behind any more.
   */
  #watchDrain(): void {
    if (this.#watchingDrain) return;
    this.#watchingDrain = true;
    this.wire.watchDrain();
  }

  /** Bytes read from and written to this connection so far (framing and handshake included). */
  get traffic(): { readonly received: number; readonly sent: number } {
    return this.wire.traffic;
  }

  /** Bytes queued for this client now. */
  get unsentBytes(): number {
    return this.wire.unsentBytes;
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
    this.wire.terminate();
  }

  #cutSlowConsumer(): void {
    this.#cut = true;
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#onSlow(this);
    this.close(closeCodes.slowConsumer, 'slow consumer: outbound buffer full', SLOW_CONSUMER_GRACE_MS);
  }
}
