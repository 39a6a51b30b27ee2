// History shared by every broker of a cluster, kept in one JetStream stream.
//
// The stream captures the history topics' own subjects, so an event is
// stored wherever it was published from (a broker, a plain nats:// channel,
// plain nats.js). The stream's sequence is the cluster's one sequence and
// its identity the epoch, so an offset means the same on every broker: a
// client that reconnects to another broker resumes where it was.
//
// Each broker mirrors the stream in memory with one ordered consumer, and a
// history event is delivered to local subscribers when the mirror takes it
// (never from the core NATS subscription as well), so the mirror and live
// delivery are one ordered sequence. That keeps the resume seam of the
// single broker: replay from the mirror and go live in one synchronous step,
// nothing missed or doubled between them.
//
// Why one stream and not one per history rule: offsets are one sequence per
// epoch (PROTOCOL.md), and a client's `#` subscription may span several
// rules; several streams would need a vector of offsets. The stream keeps the
// loosest bounds of the rules (per subject: the most events; the longest age),
// and the mirror applies each rule's own.
import { EventwireError, toEventwireError, type EventEnvelope } from '@eventwire/event-channel';
import {
  EXCEPT_HEADER,
  HISTORY_STREAM,
  MemoryHistoryStore,
  StreamReader,
  historyEpoch,
  loadJetStream,
  loadNats,
  parseNatsJson,
  streamSubjects,
  formatOffset,
  fromNatsError,
  type HistoryRetention,
  type HistoryRules,
  type NatsModule,
} from '@eventwire/event-channel/protocol';
import type { JetStreamClient, JetStreamManager, JsMsg, StreamConfig, StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { SharedAppend } from '../../history/shared-store.js';
import type { ClusterHistory, ClusterHistoryHost } from '../cluster-engine.js';
import { MirroredHistory } from '../mirrored-history.js';
import type { NatsClusterPart } from './nats-engine.js';

/** `cluster.history`: where the cluster keeps history. */
export interface JetStreamHistoryOptions {
  /** The stream's name (one per eventwire cluster on a NATS system). @default 'EVENTWIRE_HISTORY' */
  readonly stream?: string;
  /** Copies JetStream keeps of every event (1, 3 or 5 in a NATS cluster). @default 1 */
  readonly replicas?: number;
  /** Most bytes the stream holds; past it the oldest events go (readers behind them get a gap). @default unlimited */
  readonly maxBytes?: number;
  /**
   * Most bytes of events this broker's mirror of the stream holds in memory
   * (`MemoryHistoryStoreOptions.maxBytes`): past it the oldest leave the
   * mirror, though the stream still holds them, and readers behind them are
   * told of a gap. @default the broker's `historyMaxMemoryBytes`
   */
  readonly mirrorMaxBytes?: number;
  /**
   * How long `listen()` waits for the stream to be found, and then for the
   * mirror to take another event while it loads (a large stream takes as
   * long as it takes, as long as it advances). @default 30_000
   */
  readonly readyTimeoutMs?: number;
  /** How long a publish waits for JetStream to store it before it is refused `unavailable`. @default 5000 */
  readonly publishTimeoutMs?: number;
}

export const jetStreamHistoryDefaults = { stream: HISTORY_STREAM, replicas: 1, readyTimeoutMs: 30_000, publishTimeoutMs: 5000 } as const;

/** Which broker stored a message: its own are not checked or counted as cluster traffic again. */
export const NODE_HEADER = 'Eventwire-Node';

/** What the history hands to the broker (and to the engine: what it dropped). */
export interface JetStreamHistoryHost extends Omit<ClusterHistoryHost, 'memoryMaxBytes'> {
  /** A stored message that is not a valid event (skipped, not in the mirror). */
  dropped(error: EventwireError): void;
}

type Waiter = (notified: number) => void;

/** The mirror's consumer requests (retried after a reconnect). */
const MIRROR_API_TIMEOUT_MS = 3000;

/** JetStream's error codes: no such stream; JetStream off for the account. */
const STREAM_NOT_FOUND = 10059;
const JETSTREAM_NOT_ENABLED = 10039;

/** Delivered seqs whose publisher's ack had not come back yet (the consumer can be quicker than the ack). */
const RECENT_DELIVERIES = 4096;

/**
 * The cluster's history: reads come from the mirror; {@link share} stores,
 * and resolves once the event is in JetStream and the mirror here has
 * delivered it.
 */
export class JetStreamHistory extends MirroredHistory implements ClusterHistory, NatsClusterPart {
  readonly kind = 'jetstream';
  readonly #options: JetStreamHistoryOptions;
  readonly #rules: HistoryRules;
  readonly #node: string;
  readonly #host: JetStreamHistoryHost;
  readonly #encoder = new TextEncoder();
  readonly #subjects: string[];
  #nats: NatsModule | undefined;
  #js: JetStreamClient | undefined;
  #reader: StreamReader | undefined;
  /** Seqs at or below it were stored before this broker started: mirrored, not delivered. */
  #bootLastSeq = 0;
  #ready = false;
  #lastError: EventwireError | undefined;
  /** JetStream refused the history for good (off, a config it rejects). */
  #failure: EventwireError | undefined;
  #closed = false;
  readonly #waiters = new Map<number, Waiter>();
  readonly #recent = new Map<number, number>();
  /** The link's state: publishes wait for nothing while NATS is away. */
  #linkUp = false;

  constructor(options: JetStreamHistoryOptions, rules: HistoryRules, node: string, host: JetStreamHistoryHost) {
    super();
    this.#options = options;
    this.#rules = rules;
    this.#node = node;
    this.#host = host;
    this.#subjects = streamSubjects(rules.rules.map((rule) => rule.pattern));
  }

  get stream(): string {
    return this.#options.stream ?? jetStreamHistoryDefaults.stream;
  }

  /** True once the stream is found and the mirror holds what it held at start. */
  get ready(): boolean {
    return this.#ready;
  }

  /**
   * Binds to the cluster link's connection (on its first connect): finds or
   * creates the stream, then mirrors it. Retries while JetStream is
   * not ready (a NATS cluster electing its leader), until closed.
   */
  lost(): void {
    this.#linkUp = false;
  }

  async #attach(connection: NatsConnection): Promise<void> {
    this.#nats = await loadNats();
    const module = await loadJetStream();
    const { jetstream, jetstreamManager, JetStreamApiError } = module;
    let info: StreamInfo | undefined;
    let reader: StreamReader | undefined;
    for (let attempt = 0; !this.#closed && !connection.isClosed(); attempt++) {
      try {
        const manager = await jetstreamManager(connection, { timeout: 2000 });
        info = await this.#ensureStream(manager, (error) => error instanceof JetStreamApiError && error.code === STREAM_NOT_FOUND);
        this.#js = jetstream(connection, { timeout: this.#options.publishTimeoutMs ?? jetStreamHistoryDefaults.publishTimeoutMs });
        const { state } = info;
        const startSeq = state.messages > 0 ? state.first_seq : state.last_seq + 1;
        // The mirror before the reader: the reader's first messages may be taken before start() returns.
        this.mirror = new MemoryHistoryStore({
          epoch: await historyEpoch(info.config.name, info.created),
          ...(this.#options.mirrorMaxBytes !== undefined && { maxBytes: this.#options.mirrorMaxBytes }),
        });
        // What the stream no longer holds: a reader behind it is told of a gap.
        if (startSeq > 1) this.mirror.forgetThrough(startSeq - 1);
        this.#bootLastSeq = state.last_seq;
        reader = new StreamReader({
          module,
          js: jetstream(connection, { timeout: MIRROR_API_TIMEOUT_MS }),
          stream: this.stream,
          from: startSeq,
          take: (message) => this.#take(message),
          failed: (error) => this.#host.report(error),
        });
        await reader.start();
        if (this.#bootLastSeq < startSeq) this.#becomeReady();
        break;
      } catch (error) {
        this.#lastError = fromNatsError(error, 'unavailable');
        // JetStream answered, and said no (off on this server, a config it refuses): waiting will not help.
        // No responders on its API (nats.js: JetStreamNotEnabled) means the server runs without it.
        const off = (error as Error | undefined)?.name === 'JetStreamNotEnabled' || (error instanceof JetStreamApiError && error.code === JETSTREAM_NOT_ENABLED);
        if (off || (error instanceof JetStreamApiError && error.status !== 503)) {
          const hint = off ? ' (start nats-server with -js)' : '';
          return this.#fail(new EventwireError('unavailable', `History in JetStream refused: ${this.#lastError.message}${hint}`, { cause: error }));
        }
        if (attempt === 0) this.#host.log(`history: JetStream not ready (${this.#lastError.message}); retrying`);
        await delay(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
      }
    }
    if (!info || !reader) return;
    if (this.#closed) return void (await reader.close());
    this.#reader = reader;
    this.#host.log(`history: JetStream stream ${this.stream} (epoch ${this.epoch}), ${info.state.messages} events to mirror`);
  }

  /**
   * The link connected: find the stream and mirror it (first), or, back
   * after losing NATS, make the mirror's consumer again from where it was
   * (its server may be gone).
   */
  opened(connection: NatsConnection, first: boolean): void {
    this.#linkUp = true;
    if (!first) return void this.#reader?.restart();
    this.#attach(connection).catch((error: unknown) => this.#host.report(fromNatsError(error, 'unavailable')));
  }

  /**
   * Resolves once ready; rejects `unavailable` when `readyTimeoutMs` passes
   * with the mirror not advancing (the stream not found, or its load
   * stalled), or when JetStream refuses, saying why. A mirror still taking
   * events is waited for: a restart over a million stored events must not
   * fail for being slower than the bound meant for an unreachable NATS.
   */
  async whenReady(): Promise<void> {
    if (this.#ready) return;
    if (this.#failure) throw this.#failure;
    const timeoutMs = this.#options.readyTimeoutMs ?? jetStreamHistoryDefaults.readyTimeoutMs;
    await this.untilLoaded(timeoutMs, (seen) => {
      const why = this.#lastError ? `: ${this.#lastError.message}` : this.mirror.epoch ? ` (the mirror stalled at ${seen} of ${this.#bootLastSeq})` : ' (NATS not reachable?)';
      return new EventwireError('unavailable', `History in JetStream (stream ${this.stream}) not ready within ${timeoutMs} ms${why}`);
    });
  }

  /**
   * Stores an event in the stream, deduplicated by its id, and resolves once
   * the mirror here has taken and delivered it. Rejects `unavailable` when
   * JetStream cannot store it (NATS away, no quorum, timeout): nothing was
   * delivered then, and the publisher may send it again.
   */
  async share(envelope: EventEnvelope, except: string | undefined): Promise<SharedAppend> {
    if (this.#closed) throw new EventwireError('unavailable', 'The history is closed');
    if (!this.#ready || !this.#js || !this.#linkUp) {
      throw new EventwireError('unavailable', 'History is unavailable: this broker is not connected to JetStream', { retryAfterMs: 1000 });
    }
    const headers = this.#nats!.headers();
    headers.set(NODE_HEADER, this.#node);
    if (except !== undefined) headers.set(EXCEPT_HEADER, except);
    let ack;
    try {
      ack = await this.#js.publish(envelope.topic, this.#encoder.encode(JSON.stringify(envelope)), { msgID: envelope.id, headers });
    } catch (error) {
      throw new EventwireError('unavailable', `History could not store the event: ${fromNatsError(error, 'unavailable').message}`, { cause: error, retryAfterMs: 1000 });
    }
    if (ack.duplicate) {
      const stored = this.mirror.findById(envelope.id)?.envelope ?? { ...envelope, offset: formatOffset(this.epoch, ack.seq) };
      return { event: stored, notified: 0, duplicate: true };
    }
    const notified = await this.#delivered(ack.seq);
    return { event: { ...envelope, offset: formatOffset(this.epoch, ack.seq) }, notified, duplicate: false };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reader?.close();
    for (const waiter of this.#waiters.values()) waiter(0);
    this.#waiters.clear();
  }

  // ---------------------------------------------------------------------------

  async #ensureStream(manager: JetStreamManager, isNotFound: (error: unknown) => boolean): Promise<StreamInfo> {
    const wanted: Partial<StreamConfig> = {
      subjects: this.#subjects,
      num_replicas: this.#options.replicas ?? jetStreamHistoryDefaults.replicas,
      max_msgs_per_subject: Math.max(...this.#rules.rules.map((rule) => rule.maxEvents)),
      // Nanoseconds.
      max_age: Math.max(...this.#rules.rules.map((rule) => rule.maxAgeMs)) * 1_000_000,
      max_bytes: this.#options.maxBytes ?? -1,
      duplicate_window: 120_000 * 1_000_000,
    };
    let existing: StreamInfo | undefined;
    try {
      existing = await manager.streams.info(this.stream);
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (!existing) return manager.streams.add({ name: this.stream, storage: 'file' as StreamConfig['storage'], ...wanted });
    if (sameLimits(existing.config, wanted)) return existing;
    try {
      return await manager.streams.update(this.stream, wanted);
    } catch (error) {
      // A change JetStream refuses (replicas on an old server, say): keep the stream as it is, and say so.
      this.#host.log(`history: stream ${this.stream} kept as it is, the new limits were refused (${fromNatsError(error, 'internal').message})`);
      return existing;
    }
  }

  /** One stored message: into the mirror, then (if it is new since start) to local subscribers. */
  #take(message: JsMsg): void {
    const seq = message.seq;
    const live = seq > this.#bootLastSeq;
    const own = message.headers?.get(NODE_HEADER) === this.#node;
    let notified = 0;
    try {
      const raw = parseNatsJson(message.data, message.subject);
      const envelope = this.#host.accept(raw, own);
      const retention: HistoryRetention | undefined = this.#rules.retentionFor(envelope.topic);
      // A subject the rules no longer cover (the stream outlived a config change): not history here.
      if (retention) {
        const stored: EventEnvelope = { ...envelope, offset: formatOffset(this.epoch, seq) };
        this.mirror.restore(stored, seq, Number(message.timestampNanos / 1_000_000n), retention);
        if (live) notified = this.#host.deliver(stored, message.headers?.get(EXCEPT_HEADER) || undefined, own);
      }
    } catch (error) {
      this.#host.dropped(toEventwireError(error, 'internal'));
    }
    this.#settle(seq, notified, live);
    if (!this.#ready && (seq >= this.#bootLastSeq || message.info.pending === 0)) this.#becomeReady();
  }

  #settle(seq: number, notified: number, live: boolean): void {
    if (!live) return;
    const waiter = this.#waiters.get(seq);
    if (waiter) {
      this.#waiters.delete(seq);
      waiter(notified);
    } else {
      this.#recent.set(seq, notified);
      if (this.#recent.size > RECENT_DELIVERIES) this.#recent.delete(this.#recent.keys().next().value!);
    }
    // Seqs below this one that never came (deleted before the mirror reached them): nothing to deliver.
    // Acks come back in the order published, so the waiters are in seq order: stop at the first not passed.
    for (const [waiting, resolve] of this.#waiters) {
      if (waiting >= seq) break;
      this.#waiters.delete(waiting);
      resolve(0);
    }
  }

  #delivered(seq: number): Promise<number> {
    const early = this.#recent.get(seq);
    if (early !== undefined) {
      this.#recent.delete(seq);
      return Promise.resolve(early);
    }
    if (seq <= this.mirror.head) return Promise.resolve(0);
    return new Promise((resolve) => this.#waiters.set(seq, resolve));
  }

  #becomeReady(): void {
    this.#ready = true;
    for (const waiter of this.readyWaiters.splice(0)) waiter();
  }

  #fail(failure: EventwireError): void {
    this.#failure = failure;
    this.#host.report(failure);
    for (const waiter of this.readyWaiters.splice(0)) waiter(failure);
  }
}

function sameLimits(config: StreamConfig, wanted: Partial<StreamConfig>): boolean {
  return (Object.keys(wanted) as Array<keyof StreamConfig>).every((key) => JSON.stringify(config[key]) === JSON.stringify(wanted[key]));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
