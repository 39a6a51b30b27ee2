// What a transport over a server's own pub/sub (redis://, postgres://)
// shares, whatever the server: the channel's states, the bounded outbox for
// emits made while disconnected, subscribes that wait until the server has
// them, one delivery per event however many patterns match, `toOthers`, and
// a `gap` for every live subscription when the server could have sent events
// while the connection was down (these servers keep no history to recover
// them from). A `PubSubBus` knows its server and nothing of this.
import type { EventEnvelope } from '../envelope.js';
import { EventwireError, toEventwireError } from '../errors.js';
import type { GapReason } from '../gap.js';
import { settlesWithin } from '../deadline.js';
import { PendingEmit } from '../emit-deadline.js';
import { Outbox, emitExpiry, holdPending, type OutboxOverflow } from '../outbox.js';
import { TopicTrie } from '../topic-trie.js';
import type { PublishOptions, Transport, TransportSink } from './transport.js';

/** What a bus reports to its transport. */
export interface PubSubBusEvents {
  /**
   * Connected, and every pattern `patterns()` returned is listened to:
   * events published from now on arrive. `missed`: the listening connection
   * was down since the last `ready`, so events may have been lost.
   */
  ready(missed: boolean): void;
  /** The connection is down (or not up yet); the bus tries again after `delayMs`. */
  reconnecting(attempt: number, delayMs: number, error: EventwireError): void;
  /** The bus gave up (credentials refused, say): nothing more will work. */
  failed(error: EventwireError): void;
  /**
   * A message arrived through the bus subscription `via` (one of
   * `keysFor`'s), its text undecoded — or already decoded, by a bus whose
   * messages are not all eventwire JSON (Kafka: a plain producer's record
   * becomes an event there), so it is not serialized again to be parsed
   * here; `topic` when the bus knows it without parsing (a Redis channel name).
   */
  message(payload: string | object, via: string, topic?: string): void;
  /** Whether anything subscribed wants events on `topic` (before a bus fetches a body). */
  wants(topic: string): boolean;
  /** An event on `topic` was announced but cannot be read (its stored body is gone). */
  missed(topic: string, reason: GapReason): void;
  /**
   * What arrives through the bus subscription `via` may have been lost
   * (a log's retention passed the bus's position): a gap for every live
   * pattern listening through it.
   */
  missedVia(via: string, reason: GapReason): void;
  /** A failure not tied to a call. */
  error(error: EventwireError): void;
  /** The patterns to listen to (again): called by the bus while (re)connecting. */
  patterns(): readonly string[];
}

/**
 * One server's pub/sub, as a `PubSubTransport` drives it. Every method but
 * `open` is called only between `ready` and the next `reconnecting`, or
 * during `close`.
 */
export interface PubSubBus {
  readonly kind: string;
  /** Connects, and keeps reconnecting (listening to `events.patterns()` again each time) until `close`. */
  open(events: PubSubBusEvents): void;
  /**
   * The bus subscriptions through which `pattern`'s messages arrive; for
   * any topic at most one of them carries it, so a message is handled once
   * per pattern.
   */
  keysFor(pattern: string): readonly string[];
  /**
   * Publishes `payload` (the JSON of `envelope`, with `except`/`origin` when
   * set; `envelope` for a bus that also writes some of it elsewhere, Kafka's
   * record headers); rejects with an EventwireError, `connection_closed`
   * when the connection went away (sent again after the reconnect).
   */
  publish(topic: string, payload: string, envelope?: EventEnvelope): Promise<void>;
  listen(pattern: string): Promise<void>;
  /** Resolves once nothing more arrives for it (what the server had sent first has been handed on). */
  unlisten(pattern: string): Promise<void>;
  /** Resolves once every message the server sent before this call has been handed to `message`. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Tuning shared by the pub/sub transports (redis://, postgres://). */
export interface PubSubTransportOptions {
  /**
   * Delay before reconnect attempt n (1-based), used by the bus.
   * @default fullJitterBackoff({ baseMs: 250, capMs: 30_000 })
   */
  readonly backoff?: (attempt: number) => number;
  /**
   * How long connecting may take (used by the bus), and the bound on every
   * emit from its `emit` call, as on `ws://`: an acknowledged one is
   * confirmed by the server or fails by then (`timeout` when the server did
   * not answer: the outcome is unknown); one without `ack` is handed to the
   * connection by then or fails with `timeout` (dropped from the outbox,
   * never sent late). See PROTOCOL.md §6.
   * @default 10_000
   */
  readonly requestTimeoutMs?: number;
  /** Emits held while disconnected, flushed in order on reconnect. @default 1000 */
  readonly outboxSize?: number;
  /** @default 'reject' */
  readonly outboxOverflow?: OutboxOverflow;
  /**
   * This connection never receives what it published itself (what a broker
   * cluster's link needs: NATS's `noEcho`). Its messages carry `origin`.
   * @default false
   */
  readonly noEcho?: boolean;
}

/** How long close and unsubscribe wait for this connection's own publishes to be answered. */
const IN_FLIGHT_WAIT_MS = 10_000;

/** The field of a message on the wire that names the one connection it is not delivered to (`toOthers`, `except`). */
export const EXCEPT_FIELD = 'except';
/** The field naming the connection that published a message, on `noEcho` connections' messages. */
export const ORIGIN_FIELD = 'origin';

interface OutboxItem {
  readonly envelope: EventEnvelope;
  readonly options: PublishOptions;
  /** Its promise and deadline, kept through the outbox, the server's answer, a lost connection and a re-send. */
  readonly emit: PendingEmit;
  /** Order of sending, so items failed by one lost connection go out again in it. */
  sequence?: number;
}

interface PatternEntry {
  readonly pattern: string;
  /** Older patterns deliver a message several of them match. */
  readonly age: number;
  readonly keys: readonly string[];
  /** The server has it (since the last ready). */
  live: boolean;
  waiters: Array<{ resolve: () => void; reject: (error: EventwireError) => void }>;
}

type State = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

export class PubSubTransport implements Transport {
  readonly kind: string;
  /** This channel's id on the bus: what `toOthers` leaves out. */
  readonly connectionId: string;
  readonly #bus: PubSubBus;
  readonly #outbox: Outbox<OutboxItem>;
  readonly #patterns = new Map<string, PatternEntry>();
  /** Every pattern still delivering, those being unsubscribed included. */
  readonly #trie = new TopicTrie<PatternEntry>();
  /** Published but not yet confirmed by the server. */
  readonly #inFlight = new Set<Promise<void>>();
  /** In-flight items the lost connection failed, put back in order once the failures are in. */
  #failed: OutboxItem[] = [];
  #sequence = 0;
  #age = 0;
  #sink: TransportSink | undefined;
  #state: State = 'connecting';
  #closing: Promise<void> | undefined;
  /** The patterns the bus was handed on its last (re)connect. */
  #listened = new Set<string>();
  readonly #noEcho: boolean;
  readonly #requestTimeoutMs: number;

  constructor(bus: PubSubBus, options: PubSubTransportOptions = {}) {
    this.#bus = bus;
    this.kind = bus.kind;
    this.connectionId = `${bus.kind}-${globalThis.crypto.randomUUID()}`;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#outbox = new Outbox(options.outboxSize ?? 1000, options.outboxOverflow ?? 'reject', emitExpiry(this.#requestTimeoutMs));
    this.#noEcho = options.noEcho ?? false;
  }

  /** Emits refused or evicted because the outbox was full. */
  get outboxDropped(): number {
    return this.#outbox.dropped;
  }

  /** Emits waiting in the outbox for the connection. */
  get held(): number {
    return this.#outbox.size;
  }

  connect(sink: TransportSink): void {
    this.#sink = sink;
    sink.status({ state: 'connecting' });
    this.#bus.open({
      ready: (missed) => this.#ready(missed),
      reconnecting: (attempt, delayMs, error) => this.#reconnecting(attempt, delayMs, error),
      failed: (error) => this.#giveUp(error),
      message: (payload, via, topic) => this.#receive(payload, via, topic),
      wants: (topic) => this.#ownerOf(topic) !== undefined,
      missed: (topic, reason) => {
        const owners = this.#trie.matchValues(topic);
        for (const entry of owners) this.#sink?.gap({ pattern: entry.pattern, reason, lastOffset: undefined });
      },
      missedVia: (via, reason) => {
        for (const entry of this.#patterns.values()) if (entry.live && entry.keys.includes(via)) this.#sink?.gap({ pattern: entry.pattern, reason, lastOffset: undefined });
      },
      error: (error) => this.#sink?.error(error),
      patterns: () => {
        const patterns = [...this.#patterns.keys()];
        this.#listened = new Set(patterns);
        return patterns;
      },
    });
  }

  publish(envelope: EventEnvelope, options: PublishOptions = {}): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(closedError(this.kind));
    return new Promise<void>((resolve, reject) => {
      const item: OutboxItem = { envelope, options, emit: PendingEmit.within(this.#requestTimeoutMs, resolve, reject) };
      if (this.#state === 'open' || this.#state === 'closing') return this.#send(item);
      holdPending(this.#outbox, item);
    });
  }

  subscribe(pattern: string): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed') return Promise.reject(closedError(this.kind));
    return new Promise<void>((resolve, reject) => {
      let entry = this.#patterns.get(pattern);
      if (entry?.live) return resolve();
      if (!entry) {
        entry = { pattern, age: ++this.#age, keys: this.#bus.keysFor(pattern), live: false, waiters: [] };
        this.#patterns.set(pattern, entry);
        this.#trie.add(pattern, entry);
        entry.waiters.push({ resolve, reject });
        if (this.#state === 'open') this.#listen(entry);
        return;
      }
      entry.waiters.push({ resolve, reject });
    });
  }

  async unsubscribe(pattern: string): Promise<void> {
    const entry = this.#patterns.get(pattern);
    if (!entry) return;
    this.#patterns.delete(pattern);
    for (const waiter of entry.waiters.splice(0)) waiter.resolve();
    if (this.#state === 'open' && entry.live) {
      // This connection's own publishes still on their way reach the server first (a client may batch them into the next write).
      await this.#inFlightSettled();
      // Until the server confirms, what it sent first is still delivered.
      await this.#bus.unlisten(pattern).catch(() => {});
    }
    this.#trie.remove(pattern, entry);
  }

  close(): Promise<void> {
    this.#closing ??= Promise.resolve().then(() => this.#shutdown());
    return this.#closing;
  }

  // ---------------------------------------------------------------------------

  #ready(missed: boolean): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    const wasLost = this.#state === 'reconnecting';
    this.#state = 'open';
    for (const entry of this.#patterns.values()) {
      // Subscribed while the bus was reconnecting, after it read the list: listen now.
      if (!this.#listened.has(entry.pattern)) {
        this.#listen(entry);
        continue;
      }
      if (entry.live && wasLost && missed) this.#sink?.gap({ pattern: entry.pattern, reason: 'no_history', lastOffset: undefined });
      entry.live = true;
      for (const waiter of entry.waiters.splice(0)) waiter.resolve();
    }
    for (const item of this.#outbox.drain()) this.#send(item);
    this.#sink?.status({ state: 'open' });
  }

  #reconnecting(attempt: number, delayMs: number, error: EventwireError): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    this.#state = 'reconnecting';
    this.#sink?.status({ state: 'reconnecting', attempt, delayMs, error });
  }

  #giveUp(error: EventwireError): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#failPending(error);
    this.#sink?.status({ state: 'closed', error });
    void this.#bus.close().catch(() => {});
  }

  #listen(entry: PatternEntry): void {
    this.#bus.listen(entry.pattern).then(
      () => {
        if (this.#patterns.get(entry.pattern) !== entry) return;
        entry.live = true;
        for (const waiter of entry.waiters.splice(0)) waiter.resolve();
      },
      (error: unknown) => {
        const failure = toEventwireError(error);
        // Lost meanwhile: the reconnect listens to it again.
        if (failure.code === 'connection_closed' && this.#state !== 'closed') return;
        if (this.#patterns.get(entry.pattern) === entry) {
          this.#patterns.delete(entry.pattern);
          this.#trie.remove(entry.pattern, entry);
        }
        for (const waiter of entry.waiters.splice(0)) waiter.reject(failure);
      },
    );
  }

  #send(item: OutboxItem): void {
    // Its caller was told it failed (a timeout): it is never sent after that.
    if (item.emit.settled) return;
    const except = item.options.toOthers ? this.connectionId : item.options.except;
    const payload = JSON.stringify(
      except === undefined && !this.#noEcho
        ? item.envelope
        : { ...item.envelope, ...(except !== undefined && { [EXCEPT_FIELD]: except }), ...(this.#noEcho && { [ORIGIN_FIELD]: this.connectionId }) },
    );
    item.sequence = ++this.#sequence;
    const sent = this.#bus.publish(item.envelope.topic, payload, item.envelope);
    item.emit.sent = true;
    // Without `ack`, handed over is enough; a later failure is reported, or the event goes out again after a reconnect.
    if (!item.options.ack) item.emit.resolve();
    // A server that went away may hold the answer until it is back (ioredis
    // re-sends its unanswered commands after reconnecting): the emit's bound
    // does not wait for that.
    const timer = item.options.ack ? setTimeout(() => item.emit.expire(this.#requestTimeoutMs), item.emit.remainingMs()) : undefined;
    const settled: Promise<void> = sent.then(
      () => {
        clearTimeout(timer);
        this.#inFlight.delete(settled);
        if (item.options.ack) item.emit.resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        this.#inFlight.delete(settled);
        const failure = toEventwireError(error);
        if (failure.code === 'connection_closed' && this.#state !== 'closed' && this.#state !== 'closing') return this.#retryAfterReconnect(item);
        if (item.options.ack) item.emit.reject(failure);
        else this.#sink?.error(failure);
      },
    );
    this.#inFlight.add(settled);
  }

  /** Failures of one lost connection arrive together: put them back in the order they were sent, ahead of later emits. */
  #retryAfterReconnect(item: OutboxItem): void {
    // Timed out meanwhile: its caller has the answer, and it is not sent again.
    if (item.options.ack && item.emit.settled) return;
    // Without `ack` its caller was already answered: the re-send keeps the
    // emit's deadline, and a failure of it (a timeout) is reported instead.
    const emit = item.options.ack ? item.emit : new PendingEmit(() => {}, (error) => this.#sink?.error(error), item.emit.deadline);
    emit.sent = true;
    const resend: OutboxItem = { ...item, emit };
    if (this.#failed.push(resend) > 1) return;
    queueMicrotask(() => {
      const failed = this.#failed.sort((a, b) => a.sequence! - b.sequence!);
      this.#failed = [];
      if (this.#state === 'open') for (const again of failed) this.#send(again);
      else this.#outbox.requeue(failed);
    });
  }

  /** The oldest live pattern matching `topic`: the one that delivers it. */
  #ownerOf(topic: string): PatternEntry | undefined {
    let owner: PatternEntry | undefined;
    this.#trie.forEachMatch(topic, (candidate) => {
      if (owner === undefined || candidate.age < owner.age) owner = candidate;
    });
    return owner;
  }

  #receive(payload: string | object, via: string, knownTopic: string | undefined): void {
    if (this.#state === 'closed') return;
    // A pattern glob may let through more than the pattern matches, and
    // several subscriptions may carry one message: only the owner's copy counts.
    if (knownTopic !== undefined && !this.#ownerOf(knownTopic)?.keys.includes(via)) return;
    let message: unknown = payload;
    if (typeof payload === 'string') {
      try {
        message = JSON.parse(payload);
      } catch {
        this.#sink?.error(new EventwireError('invalid_envelope', `a ${this.kind} message is not JSON (not an eventwire event): ${payload.slice(0, 60)}`));
        return;
      }
    }
    if (typeof message !== 'object' || message === null) return this.#sink?.deliver(message);
    const record = message as Record<string, unknown>;
    if (knownTopic === undefined && typeof record['topic'] === 'string' && !this.#ownerOf(record['topic'])?.keys.includes(via)) return;
    if (record[EXCEPT_FIELD] !== undefined && record[EXCEPT_FIELD] === this.connectionId) return;
    if (this.#noEcho && record[ORIGIN_FIELD] === this.connectionId) return;
    this.#sink?.deliver(message);
  }

  async #shutdown(): Promise<void> {
    if (this.#state === 'closed') return;
    const wasOpen = this.#state === 'open';
    this.#state = 'closing';
    if (wasOpen) {
      // What was sent reaches the server, and what the server already sent reaches the channel.
      await this.#inFlightSettled();
      await this.#bus.flush().catch(() => {});
    }
    this.#state = 'closed';
    await this.#bus.close().catch(() => {});
    this.#failPending(closedError(this.kind));
    this.#sink?.status({ state: 'closed' });
  }

  /** This connection's publishes still on their way have been answered (bounded: a server that never answers does not hold a close). */
  async #inFlightSettled(): Promise<void> {
    if (this.#inFlight.size > 0) await settlesWithin(Promise.allSettled([...this.#inFlight]), IN_FLIGHT_WAIT_MS);
  }

  #failPending(error: EventwireError): void {
    for (const item of this.#outbox.drain()) item.emit.reject(error);
    for (const item of this.#failed.splice(0)) item.emit.reject(error);
    for (const entry of this.#patterns.values()) for (const waiter of entry.waiters.splice(0)) waiter.reject(error);
  }
}

function closedError(kind: string): EventwireError {
  return new EventwireError('channel_closed', `The ${kind} transport is closed`);
}
