import { fullJitterBackoff } from '../backoff.js';
import type { EventEnvelope } from '../envelope.js';
import { EventwireError, errorFromWire, toEventwireError } from '../errors.js';
import { settlesWithin } from '../deadline.js';
import { PendingEmit } from '../emit-deadline.js';
import { Outbox, emitExpiry, holdPending, type OutboxOverflow } from '../outbox.js';
import { closeCodes, isTerminalCloseCode } from '../protocol/close-codes.js';
import {
  PROTOCOL_VERSION,
  encodeFrame,
  parseServerFrame,
  type ClientFrame,
  type FrameId,
  type ReceivedServerFrame,
  type ServerFrame,
} from '../protocol/frames.js';
import { formatOffset, parseOffset, type ParsedOffset } from '../offset.js';
import { TokenSource, refreshDelayMs, type GetToken } from './token-source.js';
import type { HistoryPage, HistoryQuery, PublishOptions, Transport, TransportSink } from './transport.js';

/**
 * An event handler slot. Declared as a method type so the browser's and
 * `ws`'s own event classes fit (the transport only assigns these, never calls them).
 */
type EventHandlerSlot<TEvent> = { handle(event: TEvent): void }['handle'] | null;

/** The part of the WebSocket API this transport uses: the browser's and `ws` both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: EventHandlerSlot<unknown>;
  onmessage: EventHandlerSlot<{ data: unknown }>;
  onclose: EventHandlerSlot<{ code: number; reason: string }>;
  onerror: EventHandlerSlot<unknown>;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  /** `ws` only: drop the connection without a closing handshake. */
  terminate?(): void;
}

/** A WebSocket constructor (the browser's global, or `ws`'s). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * `token` given a function: the same thing as `getToken`, under a second name.
 * @deprecated Pass the function as `getToken` (`ws: { token: fn }` still works
 * for this release and is removed in the next).
 */
export type DeprecatedTokenFunction = GetToken;

/** Options of {@link WsTransport}. */
export interface WsTransportOptions {
  /** `ws://host:port` or `wss://…` of an eventwire broker. */
  readonly url: string;
  /**
   * More brokers of the same cluster. After a failed or lost connection the
   * next attempt goes to the next URL in turn (`url` first, then these), so
   * clients of a broker that died move to a live one.
   */
  readonly failover?: readonly string[];
  /**
   * Delay before reconnect attempt n (1-based).
   * @default fullJitterBackoff({ baseMs: 250, capMs: 30_000 })
   */
  readonly backoff?: (attempt: number) => number;
  /**
   * How many emits are held while disconnected, flushed in order on reconnect.
   * @default 1000
   */
  readonly outboxSize?: number;
  /**
   * When the outbox is full: `'reject'` fails the new emit with
   * `buffer_overflow`; `'drop-oldest'` fails the oldest held one instead.
   * @default 'reject'
   */
  readonly outboxOverflow?: OutboxOverflow;
  /**
   * How long a subscribe or the connection handshake may wait for the broker
   * before failing with `timeout`, and the bound on every emit, counted from
   * the `emit` call whatever the connection does meanwhile: an acknowledged
   * one is acknowledged, refused, or fails with `timeout` by then; one
   * without `ack` is written to the socket by then or fails with `timeout`
   * (dropped from the outbox, never sent late). See PROTOCOL.md §6.
   * @default 10_000
   */
  readonly requestTimeoutMs?: number;
  /**
   * Ping interval; a ping unanswered by the next one marks the broker dead and
   * the transport reconnects. Defaults to what the broker's welcome announces.
   */
  readonly heartbeatMs?: number;
  /**
   * How long `close()` waits for the broker: first for the flush barrier (so
   * events already on their way are delivered), then for the closing
   * handshake. A hung broker cannot hold a close longer than twice this.
   * @default 2000
   */
  readonly closeTimeoutMs?: number;
  /** A client name the broker logs. @default 'eventwire-js' */
  readonly client?: string;
  /**
   * Credentials for a broker that authenticates, asked for a fresh token on
   * each (re)connect (sent in the hello) and again ahead of expiry — the live
   * connection is then re-authenticated with an `auth` frame, subscriptions
   * untouched. One request at a time. Browsers, which cannot set headers on a
   * WebSocket, use this or `?token=` on the URL. Overrides `token`.
   * @example getToken: async () => (await fetch('/api/realtime-token')).text()
   */
  readonly getToken?: GetToken;
  /**
   * A fixed token sent in the hello of every connection (a service's API
   * key). It is never refreshed: for credentials that expire, `getToken`.
   * A function here is the old spelling of `getToken` ({@link DeprecatedTokenFunction}).
   */
  readonly token?: string | DeprecatedTokenFunction;
  /** A WebSocket implementation. @default `ws` in Node, the global in browsers */
  readonly WebSocket?: WebSocketConstructor;
}

/** Defaults of {@link WsTransportOptions}. */
export const wsTransportDefaults = {
  outboxSize: 1000,
  outboxOverflow: 'reject',
  requestTimeoutMs: 10_000,
  closeTimeoutMs: 2000,
  client: 'eventwire-js',
} as const;

const OPEN = 1;

/** How long a token fetched for a dropped connection stays good for the next connect. */
const SPARE_TOKEN_MS = 5000;

interface OutboxItem {
  readonly envelope: EventEnvelope;
  readonly ack: boolean;
  readonly toOthers: boolean;
  readonly except: string | undefined;
  /** Its promise and deadline, kept through the outbox, the socket, a drop and a re-send. */
  readonly emit: PendingEmit;
}

interface PendingRequest {
  readonly kind: 'subscribe' | 'resume' | 'unsubscribe' | 'publish' | 'ping' | 'history' | 'auth';
  readonly resolve: () => void;
  readonly reject: (error: EventwireError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  /** For acknowledged publishes: requeued if the connection drops first; times out at its emit's deadline. */
  readonly item?: OutboxItem;
  readonly pattern?: string;
  /** For resumes: the patterns it makes live. */
  readonly patterns?: readonly string[];
  /** For history requests: receives the page. */
  readonly page?: (page: HistoryPage) => void;
  /** For auth requests: receives how long the new credentials are valid. */
  readonly expires?: (expiresInMs: number | undefined) => void;
}

type State = 'idle' | 'connecting' | 'open' | 'waiting' | 'closing' | 'closed';

/**
 * The native protocol over a WebSocket, with the connection's whole life:
 * hello/welcome, reconnection with full-jitter backoff, resubscription of
 * every pattern, a bounded outbox flushed in order, acknowledgements,
 * heartbeats and a flush barrier on close.
 *
 * Delivery guarantees across a reconnect: acknowledged emits (`ack: true`)
 * that were in flight are sent again (at least once; a broker keeping history
 * for the topic stores them once); unacknowledged ones that were already
 * written to the socket may be lost; emits made while disconnected wait in
 * the outbox. None of them waits past `requestTimeoutMs` from its emit: then
 * it fails with `timeout` (and leaves the outbox). Events published by others while this client was away are
 * replayed on reconnect where the broker keeps history for them (the
 * transport resumes from the last offset it saw), and reported as a `gap`
 * where it cannot.
 */
export class WsTransport implements Transport {
  readonly kind = 'ws';
  readonly tracksPresence = true;
  readonly #options: WsTransportOptions;
  readonly #backoff: (attempt: number) => number;
  readonly #requestTimeoutMs: number;
  readonly #outbox: Outbox<OutboxItem>;
  /**
   * Every pattern wanted, with whether the broker has acknowledged it on the
   * current connection (`live`) and who waits for that.
   */
  readonly #patterns = new Map<
    string,
    {
      live: boolean;
      /** Was live on an earlier connection: what it missed meanwhile is resumed or reported. */
      resume: boolean;
      waiters: Array<{ resolve: () => void; reject: (e: EventwireError) => void }>;
    }
  >();
  /**
   * How far this client has everything for the patterns it held: the broker's
   * history position at the first welcome, then the offset of every event
   * that carried one (events reach a connection in sequence order).
   */
  #position: ParsedOffset | undefined;
  #everWelcomed = false;
  readonly #pending = new Map<FrameId, PendingRequest>();
  #sink: TransportSink | undefined;
  #socket: WebSocketLike | undefined;
  #state: State = 'idle';
  #attempt = 0;
  /** Which of `url` and `failover` the next attempt dials. */
  #urlIndex = 0;
  readonly #urls: readonly string[];
  #nextId = 1;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  #awaitingPong = false;
  #closing: Promise<void> | undefined;
  #closed: (() => void) | undefined;
  /** Set when there is a `getToken`: asked per connect and before expiry. */
  readonly #tokens: TokenSource | undefined;
  /** The fixed token, when there is no `getToken`. */
  readonly #fixedToken: string | undefined;
  #refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** A token fetched for a refresh whose connection dropped meanwhile: the next hello uses it. */
  #spareToken: { readonly token: string; readonly at: number } | undefined;
  /** The current socket got its welcome (so a 4001 on it is an expiry, not a refusal). */
  #welcomed = false;
  #connectionId: string | undefined;

  constructor(options: WsTransportOptions) {
    this.#options = options;
    const getToken = options.getToken ?? (typeof options.token === 'function' ? options.token : undefined);
    this.#tokens = getToken && new TokenSource(getToken, options.requestTimeoutMs ?? wsTransportDefaults.requestTimeoutMs);
    this.#fixedToken = getToken || typeof options.token !== 'string' ? undefined : options.token;
    this.#backoff = options.backoff ?? fullJitterBackoff();
    this.#urls = [options.url, ...(options.failover ?? [])];
    this.#requestTimeoutMs = options.requestTimeoutMs ?? wsTransportDefaults.requestTimeoutMs;
    this.#outbox = new Outbox(
      options.outboxSize ?? wsTransportDefaults.outboxSize,
      options.outboxOverflow ?? wsTransportDefaults.outboxOverflow,
      emitExpiry(this.#requestTimeoutMs),
    );
  }

  /** The broker's id of the current connection (from its welcome); undefined while disconnected. */
  get connectionId(): string | undefined {
    return this.#state === 'open' ? this.#connectionId : undefined;
  }

  /** How many times `getToken` was asked (connects and refreshes; one at a time). */
  get tokensAsked(): number {
    return this.#tokens?.asked ?? 0;
  }

  /** Emits refused or evicted because the outbox was full. */
  get outboxDropped(): number {
    return this.#outbox.dropped;
  }

  connect(sink: TransportSink): void {
    this.#sink = sink;
    sink.status({ state: 'connecting' });
    void this.#open();
  }

  publish(envelope: EventEnvelope, options: PublishOptions = {}): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(new EventwireError('channel_closed', 'The ws transport is closed'));
    }
    return new Promise<void>((resolve, reject) => {
      const emit = PendingEmit.within(this.#requestTimeoutMs, resolve, reject);
      const item: OutboxItem = { envelope, ack: options.ack === true, toOthers: options.toOthers === true, except: options.except, emit };
      if (this.#state === 'open') return this.#send(item);
      holdPending(this.#outbox, item);
    });
  }

  subscribe(pattern: string): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') {
      return Promise.reject(new EventwireError('channel_closed', 'The ws transport is closed'));
    }
    return new Promise<void>((resolve, reject) => {
      const entry = this.#patterns.get(pattern);
      if (entry?.live) return resolve();
      if (entry) {
        entry.waiters.push({ resolve, reject });
        return;
      }
      this.#patterns.set(pattern, { live: false, resume: false, waiters: [{ resolve, reject }] });
      if (this.#state === 'open') this.#sendSubscribe(pattern);
    });
  }

  unsubscribe(pattern: string): Promise<void> {
    if (!this.#patterns.delete(pattern) || this.#state !== 'open') return Promise.resolve();
    return this.#request({ type: 'unsubscribe', id: this.#id(), pattern }, 'unsubscribe');
  }

  close(): Promise<void> {
    // Set the guard before any shutdown code runs: shutting down can report
    // `closed` synchronously, and whoever hears it may call close() again.
    this.#closing ??= Promise.resolve().then(() => this.#shutdown());
    return this.#closing;
  }

  // ---------------------------------------------------------------------------
  // Connection life

  async #open(): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'connecting';
    let socket: WebSocketLike;
    try {
      const WebSocketImpl = this.#options.WebSocket ?? (await loadWebSocket());
      if (this.#state !== 'connecting') return;
      socket = new WebSocketImpl(this.#urls[this.#urlIndex]!);
    } catch (error) {
      this.#scheduleReconnect(toEventwireError(error, 'connection_closed'));
      return;
    }
    this.#socket = socket;
    this.#welcomed = false;
    // getToken is asked once per attempt, while the socket opens (a refresh
    // already asking shares its answer); a fixed token (or none) lets the
    // hello go out at once on open.
    const pendingToken = this.#takeSpareToken() ?? this.#tokens?.fetch();
    pendingToken?.catch(() => {}); // handled on open; the socket may never open
    const sendHello = (token: string | undefined): void => {
      if (socket !== this.#socket || socket.readyState !== OPEN) return;
      socket.send(
        encodeFrame({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          client: this.#options.client ?? wsTransportDefaults.client,
          ...(token !== undefined && { token }),
        }),
      );
    };
    socket.onopen = () => {
      if (!pendingToken) return sendHello(this.#fixedToken);
      pendingToken.then(sendHello, (error: unknown) => {
        // No credentials, no hello: this attempt fails and backs off like any other.
        this.#sink?.error(toEventwireError(error, 'unauthorized'));
        if (socket === this.#socket) this.#drop(socket, closeCodes.normal, 'no token');
      });
    };
    socket.onmessage = (event) => {
      if (socket === this.#socket) this.#onMessage(event.data);
    };
    // Node's `ws` says why an upgrade was refused ("Unexpected server
    // response: 503"); browsers only report 1006. Kept for the close.
    let refusedWith: number | undefined;
    // Node's `ws` also hands over the socket's own error (ECONNREFUSED,
    // ENOTFOUND, a TLS failure): kept as the cause, so the status can say why.
    let socketError: unknown;
    socket.onerror = (event) => {
      // A close event always follows; that is where the state changes.
      const status = /Unexpected server response: (\d{3})/.exec(String((event as { message?: unknown } | null)?.message ?? ''))?.[1];
      if (status) refusedWith = Number(status);
      else socketError ??= (event as { error?: unknown } | null)?.error;
    };
    socket.onclose = (event) => {
      if (socket !== this.#socket) return;
      if (refusedWith !== undefined) this.#onUpgradeRefused(refusedWith);
      else if (socketError instanceof Error) this.#onSocketClosed(event.code, event.reason, unreachableError(this.#urls[this.#urlIndex]!, socketError));
      else this.#onSocketClosed(event.code, event.reason);
    };
    // A broker that accepts TCP but never welcomes us is as good as down.
    this.#handshakeTimer = setTimeout(() => {
      if (socket === this.#socket && this.#state === 'connecting') {
        this.#drop(socket, closeCodes.heartbeatTimeout, 'no welcome in time');
      }
    }, this.#requestTimeoutMs);
  }

  #onWelcome(frame: Extract<ServerFrame, { type: 'welcome' }>): void {
    // Only a connection being set up may become open. A welcome already on the
    // wire when close() began must not flip 'closing' back to 'open': the
    // socket's close would then look like a loss, and the transport would
    // reconnect forever while close() never resolved.
    if (this.#state !== 'connecting') return;
    clearTimeout(this.#handshakeTimer);
    if (frame.protocol !== PROTOCOL_VERSION) {
      this.#fail(
        new EventwireError(
          'unsupported_protocol',
          `Broker speaks protocol ${frame.protocol}, this client ${PROTOCOL_VERSION}`,
        ),
      );
      return;
    }
    this.#state = 'open';
    this.#attempt = 0;
    this.#welcomed = true;
    this.#connectionId = frame.connectionId;
    const socket = this.#socket;
    this.#scheduleRefresh(frame.user?.expiresInMs, 0);
    if (!this.#everWelcomed && frame.history) this.#position = parseOffset(frame.history.offset);
    this.#everWelcomed = true;
    // Order matters: subscriptions first, so a flushed emit the client itself
    // listens to comes back to it; then the outbox, oldest first. Patterns
    // held before the drop resume from the last offset seen (the broker
    // replays what they missed, then goes live, in one step).
    const resumable = [...this.#patterns].filter(([, entry]) => entry.resume).map(([pattern]) => pattern);
    const resubscribed = [...this.#patterns.keys()]
      .filter((pattern) => !(this.#position && resumable.includes(pattern)))
      .map((pattern) => this.#sendSubscribe(pattern));
    if (this.#position && resumable.length > 0) resubscribed.push(this.#sendResume(resumable, formatOffset(this.#position.epoch, this.#position.seq)));
    else {
      // No history position to resume from: what these missed is gone; say so.
      for (const pattern of resumable) this.#sink?.gap({ pattern, reason: 'no_history', lastOffset: undefined });
    }
    for (const item of this.#outbox.drain()) this.#send(item);
    this.#startHeartbeat(this.#options.heartbeatMs ?? frame.heartbeatMs);
    // `open` means usable: connected and every subscription live again.
    void Promise.all(resubscribed).then(() => {
      if (socket === this.#socket && this.#state === 'open') this.#sink?.status({ state: 'open' });
    });
  }

  /**
   * The broker answered the upgrade with an HTTP error. Credentials refused
   * (401) or not allowed (403) cannot get better by retrying the same URL;
   * at capacity or still loading its history (503) or over a rate (429) the broker asks for a retry later,
   * which the backoff provides, and the status says why.
   */
  #onUpgradeRefused(status: number): void {
    const error = upgradeError(status);
    if (status === 401 || status === 403) {
      this.#socket = undefined;
      clearTimeout(this.#handshakeTimer);
      this.#fail(error);
      return;
    }
    this.#onSocketClosed(1006, error.message, error);
  }

  #onSocketClosed(code: number, reason: string, cause?: EventwireError): void {
    this.#socket = undefined;
    this.#stopHeartbeat();
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#refreshTimer);
    const wasWelcomed = this.#welcomed;
    this.#welcomed = false;
    if (this.#state === 'closing' || this.#state === 'closed') {
      this.#closed?.();
      return;
    }
    // Acknowledged publishes in flight go out again after reconnecting, first
    // (those already past their emit's deadline fail now: outcome unknown).
    const inFlight: OutboxItem[] = [];
    for (const [id, request] of this.#pending) {
      if (request.kind === 'publish' && request.item) {
        clearTimeout(request.timer);
        inFlight.push(request.item);
        this.#pending.delete(id);
      } else if (request.kind === 'ping') {
        clearTimeout(request.timer);
        request.resolve();
        this.#pending.delete(id);
      } else if (request.kind === 'history') {
        // Its answer is lost with the connection: the reader reports it.
        clearTimeout(request.timer);
        request.reject(new EventwireError('connection_closed', 'The connection dropped while reading history'));
        this.#pending.delete(id);
      } else {
        // Subscriptions stay in #patterns and are re-sent on reconnect; their
        // waiters are still pending there. Settle the request itself.
        clearTimeout(request.timer);
        request.resolve();
        this.#pending.delete(id);
      }
    }
    this.#outbox.requeue(inFlight);
    // Nothing is live on a dead connection; the next one re-sends every
    // pattern, and resumes those that were live.
    for (const entry of this.#patterns.values()) {
      entry.resume ||= entry.live;
      entry.live = false;
    }
    const error = cause ?? closeError(code, reason);
    // Credentials that expired on a live connection are not a refusal: with
    // getToken the next connect brings fresh ones. (Refused at the
    // hello, they are: asking again would loop on the same answer.)
    const expired = code === closeCodes.unauthorized && wasWelcomed && this.#tokens !== undefined;
    if (isTerminalCloseCode(code) && code !== closeCodes.normal && !expired) {
      this.#fail(error);
      return;
    }
    this.#scheduleReconnect(error);
  }

  // ---------------------------------------------------------------------------
  // Credentials refresh

  /**
   * Plans the next refresh of credentials valid for `expiresInMs` more
   * (told by the broker, so neither clock's error matters). `attempt` > 0 is
   * a retry after a failed refresh: backed off, but always before expiry.
   */
  #scheduleRefresh(expiresInMs: number | undefined, attempt: number): void {
    clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    if (!this.#tokens || expiresInMs === undefined) return;
    const expiresAt = Date.now() + expiresInMs;
    const delayMs = attempt === 0 ? refreshDelayMs(expiresInMs) : Math.min(this.#backoff(attempt), Math.max(0, expiresInMs / 2));
    this.#refreshTimer = setTimeout(() => void this.#refresh(expiresAt, attempt), delayMs);
    (this.#refreshTimer as { unref?: () => void }).unref?.();
  }

  /** The spare token, if one was fetched in the last few seconds (an older one may be near its end). */
  #takeSpareToken(): Promise<string> | undefined {
    const spare = this.#spareToken;
    this.#spareToken = undefined;
    return spare && Date.now() - spare.at < SPARE_TOKEN_MS ? Promise.resolve(spare.token) : undefined;
  }

  async #refresh(expiresAt: number, attempt: number): Promise<void> {
    const socket = this.#socket;
    if (!socket || this.#state !== 'open') return;
    const retry = (error: EventwireError): void => {
      // Only this connection's credentials are at stake; a new one authenticates in its hello.
      if (socket !== this.#socket || this.#state !== 'open') return;
      this.#sink?.error(error);
      this.#scheduleRefresh(expiresAt - Date.now(), attempt + 1);
    };
    let token: string;
    try {
      token = await this.#tokens!.fetch();
    } catch (error) {
      return retry(toEventwireError(error, 'unauthorized'));
    }
    if (socket !== this.#socket || this.#state !== 'open') {
      // Fetched for a connection that is gone: fresh, unused, and the next connect needs one.
      this.#spareToken = { token, at: Date.now() };
      return;
    }
    const id = this.#id();
    let expiresInMs: number | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        this.#track(id, 'auth', resolve, reject, { expires: (ms) => (expiresInMs = ms) });
        this.#write({ type: 'auth', id, token });
      });
    } catch (error) {
      return retry(toEventwireError(error));
    }
    if (socket === this.#socket && this.#state === 'open') this.#scheduleRefresh(expiresInMs, 0);
  }

  #scheduleReconnect(error: EventwireError): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'waiting';
    this.#attempt++;
    this.#urlIndex = (this.#urlIndex + 1) % this.#urls.length;
    const delayMs = Math.max(0, this.#backoff(this.#attempt));
    this.#sink?.status({ state: 'reconnecting', attempt: this.#attempt, delayMs, error });
    this.#retryTimer = setTimeout(() => void this.#open(), delayMs);
  }

  /** Gives up for good: everything waiting fails with `error`. */
  #fail(error: EventwireError): void {
    this.#state = 'closed';
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#refreshTimer);
    this.#stopHeartbeat();
    if (this.#socket) this.#drop(this.#socket, closeCodes.normal, error.code);
    this.#rejectEverything(error);
    this.#sink?.status({ state: 'closed', error });
  }

  async #shutdown(): Promise<void> {
    const socket = this.#socket;
    const closeTimeoutMs = this.#options.closeTimeoutMs ?? wsTransportDefaults.closeTimeoutMs;
    if (this.#state === 'open' && socket) {
      // Barrier: the broker answers in order, so once this pong arrives every
      // event caused by our earlier frames has been delivered to us.
      await settlesWithin(this.#request({ type: 'ping', id: this.#id() }, 'ping'), closeTimeoutMs);
    }
    this.#state = 'closing';
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#refreshTimer);
    this.#stopHeartbeat();
    if (this.#socket) {
      const closedSocket = new Promise<void>((resolve) => (this.#closed = resolve));
      const current = this.#socket;
      current.close(closeCodes.normal, 'client closing');
      const timer = setTimeout(() => this.#drop(current, closeCodes.normal, 'close timed out'), closeTimeoutMs);
      await closedSocket;
      clearTimeout(timer);
    }
    this.#state = 'closed';
    this.#rejectEverything(new EventwireError('channel_closed', 'The ws transport closed'));
    this.#sink?.status({ state: 'closed' });
  }

  #rejectEverything(error: EventwireError): void {
    for (const request of this.#pending.values()) {
      clearTimeout(request.timer);
      request.reject(error);
    }
    this.#pending.clear();
    for (const item of this.#outbox.drain()) item.emit.reject(error);
    for (const entry of this.#patterns.values()) for (const waiter of entry.waiters) waiter.reject(error);
    this.#patterns.clear();
  }

  /** Ends a socket now, without waiting for the peer (which may be dead). */
  #drop(socket: WebSocketLike, code: number, reason: string): void {
    if (socket.terminate) socket.terminate();
    else socket.close(code, reason);
    // Browsers may take a while to report close on a dead peer; do not wait.
    if (socket === this.#socket) this.#onSocketClosed(code, reason);
  }

  // ---------------------------------------------------------------------------
  // Frames

  #onMessage(data: unknown): void {
    this.#awaitingPong = false;
    let frame: ReceivedServerFrame;
    try {
      frame = parseServerFrame(typeof data === 'string' ? data : String(data));
    } catch (error) {
      this.#sink?.error(toEventwireError(error, 'invalid_frame'));
      return;
    }
    switch (frame.type) {
      case 'welcome':
        this.#onWelcome(frame);
        return;
      case 'event': {
        const offset = (frame.event as { offset?: unknown } | null)?.offset;
        if (typeof offset === 'string') this.#advance(offset);
        this.#sink?.deliver(frame.event);
        return;
      }
      case 'presence':
        this.#sink?.presence(frame.channel, frame.members);
        return;
      case 'member_added':
      case 'member_removed':
        this.#sink?.member(frame.channel, frame.type === 'member_added' ? 'added' : 'removed', frame.member);
        return;
      case 'gap': {
        const position = this.#position;
        this.#sink?.gap({
          pattern: frame.pattern,
          reason: frame.reason,
          lastOffset: frame.since ?? (position && formatOffset(position.epoch, position.seq)),
        });
        return;
      }
      case 'history': {
        const request = this.#pending.get(frame.id);
        if (!request) return;
        this.#pending.delete(frame.id);
        clearTimeout(request.timer);
        request.page?.({ events: frame.events, more: frame.more, ...(frame.gap && { gap: frame.gap }) });
        request.resolve();
        return;
      }
      case 'ack':
      case 'pong': {
        // A pong, or a subscribe's ack, says how far history got before it:
        // the connection has everything routed until then. (Not a resume's
        // ack: its replay follows it.)
        if (frame.offset !== undefined && (frame.type === 'pong' || this.#pending.get(frame.id!)?.kind === 'subscribe')) {
          this.#advance(frame.offset);
        }
        if (frame.id === undefined) return;
        const request = this.#pending.get(frame.id);
        if (!request) return;
        this.#pending.delete(frame.id);
        clearTimeout(request.timer);
        if (frame.type === 'ack') request.expires?.(frame.expiresInMs);
        if (request.kind === 'subscribe' && request.pattern !== undefined) {
          this.#settleSubscription(request.pattern);
        }
        for (const pattern of request.patterns ?? []) this.#settleSubscription(pattern);
        request.resolve();
        return;
      }
      case 'error': {
        const error = errorFromWire(frame);
        const request = frame.id === undefined ? undefined : this.#pending.get(frame.id);
        if (!request) {
          this.#sink?.error(error);
          return;
        }
        this.#pending.delete(frame.id!);
        clearTimeout(request.timer);
        for (const pattern of request.pattern !== undefined ? [request.pattern] : (request.patterns ?? [])) {
          if (request.kind !== 'subscribe' && request.kind !== 'resume') break;
          const waiters = this.#patterns.get(pattern)?.waiters ?? [];
          this.#patterns.delete(pattern);
          for (const waiter of waiters) waiter.reject(error);
        }
        request.reject(error);
        return;
      }
    }
  }

  #send(item: OutboxItem): void {
    const frame: ClientFrame = {
      type: 'publish',
      ...(item.ack && { id: this.#id() }),
      event: item.envelope,
      ...(item.toOthers && { toOthers: true }),
      ...(item.except !== undefined && { except: item.except }),
    };
    if (!item.ack) {
      this.#write(frame);
      item.emit.resolve();
      return;
    }
    this.#track(frame.id!, 'publish', () => item.emit.resolve(), (error) => item.emit.reject(error), { item });
    // Not written (the socket is closing): the close path requeues it, still unsent.
    if (this.#write(frame)) item.emit.sent = true;
  }

  /** Sends a subscribe; the promise settles (never rejects) once it is answered or abandoned. */
  #sendSubscribe(pattern: string): Promise<void> {
    const id = this.#id();
    return new Promise<void>((settled) => {
      // A timeout fails the current waiters but keeps the pattern, so the next
      // connection subscribes it again; a broker refusal (error frame) drops it.
      const failWaiters = (error: EventwireError): void => {
        for (const waiter of this.#patterns.get(pattern)?.waiters.splice(0) ?? []) waiter.reject(error);
        settled();
      };
      this.#track(id, 'subscribe', settled, failWaiters, { pattern });
      this.#write({ type: 'subscribe', id, pattern });
    });
  }

  /** Sends a resume; settles (never rejects) once answered or abandoned, like a subscribe. */
  #sendResume(patterns: readonly string[], since: string): Promise<void> {
    const id = this.#id();
    return new Promise<void>((settled) => {
      const failWaiters = (error: EventwireError): void => {
        for (const pattern of patterns) for (const waiter of this.#patterns.get(pattern)?.waiters.splice(0) ?? []) waiter.reject(error);
        settled();
      };
      this.#track(id, 'resume', settled, failWaiters, { patterns });
      this.#write({ type: 'resume', id, patterns, since });
    });
  }

  /** Reads one page of the broker's history for `pattern`. */
  readHistory(pattern: string, query: HistoryQuery): Promise<HistoryPage> {
    if (this.#state !== 'open') {
      return Promise.reject(new EventwireError('connection_closed', 'History can be read only while connected'));
    }
    return new Promise<HistoryPage>((resolve, reject) => {
      const id = this.#id();
      let page: HistoryPage | undefined;
      this.#track(id, 'history', () => resolve(page!), reject, { page: (received) => (page = received) });
      this.#write({
        type: 'history',
        id,
        pattern,
        ...(query.since !== undefined && { since: query.since }),
        ...(query.last !== undefined && { last: query.last }),
        ...(query.limit !== undefined && { limit: query.limit }),
      });
    });
  }

  #advance(offset: string): void {
    const parsed = parseOffset(offset);
    if (!parsed) return;
    // A new epoch (after a broker lost its history) replaces the old position.
    if (!this.#position || parsed.epoch !== this.#position.epoch || parsed.seq > this.#position.seq) this.#position = parsed;
  }

  #settleSubscription(pattern: string): void {
    const entry = this.#patterns.get(pattern);
    if (!entry) return;
    // Keep the pattern (it must be re-sent on reconnect); release the waiters.
    entry.live = true;
    entry.resume = false;
    for (const waiter of entry.waiters.splice(0)) waiter.resolve();
  }

  #request(frame: ClientFrame & { id: FrameId }, kind: PendingRequest['kind']): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#track(frame.id, kind, resolve, reject, {});
      this.#write(frame);
    });
  }

  #track(
    id: FrameId,
    kind: PendingRequest['kind'],
    resolve: () => void,
    reject: (error: EventwireError) => void,
    extra: {
      item?: OutboxItem;
      pattern?: string;
      patterns?: readonly string[];
      page?: (page: HistoryPage) => void;
      expires?: (expiresInMs: number | undefined) => void;
    },
  ): void {
    const { item } = extra;
    // A publish has what is left of its emit's bound; anything else the whole bound from now.
    const timer = setTimeout(
      () => {
        this.#pending.delete(id);
        if (item) item.emit.expire(this.#requestTimeoutMs);
        else reject(new EventwireError('timeout', `No answer from the broker to ${kind} within ${this.#requestTimeoutMs} ms`));
      },
      item ? item.emit.remainingMs() : this.#requestTimeoutMs,
    );
    this.#pending.set(id, { kind, resolve, reject, timer, ...extra });
  }

  /** Writes `frame` if the socket is open; false when it was not written. */
  #write(frame: ClientFrame): boolean {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) return false; // the close path requeues or re-sends
    socket.send(encodeFrame(frame));
    return true;
  }

  #id(): number {
    return this.#nextId++;
  }

  // ---------------------------------------------------------------------------
  // Heartbeat

  #startHeartbeat(intervalMs: number): void {
    this.#stopHeartbeat();
    if (!(intervalMs > 0)) return;
    this.#awaitingPong = false;
    this.#heartbeatTimer = setInterval(() => {
      const socket = this.#socket;
      if (!socket) return;
      if (this.#awaitingPong) {
        this.#drop(socket, closeCodes.heartbeatTimeout, 'heartbeat timeout');
        return;
      }
      this.#awaitingPong = true;
      this.#write({ type: 'ping' });
    }, intervalMs);
    // A heartbeat alone should not keep a Node process alive.
    (this.#heartbeatTimer as { unref?: () => void }).unref?.();
  }

  #stopHeartbeat(): void {
    clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = undefined;
  }
}

function upgradeError(status: number): EventwireError {
  switch (status) {
    case 401:
      return new EventwireError('unauthorized', 'The broker refused the credentials on the connect URL (HTTP 401)');
    case 403:
      return new EventwireError('forbidden', 'The broker does not allow this connection (HTTP 403)');
    case 429:
      return new EventwireError('rate_limited', 'The broker asked this client to connect less often (HTTP 429)');
    case 503:
      return new EventwireError('unavailable', 'The broker is not taking connections now (HTTP 503: at capacity, or starting); retrying with backoff');
    default:
      return new EventwireError('connection_closed', `The broker refused the connection (HTTP ${status})`);
  }
}

/** The socket could not be opened or broke: Node's reason in the message, its error kept as the cause. */
function unreachableError(url: string, error: Error): EventwireError {
  return new EventwireError('connection_closed', `Cannot reach the broker at ${safeUrl(url)}: ${error.message}`, { cause: error });
}

/** `url` without credentials or a query (a token may ride there), for messages. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function closeError(code: number, reason: string): EventwireError {
  const detail = reason ? `${code} ${reason}` : String(code);
  switch (code) {
    case closeCodes.unauthorized:
      return new EventwireError('unauthorized', `The broker refused the connection (${detail})`);
    case closeCodes.unsupportedProtocol:
      return new EventwireError('unsupported_protocol', `The broker refused the protocol (${detail})`);
    case closeCodes.slowConsumer:
      return new EventwireError('slow_consumer', `The broker cut this slow consumer (${detail})`);
    default:
      return new EventwireError('connection_closed', `Connection closed (${detail})`);
  }
}

/**
 * Node gets `ws` (loaded only when a ws:// URL is used, so memory:// users and
 * browsers never load it); browsers use their global WebSocket. `ws` ships a
 * browser stub, so bundlers resolve this import without pulling Node code in.
 */
async function loadWebSocket(): Promise<WebSocketConstructor> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (!isNode && typeof globalThis.WebSocket === 'function') {
    return globalThis.WebSocket as unknown as WebSocketConstructor;
  }
  const { WebSocket } = await import('ws');
  return WebSocket as unknown as WebSocketConstructor;
}
