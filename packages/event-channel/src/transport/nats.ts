// nats:// — a channel straight on a NATS server or cluster, through the
// official client (@nats-io/transport-node, loaded only when this scheme is
// used). NATS does the routing, reconnecting and resubscribing; this
// transport maps topics onto subjects, keeps emits made while disconnected in
// the channel's bounded outbox (as ws:// does), delivers each message once
// however many of its patterns match, and reports the client's state as the
// channel's status.
import type { MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { fullJitterBackoff } from '../backoff.js';
import type { EventEnvelope } from '../envelope.js';
import { EventwireError, toEventwireError } from '../errors.js';
import { Outbox, type OutboxOverflow } from '../outbox.js';
import { NatsPatternOwners, fromNatsError, loadNats, natsConnectionOptions, type NatsModule, type NatsServerOptions } from './nats-client.js';
import type { PublishOptions, Transport, TransportSink } from './transport.js';

/** Options of {@link NatsTransport}: where NATS is, plus the channel's own tuning. */
export interface NatsTransportOptions extends NatsServerOptions {
  /**
   * Delay before first-connect attempt n (1-based) while the server cannot be reached.
   * @default fullJitterBackoff({ baseMs: 250, capMs: 30_000 })
   */
  readonly backoff?: (attempt: number) => number;
  /** Wait between the client's reconnect attempts after a loss. @default 1000 */
  readonly reconnectTimeWaitMs?: number;
  /** Emits held while disconnected, flushed in order on reconnect. @default 1000 */
  readonly outboxSize?: number;
  /** @default 'reject' */
  readonly outboxOverflow?: OutboxOverflow;
  /** How long a subscribe or an acknowledged publish may wait for the server. @default 10_000 */
  readonly requestTimeoutMs?: number;
}

/** Defaults of {@link NatsTransportOptions}. */
export const natsTransportDefaults = {
  name: 'eventwire-js',
  reconnectTimeWaitMs: 1000,
  outboxSize: 1000,
  outboxOverflow: 'reject',
  requestTimeoutMs: 10_000,
} as const;

/** The header that names a connection an event is not delivered to (`toOthers`, `except`). */
export const EXCEPT_HEADER = 'Eventwire-Except';

interface OutboxItem {
  readonly envelope: EventEnvelope;
  readonly options: PublishOptions;
  readonly resolve: () => void;
  readonly reject: (error: EventwireError) => void;
}

interface PatternEntry {
  readonly pattern: string;
  subscriptions: Subscription[];
  /** Subscribes waiting for it to be live on the server. */
  waiters: Array<{ resolve: () => void; reject: (error: EventwireError) => void }>;
}

type State = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

export class NatsTransport implements Transport {
  readonly kind = 'nats';
  /** This channel's id on the bus: what `toOthers` leaves out. NATS has no connection ids of its own to lend. */
  readonly connectionId: string = `nats-${globalThis.crypto.randomUUID()}`;
  readonly #options: NatsTransportOptions;
  readonly #outbox: Outbox<OutboxItem>;
  readonly #patterns = new Map<string, PatternEntry>();
  readonly #owners = new NatsPatternOwners<PatternEntry>();
  #sink: TransportSink | undefined;
  #nats: NatsModule | undefined;
  #connection: NatsConnection | undefined;
  #state: State = 'connecting';
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** A connect() in flight: close() waits for it, so no socket outlives the channel. */
  #dialing: Promise<unknown> | undefined;
  #closing: Promise<void> | undefined;
  readonly #encoder = new TextEncoder();

  constructor(options: NatsTransportOptions) {
    this.#options = options;
    this.#outbox = new Outbox(options.outboxSize ?? natsTransportDefaults.outboxSize, options.outboxOverflow ?? natsTransportDefaults.outboxOverflow);
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
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      const item: OutboxItem = { envelope, options, resolve, reject };
      if (this.#state === 'open') return this.#send(item);
      let evicted: OutboxItem | undefined;
      try {
        evicted = this.#outbox.push(item);
      } catch (error) {
        return reject(toEventwireError(error));
      }
      evicted?.reject(new EventwireError('buffer_overflow', 'Dropped from the full outbox while disconnected'));
    });
  }

  subscribe(pattern: string): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      let entry = this.#patterns.get(pattern);
      if (!entry) {
        entry = { pattern, subscriptions: [], waiters: [] };
        this.#patterns.set(pattern, entry);
        this.#owners.add(entry);
      }
      entry.waiters.push({ resolve, reject });
      if (this.#connection && entry.subscriptions.length === 0) this.#subscribeOnServer(entry);
      if (this.#state === 'open') this.#confirmLive();
    });
  }

  async unsubscribe(pattern: string): Promise<void> {
    const entry = this.#patterns.get(pattern);
    if (!entry) return;
    this.#patterns.delete(pattern);
    this.#owners.delete(entry);
    for (const waiter of entry.waiters.splice(0)) waiter.resolve();
    // drain(): what the server already sent for it is delivered first.
    await Promise.all(entry.subscriptions.map((subscription) => subscription.drain().catch(() => subscription.unsubscribe())));
  }

  close(): Promise<void> {
    this.#closing ??= Promise.resolve().then(() => this.#shutdown());
    return this.#closing;
  }

  // ---------------------------------------------------------------------------
  // Connection life

  async #open(): Promise<void> {
    try {
      this.#nats ??= await loadNats();
    } catch (error) {
      return this.#giveUp(toEventwireError(error));
    }
    if (this.#state === 'closing' || this.#state === 'closed') return;
    let connection: NatsConnection;
    try {
      const dialing = this.#nats.connect(this.#connectOptions());
      this.#dialing = dialing.then(
        (landed) => (this.#state === 'closing' || this.#state === 'closed' ? landed.close() : undefined),
        () => {},
      );
      connection = await dialing;
    } catch (error) {
      if ((this.#state as State) === 'closing' || (this.#state as State) === 'closed') return;
      const failure = fromNatsError(error, 'connection_closed');
      if (failure.code === 'unauthorized') return this.#giveUp(failure);
      return this.#retryFirstConnect(failure);
    }
    // close() may have been called while connecting (TypeScript cannot see that across the await).
    if ((this.#state as State) === 'closing' || (this.#state as State) === 'closed') {
      await connection.close().catch(() => {});
      return;
    }
    this.#connection = connection;
    void this.#watch(connection);
    for (const entry of this.#patterns.values()) this.#subscribeOnServer(entry);
    this.#opened();
  }

  #retryFirstConnect(error: EventwireError): void {
    const attempt = ++this.#attempt;
    const delayMs = (this.#options.backoff ?? defaultBackoff)(attempt);
    this.#state = 'reconnecting';
    this.#sink?.status({ state: 'reconnecting', attempt, delayMs, error });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#open();
    }, delayMs);
  }

  /** Follows the client's own reconnects, and its end. */
  async #watch(connection: NatsConnection): Promise<void> {
    void connection.closed().then((error) => {
      if (this.#state === 'closing' || this.#state === 'closed') return;
      this.#giveUp(error ? fromNatsError(error, 'connection_closed') : new EventwireError('connection_closed', 'The NATS connection closed'));
    });
    for await (const status of connection.status()) {
      if (this.#state === 'closing' || this.#state === 'closed') return;
      if (status.type === 'disconnect' || status.type === 'reconnecting') {
        if (status.type === 'disconnect' && this.#state === 'reconnecting') continue;
        this.#state = 'reconnecting';
        const delayMs = this.#options.reconnectTimeWaitMs ?? natsTransportDefaults.reconnectTimeWaitMs;
        this.#sink?.status({ state: 'reconnecting', attempt: ++this.#attempt, delayMs, error: new EventwireError('connection_closed', 'Lost the NATS server; the client is reconnecting') });
      } else if (status.type === 'reconnect') {
        // The client has re-sent every subscription; one round trip more and
        // the server has them, so 'open' means another connection's next
        // publish reaches us.
        connection.flush().then(
          () => {
            if (this.#state === 'reconnecting') this.#opened();
          },
          () => {},
        );
      } else if (status.type === 'error') {
        this.#sink?.error(fromNatsError(status.error, 'internal'));
      }
    }
  }

  #opened(): void {
    this.#state = 'open';
    this.#attempt = 0;
    for (const item of this.#outbox.drain()) this.#send(item);
    this.#confirmLive();
    this.#sink?.status({ state: 'open' });
  }

  #giveUp(error: EventwireError): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#retryTimer);
    this.#failPending(error);
    this.#sink?.status({ state: 'closed', error });
  }

  async #shutdown(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    clearTimeout(this.#retryTimer);
    // A first connect still in flight is closed by #open when it lands.
    if (this.#dialing) await settlesWithin(this.#dialing, this.#options.requestTimeoutMs ?? natsTransportDefaults.requestTimeoutMs);
    const connection = this.#connection;
    if (connection && !connection.isClosed()) {
      // drain(): in-flight deliveries finish, pending publishes are flushed.
      // Only worth it while connected: drain() on a reconnecting client
      // fails at once and leaves its reconnect loop running, so the
      // connection is closed outright after, whatever drain() did.
      if (wasOpen) {
        const timeout = this.#options.requestTimeoutMs ?? natsTransportDefaults.requestTimeoutMs;
        await settlesWithin(connection.drain().catch(() => {}), timeout);
      }
      if (!connection.isClosed()) await connection.close().catch(() => {});
    }
    this.#failPending(closedError());
    this.#state = 'closed';
    this.#sink?.status({ state: 'closed' });
  }

  #failPending(error: EventwireError): void {
    for (const item of this.#outbox.drain()) item.reject(error);
    for (const entry of this.#patterns.values()) for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
  }

  #connectOptions() {
    return natsConnectionOptions(
      this.#nats!,
      { ...this.#options, name: this.#options.name ?? natsTransportDefaults.name },
      this.#options.reconnectTimeWaitMs ?? natsTransportDefaults.reconnectTimeWaitMs,
    );
  }

  // ---------------------------------------------------------------------------
  // Messages

  #send(item: OutboxItem): void {
    const connection = this.#connection!;
    const except = item.options.toOthers ? this.connectionId : item.options.except;
    try {
      connection.publish(item.envelope.topic, this.#encoder.encode(JSON.stringify(item.envelope)), except === undefined ? undefined : { headers: this.#exceptHeaders(except) });
    } catch (error) {
      return item.reject(fromNatsError(error, 'connection_closed'));
    }
    if (!item.options.ack) return item.resolve();
    // NATS core has no per-message ack: a flush round trip says the server has it.
    this.#roundTrip().then(item.resolve, item.reject);
  }

  #exceptHeaders(except: string): MsgHdrs {
    const headers = this.#nats!.headers();
    headers.set(EXCEPT_HEADER, except);
    return headers;
  }

  #subscribeOnServer(entry: PatternEntry): void {
    entry.subscriptions = this.#owners.subscribe(this.#connection!, entry, {
      receive: (envelope, message) => {
        if (message.headers?.get(EXCEPT_HEADER) === this.connectionId) return;
        this.#sink?.deliver(envelope);
      },
      notJson: (error) => this.#sink?.error(error),
      failed: (error) => this.#sink?.error(error),
    });
  }

  /** Resolves the subscribes waiting once the server has seen them (a flush round trip). */
  #confirmLive(): void {
    const waiting = [...this.#patterns.values()].filter((entry) => entry.waiters.length > 0);
    if (waiting.length === 0) return;
    this.#roundTrip().then(
      () => {
        for (const entry of waiting) for (const waiter of entry.waiters.splice(0)) waiter.resolve();
      },
      (error: EventwireError) => {
        // Lost meanwhile: the reconnect confirms them again.
        if (this.#state === 'open') for (const entry of waiting) for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
      },
    );
  }

  async #roundTrip(): Promise<void> {
    const timeout = this.#options.requestTimeoutMs ?? natsTransportDefaults.requestTimeoutMs;
    const flushed = this.#connection!.flush();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        flushed,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new EventwireError('timeout', `The NATS server did not answer within ${timeout} ms`)), timeout))),
      ]);
    } catch (error) {
      throw fromNatsError(error, 'connection_closed');
    } finally {
      clearTimeout(timer);
    }
  }

}

const defaultBackoff = fullJitterBackoff();

function closedError(): EventwireError {
  return new EventwireError('channel_closed', 'The nats transport is closed');
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return settled;
}
