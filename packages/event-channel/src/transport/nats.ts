// nats:// — a channel straight on a NATS server or cluster, through the
// official client (@nats-io/transport-node, loaded only when this scheme is
// used). NATS does the routing, reconnecting and resubscribing; this
// transport maps topics onto subjects, keeps emits made while disconnected in
// the channel's bounded outbox (as ws:// does), delivers each message once
// however many of its patterns match, and reports the client's state as the
// channel's status.
//
// Where a broker cluster keeps history in JetStream (PROTOCOL.md §4.1), the
// patterns its stream covers are read from the stream instead, with one
// ordered consumer each: every event then carries its offset, what was
// missed while disconnected arrives after the reconnect (the consumer
// resumes after the last one it delivered), and `on(…, { since })` reads
// from the stream.
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection, Subscription } from '@nats-io/transport-node';
import { fullJitterBackoff } from '../backoff.js';
import type { EventEnvelope } from '../envelope.js';
import { EventwireError, toEventwireError } from '../errors.js';
import { answersWithin, settlesWithin } from '../deadline.js';
import { PendingEmit } from '../emit-deadline.js';
import { Outbox, emitExpiry, holdPending, type OutboxOverflow } from '../outbox.js';
import type { GapReason } from '../gap.js';
import { formatOffset, parseOffset } from '../offset.js';
import { NatsPatternOwners, fromNatsError, loadNats, natsConnectionOptions, parseNatsJson, type NatsModule, type NatsServerOptions } from './nats-client.js';
import { HISTORY_STREAM, historyEpoch, loadJetStream, streamCovers, type JetStreamModule } from './nats-history.js';
import { natsSubjectsFor } from './nats-subjects.js';
import { StreamReader } from './stream-reader.js';
import type { HistoryPage, HistoryQuery, PublishOptions, Transport, TransportSink } from './transport.js';

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
  /**
   * How long a subscribe may wait for the server, and the bound on every
   * emit from its `emit` call, as on `ws://`: an acknowledged one is
   * acknowledged (a round trip, or stored by JetStream) or fails by then; one
   * without `ack` is handed to the client by then or fails with `timeout`
   * (dropped from the outbox, never sent late). See PROTOCOL.md §6.
   * @default 10_000
   */
  readonly requestTimeoutMs?: number;
  /**
   * The JetStream stream that keeps history (a broker cluster's), looked up
   * on connect: the patterns it covers are read from it (offsets, recovery
   * after a reconnect, `since`). `false`: core NATS only. Needs
   * `@nats-io/jetstream` installed; without it, or without the stream, core
   * NATS only.
   * @default 'EVENTWIRE_HISTORY'
   */
  readonly history?: string | false;
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
  /** Its promise and deadline, kept while it waits for the connection and while it is answered. */
  readonly emit: PendingEmit;
}

interface PatternEntry {
  readonly pattern: string;
  subscriptions: Subscription[];
  /** Read from the history stream instead of core subscriptions: one reader per subject. */
  streams: StreamReader[];
  /** The stream's consumer being set up: live once it settles. */
  streamReady?: Promise<void> | undefined;
  /** Unsubscribed: a consumer that lands afterwards is closed. */
  gone?: boolean;
  /** Subscribes waiting for it to be live on the server. */
  waiters: Array<{ resolve: () => void; reject: (error: EventwireError) => void }>;
}

type State = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/** The history stream found on connect. */
interface StreamHistory {
  readonly module: JetStreamModule;
  readonly js: JetStreamClient;
  /** For the readers' consumers: a short timeout, since a failed attempt is retried. */
  readonly readerJs: JetStreamClient;
  /** For `since` reads (stream info, page consumers). */
  readonly manager: JetStreamManager;
  readonly stream: string;
  readonly epoch: string;
  readonly subjects: readonly string[];
}

/** How long a lookup of the history stream (and each JetStream API call of a `since` read) may take. */
const HISTORY_LOOKUP_MS = 2000;
/** A history reader's consumer requests (retried on failure after a reconnect). */
const READER_API_TIMEOUT_MS = 3000;

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
  #history: StreamHistory | undefined;
  readonly #encoder = new TextEncoder();

  constructor(options: NatsTransportOptions) {
    this.#options = options;
    this.#outbox = new Outbox(
      options.outboxSize ?? natsTransportDefaults.outboxSize,
      options.outboxOverflow ?? natsTransportDefaults.outboxOverflow,
      emitExpiry(this.#requestTimeoutMs),
    );
  }

  get #requestTimeoutMs(): number {
    return this.#options.requestTimeoutMs ?? natsTransportDefaults.requestTimeoutMs;
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
      const item: OutboxItem = { envelope, options, emit: PendingEmit.within(this.#requestTimeoutMs, resolve, reject) };
      if (this.#state === 'open') return this.#send(item);
      holdPending(this.#outbox, item);
    });
  }

  subscribe(pattern: string): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      let entry = this.#patterns.get(pattern);
      if (!entry) {
        entry = { pattern, subscriptions: [], streams: [], waiters: [] };
        this.#patterns.set(pattern, entry);
        this.#owners.add(entry);
      }
      entry.waiters.push({ resolve, reject });
      if (this.#connection && entry.subscriptions.length === 0 && !entry.streamReady) this.#subscribeOnServer(entry);
      if (this.#state === 'open') this.#confirmLive();
    });
  }

  async unsubscribe(pattern: string): Promise<void> {
    const entry = this.#patterns.get(pattern);
    if (!entry) return;
    this.#patterns.delete(pattern);
    this.#owners.delete(entry);
    for (const waiter of entry.waiters.splice(0)) waiter.resolve();
    entry.gone = true;
    await Promise.all(entry.streams.map((reader) => reader.close()));
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
    // The history stream first: until it is known, subscribe() holds its patterns (no connection yet).
    const history = await this.#findHistory(connection);
    if ((this.#state as State) === 'closing' || (this.#state as State) === 'closed') {
      await connection.close().catch(() => {});
      return;
    }
    this.#history = history;
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
            if (this.#state !== 'reconnecting') return;
            // The history readers' consumers may have been on the server that went away.
            for (const entry of this.#patterns.values()) for (const reader of entry.streams) void reader.restart();
            this.#opened();
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
    await Promise.all([...this.#patterns.values()].flatMap((entry) => entry.streams.map((reader) => reader.close())));
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
    for (const item of this.#outbox.drain()) item.emit.reject(error);
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
    const history = this.#history;
    if (item.options.ack && history && streamCovers(history.subjects, item.envelope.topic)) return this.#store(item, history, except);
    try {
      connection.publish(item.envelope.topic, this.#encoder.encode(JSON.stringify(item.envelope)), except === undefined ? undefined : { headers: this.#exceptHeaders(except) });
    } catch (error) {
      return item.emit.reject(fromNatsError(error, 'connection_closed'));
    }
    item.emit.sent = true;
    if (!item.options.ack) return item.emit.resolve();
    // NATS core has no per-message ack: a flush round trip says the server
    // has it. Bounded by what is left of the emit's time, not a fresh bound.
    this.#roundTrip(item.emit.remainingMs()).then(
      () => item.emit.resolve(),
      (error: EventwireError) => this.#failSent(item, error),
    );
  }

  /** A sent emit's answer failed: past its deadline that is a `timeout` (outcome unknown), else `error`. */
  #failSent(item: OutboxItem, error: EventwireError): void {
    if (item.emit.remainingMs() === 0) item.emit.expire(this.#requestTimeoutMs);
    else item.emit.reject(error);
  }

  /**
   * An acknowledged emit on a topic the history stream keeps: stored with
   * `js.publish`, so the ack means stored (a core publish into a stream is
   * lost unseen while the stream elects a leader), deduplicated by the
   * event id as the brokers' are.
   */
  #store(item: OutboxItem, history: StreamHistory, except: string | undefined): void {
    const encoded = this.#encoder.encode(JSON.stringify(item.envelope));
    const stored = history.js.publish(item.envelope.topic, encoded, {
      msgID: item.envelope.id,
      // What is left of the emit's bound (JetStream's own default would be a fresh one).
      timeout: Math.max(1, Math.ceil(item.emit.remainingMs())),
      ...(except !== undefined && { headers: this.#exceptHeaders(except) }),
    });
    item.emit.sent = true;
    stored.then(
      () => item.emit.resolve(),
      (error: unknown) =>
        this.#failSent(item, new EventwireError('unavailable', `History could not store the event: ${fromNatsError(error, 'unavailable').message}`, { cause: error, retryAfterMs: 1000 })),
    );
  }

  #exceptHeaders(except: string): MsgHdrs {
    const headers = this.#nats!.headers();
    headers.set(EXCEPT_HEADER, except);
    return headers;
  }

  #subscribeOnServer(entry: PatternEntry): void {
    if (this.#history && streamCovers(this.#history.subjects, entry.pattern)) return this.#readStream(entry, this.#history);
    entry.subscriptions = this.#owners.subscribe(this.#connection!, entry, {
      receive: (envelope, message) => {
        if (message.headers?.get(EXCEPT_HEADER) === this.connectionId) return;
        this.#sink?.deliver(envelope);
      },
      notJson: (error) => this.#sink?.error(error),
      failed: (error) => this.#sink?.error(error),
    });
  }

  /**
   * From the history stream: an ordered consumer on the pattern's subjects,
   * from now on. It delivers in stream order and, after a reconnect, resumes
   * after the last event it delivered, so nothing stored meanwhile is missed.
   */
  #readStream(entry: PatternEntry, history: StreamHistory): void {
    // One reader per subject (a trailing # is two): filtering on several
    // subjects at once needs nats-server 2.10, and the subjects are disjoint.
    const readers = natsSubjectsFor(entry.pattern).map(
      (subject) =>
        new StreamReader({
          module: history.module,
          js: history.readerJs,
          stream: history.stream,
          subject,
          from: 'new',
          take: (message) => this.#fromStream(entry, history, message),
          failed: (error) => this.#sink?.error(error),
        }),
    );
    entry.streams = readers;
    const ready = Promise.all(readers.map((reader) => reader.start())).then(
      () => undefined,
      (error: unknown) => {
        // Not set up: the subscribe is refused, and the next subscribe of this pattern tries again.
        if (entry.streamReady === ready) {
          entry.streamReady = undefined;
          entry.streams = [];
          for (const reader of readers) void reader.close();
        }
        throw fromNatsError(error, 'unavailable');
      },
    );
    entry.streamReady = ready;
    entry.streamReady.catch(() => {});
  }

  #fromStream(entry: PatternEntry, history: StreamHistory, message: JsMsg): void {
    if (!this.#owners.owns(entry, message.subject)) return;
    if (message.headers?.get(EXCEPT_HEADER) === this.connectionId) return;
    const envelope = this.#storedEnvelope(history, message);
    if (envelope !== undefined) this.#sink?.deliver(envelope);
  }

  /** A stored message as an envelope with its offset; undefined (reported) when it is not JSON. */
  #storedEnvelope(history: StreamHistory, message: JsMsg): unknown {
    let envelope: unknown;
    try {
      envelope = parseNatsJson(message.data, message.subject);
    } catch (error) {
      this.#sink?.error(error as EventwireError);
      return undefined;
    }
    // The stream's sequence is the offset (the channel checks the rest of the envelope).
    return typeof envelope === 'object' && envelope !== null ? { ...envelope, offset: formatOffset(history.epoch, message.seq) } : envelope;
  }

  /**
   * One page of the history stream for `pattern` (when the stream covers
   * it): after `since`'s seq in the same epoch, everything when the epoch is
   * another (with an `epoch` gap) or `'earliest'`, or the newest `last` (read
   * through the pattern's stored events to find them).
   */
  async readHistory(pattern: string, query: HistoryQuery): Promise<HistoryPage> {
    const history = this.#history;
    if (!history || !streamCovers(history.subjects, pattern)) return { events: [], more: false, gap: 'no_history' };
    if (this.#state !== 'open') throw new EventwireError('connection_closed', 'History can be read only while connected');
    const limit = Math.max(1, query.limit ?? 1000);
    const { manager } = history;
    const { state } = await manager.streams.info(history.stream);
    const firstSeq = Math.max(1, state.first_seq);
    let startSeq = firstSeq;
    let gap: GapReason | undefined;
    if (query.since !== undefined && query.since !== 'earliest') {
      const position = parseOffset(query.since);
      if (!position || position.epoch !== history.epoch) gap = 'epoch';
      else {
        startSeq = position.seq + 1;
        // The stream dropped events after that position: some of this pattern's may be among them (errs towards a gap).
        if (startSeq < firstSeq) {
          gap = 'trimmed';
          startSeq = firstSeq;
        }
      }
    }
    if (startSeq > state.last_seq) return { events: [], more: false, ...(gap && { gap }) };
    // Each subject's first `limit` (or newest `last`) after startSeq; the union's first `limit` are among them.
    const pages = await Promise.all(natsSubjectsFor(pattern).map((subject) => this.#readSubject(history, manager, subject, startSeq, limit, query.last)));
    let stored = pages.flatMap((page) => page.messages).sort((a, b) => a.seq - b.seq);
    let more = pages.some((page) => page.more);
    if (query.last !== undefined) stored = stored.slice(-query.last);
    if (stored.length > limit) {
      stored = stored.slice(0, limit);
      more = true;
    }
    const events = stored.map((message) => this.#storedEnvelope(history, message)).filter((envelope) => envelope !== undefined);
    return { events, more, ...(gap && { gap }) };
  }

  /**
   * Up to `limit` stored messages on one subject from `startSeq` (the newest
   * `last` of them, when given), through a plain ephemeral pull consumer made
   * for this read (its count of what matches is exact) and deleted after.
   */
  async #readSubject(
    history: StreamHistory,
    manager: JetStreamManager,
    subject: string,
    startSeq: number,
    limit: number,
    last: number | undefined,
  ): Promise<{ messages: JsMsg[]; more: boolean }> {
    const { AckPolicy, DeliverPolicy } = history.module;
    const made = await manager.consumers.add(history.stream, {
      filter_subject: subject,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      ack_policy: AckPolicy.None,
      mem_storage: true,
      num_replicas: 1,
      // Nanoseconds: gone by itself if this read is abandoned.
      inactive_threshold: 30_000_000_000,
    });
    try {
      const consumer = await history.js.consumers.get(history.stream, made.name);
      const pending = made.num_pending;
      // `last`: the consumer counts what matches; reading through the older ones is the only way past them.
      const skip = last !== undefined ? Math.max(0, pending - last) : 0;
      const wanted = Math.min(limit, pending - skip);
      const messages: JsMsg[] = [];
      let left = pending;
      let seen = 0;
      for (let empty = 0; messages.length < wanted && left > 0 && empty < 3; ) {
        const batch = await consumer.fetch({ max_messages: Math.min(1000, skip + wanted - seen), expires: 2000 });
        let got = 0;
        for await (const message of batch) {
          got++;
          seen++;
          left = message.info.pending;
          if (seen > skip) messages.push(message);
          if (messages.length >= wanted || left === 0) break;
        }
        if (got === 0) empty++;
      }
      if (messages.length < wanted && left > 0) throw new EventwireError('timeout', `History on "${subject}" did not arrive from JetStream`);
      return { messages, more: left > 0 };
    } finally {
      await manager.consumers.delete(history.stream, made.name).catch(() => {});
    }
  }

  /** The history stream, if this NATS system has one and the JetStream client is installed. */
  async #findHistory(connection: NatsConnection): Promise<StreamHistory | undefined> {
    const stream = this.#options.history ?? HISTORY_STREAM;
    if (stream === false) return undefined;
    let module: JetStreamModule;
    try {
      module = await loadJetStream();
    } catch {
      return undefined;
    }
    try {
      const manager = await module.jetstreamManager(connection, { timeout: HISTORY_LOOKUP_MS });
      const info = await manager.streams.info(stream);
      return {
        module,
        manager,
        js: module.jetstream(connection, { timeout: this.#options.requestTimeoutMs ?? natsTransportDefaults.requestTimeoutMs }),
        readerJs: module.jetstream(connection, { timeout: READER_API_TIMEOUT_MS }),
        stream,
        epoch: await historyEpoch(info.config.name, info.created),
        subjects: info.config.subjects ?? [],
      };
    } catch {
      // No JetStream on this server, or no such stream: core NATS only.
      return undefined;
    }
  }

  /** Resolves the subscribes waiting once the server has seen them (a flush round trip, and any stream consumer set up). */
  #confirmLive(): void {
    const waiting = [...this.#patterns.values()].filter((entry) => entry.waiters.length > 0);
    if (waiting.length === 0) return;
    Promise.all([this.#roundTrip(), ...waiting.map((entry) => entry.streamReady)]).then(
      () => {
        for (const entry of waiting) for (const waiter of entry.waiters.splice(0)) waiter.resolve();
      },
      (error: EventwireError) => {
        // Lost meanwhile: the reconnect confirms them again.
        if (this.#state === 'open') for (const entry of waiting) for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
      },
    );
  }

  async #roundTrip(timeout = this.#requestTimeoutMs): Promise<void> {
    try {
      await answersWithin(this.#connection!.flush(), timeout, 'The NATS server');
    } catch (error) {
      throw fromNatsError(error, 'connection_closed');
    }
  }

}

const defaultBackoff = fullJitterBackoff();

function closedError(): EventwireError {
  return new EventwireError('channel_closed', 'The nats transport is closed');
}
