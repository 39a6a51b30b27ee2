// History shared by every broker of a Kafka cluster, kept in ONE Kafka topic
// of one partition (issue #34). The Kafka design of jetstream-history.ts:
// one partition is one sequence (seq = Kafka offset + 1) and its epoch names
// the Kafka cluster, topic and partition, so an offset means the same on
// every broker and a client that reconnects to another broker resumes where
// it was. One topic and not one per rule for the reason one stream is one
// there: a client's `#` may span several rules, and a resume sends one
// position.
//
// The topic is read through the event-channel's own kafka:// transport and
// channel, not a reader of our own: `on(topic, …, { since: 'earliest' })` is
// the boot load (Kafka's log read back from its start) and then live, with
// the channel's seam (each offset once), the transport's reconnect (resume
// from the position; a new cluster id: an epoch gap, then the new log from
// its start) and its repeat filter (a produce sent again after a lost answer
// is written twice: dropped by event id). Its own transport, not the
// engine's: the engine's is noEcho, and the mirror must read what this
// broker shared too — history events reach local subscribers through the
// mirror only (core.ts drops the engine's copy), so replay and live are one
// ordered sequence, as with JetStream.
//
// Each record is an envelope on the topic named by `history.topic` whose data
// is `{ event, node, except? }`: the event as published, the broker that
// stored it, and the connection it is not for. History events are NOT also
// produced to their own Kafka topic (the engine does not forward them: the
// broker hands them to the history alone), so a plain Kafka consumer finds
// them in the history topic, in the cluster's order; and a plain producer's
// record on a history topic is neither stored nor delivered (Kafka has no
// cross-topic capture like JetStream's subjects).
import { EventChannel, EventwireError, toEventwireError, type EventEnvelope, type HistoryGap } from '@eventwire/event-channel';
import {
  KafkaTransport,
  MemoryHistoryStore,
  formatOffset,
  type HistoryRules,
  type KafkaTransportOptions,
} from '@eventwire/event-channel/protocol';
import type { SharedAppend } from '../../history/shared-store.js';
import type { ClusterHistory, ClusterHistoryHost } from '../cluster-engine.js';
import { MirroredHistory } from '../mirrored-history.js';

/** `cluster.kafka.history`: where a Kafka cluster keeps history. */
export interface KafkaClusterHistoryOptions {
  /**
   * The Kafka topic of the cluster's history, after the engine's prefix: one
   * per eventwire cluster on a Kafka cluster. It must have ONE partition (an
   * offset is one sequence): make it so (`kafka-topics --partitions 1`, or
   * the engine's `ensureTopic`); one of several is refused at start. One
   * segment of `[A-Za-z0-9_-]`.
   * @default '_eventwire_history'
   */
  readonly topic?: string;
  /**
   * Most bytes of events this broker's mirror holds in memory: past it the
   * oldest leave the mirror (Kafka still holds them) and readers behind them
   * are told of a gap. @default the broker's `historyMaxMemoryBytes`
   */
  readonly mirrorMaxBytes?: number;
  /** How long `listen()` waits for the mirror to load Kafka's log before it fails `unavailable`. @default 30_000 */
  readonly readyTimeoutMs?: number;
}

export const kafkaClusterHistoryDefaults = { topic: '_eventwire_history', readyTimeoutMs: 30_000 } as const;

/** What the history hands to the broker (and to the engine: what it dropped). */
export interface KafkaHistoryHost extends Omit<ClusterHistoryHost, 'memoryMaxBytes'> {
  /** A stored record that is not a valid event (skipped, not in the mirror). */
  dropped(error: EventwireError): void;
}

/** A record of the history topic: the event and who stored it. */
interface HistoryRecord {
  readonly event: unknown;
  readonly node?: unknown;
  readonly except?: unknown;
}

interface Waiter {
  readonly resolve: (append: SharedAppend) => void;
  readonly reject: (error: EventwireError) => void;
}

/** An event whose produce Kafka acknowledged and the mirror has not read: a bound, so a share() never hangs. */
const TAKE_TIMEOUT_MS = 30_000;

/** The mirror's data is the event one level down: room for a depth of MAX_PAYLOAD_DEPTH; the broker checks the event's own. */
const RECORD_MAX_DEPTH = 1000;

export class KafkaHistory extends MirroredHistory implements ClusterHistory {
  readonly kind = 'kafka';
  readonly #options: KafkaClusterHistoryOptions;
  readonly #rules: HistoryRules;
  readonly #node: string;
  readonly #host: KafkaHistoryHost;
  readonly #transport: KafkaTransport;
  readonly #channel: EventChannel;
  /** Seqs at or below it were in Kafka before this broker started: mirrored, not delivered. */
  #bootLast = 0;
  /** The next record taken follows a hole (retention dropped what the mirror had not read). */
  #holeBefore = true;
  #ready = false;
  #failure: EventwireError | undefined;
  #lastError: EventwireError | undefined;
  #open = false;
  #closed = false;
  readonly #waiters = new Map<string, Waiter>();

  constructor(
    transport: Omit<KafkaTransportOptions, 'history'>,
    options: KafkaClusterHistoryOptions,
    rules: HistoryRules,
    node: string,
    host: KafkaHistoryHost,
  ) {
    super();
    this.#options = options;
    this.#rules = rules;
    this.#node = node;
    this.#host = host;
    if (!/^[A-Za-z0-9_-]{1,200}$/.test(this.topic)) {
      throw new EventwireError('invalid_config', `cluster.kafka.history.topic must be one segment of [A-Za-z0-9_-], got ${JSON.stringify(this.topic).slice(0, 100)}`);
    }
    this.mirror = this.#newMirror('');
    this.#transport = new KafkaTransport({ ...transport, history: [this.topic] });
    this.#channel = new EventChannel({ transport: this.#transport, source: `urn:eventwire:broker:${node}`, payloadLimits: { maxDepth: RECORD_MAX_DEPTH } });
  }

  get topic(): string {
    return this.#options.topic ?? kafkaClusterHistoryDefaults.topic;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Starts loading: the engine calls it when it starts. */
  start(): void {
    this.#channel.onStatus((status) => {
      this.#open = status.state === 'open';
      if (status.state !== 'open' && 'error' in status && status.error) this.#lastError = status.error;
    });
    this.#channel.onGap((gap) => this.#gap(gap));
    this.#channel.onError((error) => {
      // A record no event could be made of (kafka-record.ts): counted and skipped, like any dropped message.
      if (error.code === 'invalid_envelope' || error.code === 'invalid_payload') return this.#host.dropped(error);
      this.#lastError = error;
      this.#host.report(new EventwireError(error.code, `history: Kafka topic ${this.topic}: ${error.message}`, { cause: error }));
    });
    void this.#load();
  }

  async #load(): Promise<void> {
    // The last record before this broker: what it mirrors without delivering. Retried until Kafka answers.
    for (let attempt = 0; !this.#closed; attempt++) {
      try {
        const page = await this.#transport.readHistory(this.topic, { last: 1, limit: 1 });
        if (page.gap === 'no_history') return this.#fail(this.#severalPartitions());
        const last = page.events.at(-1) as { offset?: unknown } | undefined;
        this.#bootLast = seqOf(typeof last?.offset === 'string' ? last.offset : undefined) ?? 0;
        break;
      } catch (error) {
        this.#lastError = toEventwireError(error, 'unavailable');
        if (attempt === 0) this.#host.log(`history: Kafka not ready (${this.#lastError.message}); retrying`);
        await delay(Math.min(2000, 100 * 2 ** Math.min(attempt, 4)));
      }
    }
    if (this.#closed) return;
    const subscription = this.#channel.on(this.topic, (data, event) => this.#take(data as HistoryRecord, event), { since: 'earliest' });
    try {
      await subscription.ready;
    } catch (error) {
      if (!this.#closed) this.#fail(new EventwireError('unavailable', `History in Kafka could not be read: ${toEventwireError(error).message}`, { cause: error }));
      return;
    }
    if (this.#failure || this.#closed) return;
    this.#host.log(`history: Kafka topic ${this.topic} (epoch ${this.epoch || 'none yet'}), ${this.mirror.head} mirrored`);
    this.#ready = true;
    for (const waiter of this.readyWaiters.splice(0)) waiter();
  }

  async whenReady(): Promise<void> {
    if (this.#ready) return;
    if (this.#failure) throw this.#failure;
    const timeoutMs = this.#options.readyTimeoutMs ?? kafkaClusterHistoryDefaults.readyTimeoutMs;
    await this.untilLoaded(timeoutMs, (seen) => {
      const why = this.#lastError ? `: ${this.#lastError.message}` : ` (the mirror stalled at ${seen} of ${this.#bootLast})`;
      return new EventwireError('unavailable', `History in Kafka (topic ${this.topic}) not ready within ${timeoutMs} ms${why}`);
    });
  }

  /**
   * Produces the event to the history topic (acks -1: the ack point) and
   * resolves once the mirror here has read it back and delivered it. Rejects
   * `unavailable` when Kafka cannot take it (away, not loaded yet): nothing
   * was delivered then, and the publisher may send it again.
   */
  async share(envelope: EventEnvelope, except: string | undefined): Promise<SharedAppend> {
    if (this.#closed) throw new EventwireError('unavailable', 'The history is closed');
    if (!this.#ready || !this.#open) {
      throw new EventwireError('unavailable', 'History is unavailable: this broker is not connected to Kafka', { retryAfterMs: 1000 });
    }
    const stored = this.mirror.findById(envelope.id);
    if (stored) return { event: stored.envelope, notified: 0, duplicate: true };
    const record: EventEnvelope = {
      id: envelope.id,
      topic: this.topic,
      source: envelope.source,
      time: envelope.time,
      data: { event: envelope, node: this.#node, ...(except !== undefined && { except }) },
    };
    const taken = new Promise<SharedAppend>((resolve, reject) => this.#waiters.set(envelope.id, { resolve, reject }));
    taken.catch(() => {});
    try {
      await this.#transport.publish(record, { ack: true });
    } catch (error) {
      this.#waiters.delete(envelope.id);
      throw new EventwireError('unavailable', `History could not store the event: ${toEventwireError(error, 'unavailable').message}`, { cause: error, retryAfterMs: 1000 });
    }
    const timer = setTimeout(() => this.#settle(envelope.id, undefined, new EventwireError('timeout', `History: Kafka took event ${envelope.id} but this broker did not read it back within ${TAKE_TIMEOUT_MS} ms`)), TAKE_TIMEOUT_MS);
    timer.unref();
    return taken.finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new EventwireError('unavailable', 'The history is closed');
    for (const id of [...this.#waiters.keys()]) this.#settle(id, undefined, closed);
    for (const waiter of this.readyWaiters.splice(0)) waiter(closed);
    await this.#channel.close();
  }

  // ---------------------------------------------------------------------------

  /** One record of the history topic, in Kafka's order: into the mirror, then (if new since start) to local subscribers. */
  #take(record: HistoryRecord, wrapper: EventEnvelope): void {
    const offset = parseOffsetOf(wrapper.offset);
    if (!offset) return;
    const { epoch, seq } = offset;
    if (epoch !== this.mirror.epoch) {
      // Another Kafka cluster at the same addresses (a new log): the mirror starts over, and a client's offset from the old one is an epoch gap.
      if (this.mirror.epoch !== '') this.#restart(epoch);
      else this.mirror = this.#newMirror(epoch);
    }
    if (seq <= this.mirror.head) return;
    // What Kafka's retention dropped before the mirror read it: readers behind it are told of a gap.
    if (this.#holeBefore && seq > 1) this.mirror.forgetThrough(seq - 1);
    this.#holeBefore = false;
    const live = seq > this.#bootLast;
    const own = record?.node === this.#node;
    const except = typeof record?.except === 'string' ? record.except : undefined;
    let notified = 0;
    let stored: EventEnvelope | undefined;
    try {
      const envelope = this.#host.accept(record?.event, own);
      const retention = this.#rules.retentionFor(envelope.topic);
      // A topic the rules no longer cover (the log outlived a config change), or a copy written twice: not stored again.
      if (retention && !this.mirror.findById(envelope.id)) {
        stored = { ...envelope, offset: formatOffset(epoch, seq) };
        this.mirror.restore(stored, seq, Date.parse(envelope.time) || Date.now(), retention);
        if (live) notified = this.#host.deliver(stored, except, own);
      }
      this.#settle(envelope.id, stored && { event: stored, notified, duplicate: false });
    } catch (error) {
      this.#host.dropped(toEventwireError(error, 'internal'));
    }
  }

  /** A waiting share() of this id: resolved with what the mirror did, or refused. */
  #settle(id: string, append: SharedAppend | undefined, failure?: EventwireError): void {
    const waiter = this.#waiters.get(id);
    if (!waiter) return;
    this.#waiters.delete(id);
    if (failure) return waiter.reject(failure);
    if (append) return waiter.resolve(append);
    // Stored already (a copy written twice, or sent through another broker meanwhile): a duplicate, as JetStream answers.
    const existing = this.mirror.findById(id);
    if (existing) waiter.resolve({ event: existing.envelope, notified: 0, duplicate: true });
    else waiter.reject(new EventwireError('internal', `History: event ${id} was read back but not stored (its topic has no history rule here)`));
  }

  #gap(gap: HistoryGap): void {
    if (gap.pattern !== this.topic) return;
    if (gap.reason === 'no_history') return this.#fail(this.#severalPartitions());
    // trimmed: the position fell behind retention (a long outage); epoch: a new cluster (handled at its first record).
    this.#holeBefore = true;
    this.#host.log(`history: Kafka topic ${this.topic}: ${gap.reason} gap in the log the mirror reads`);
  }

  #restart(epoch: string): void {
    this.#host.log(`history: Kafka topic ${this.topic} is a new log (epoch ${this.mirror.epoch} -> ${epoch}); the mirror starts over`);
    this.mirror = this.#newMirror(epoch);
    this.#bootLast = 0;
    this.#holeBefore = true;
    // Acknowledged by the cluster that is gone: the publisher is told, and may send it again.
    const lost = new EventwireError('unavailable', 'History: the Kafka cluster was replaced before this event was read back', { retryAfterMs: 1000 });
    for (const id of [...this.#waiters.keys()]) this.#settle(id, undefined, lost);
  }

  #newMirror(epoch: string): MemoryHistoryStore {
    return new MemoryHistoryStore({ epoch, ...(this.#options.mirrorMaxBytes !== undefined && { maxBytes: this.#options.mirrorMaxBytes }) });
  }

  #severalPartitions(): EventwireError {
    return new EventwireError(
      'unavailable',
      `History in Kafka needs its topic ${this.topic} to have ONE partition (an offset is one sequence); make it with one partition, or name another (cluster.kafka.history.topic)`,
    );
  }

  #fail(failure: EventwireError): void {
    if (this.#failure) return;
    this.#failure = failure;
    this.#host.report(failure);
    for (const waiter of this.readyWaiters.splice(0)) waiter(failure);
  }
}

/** `<epoch>:<seq>` of a record read through kafka:// (kafka-history.ts stamps it), or undefined. */
function parseOffsetOf(offset: string | undefined): { epoch: string; seq: number } | undefined {
  const colon = offset?.lastIndexOf(':') ?? -1;
  if (!offset || colon <= 0) return undefined;
  const seq = Number(offset.slice(colon + 1));
  return Number.isSafeInteger(seq) && seq > 0 ? { epoch: offset.slice(0, colon), seq } : undefined;
}

function seqOf(offset: string | undefined): number | undefined {
  return parseOffsetOf(offset)?.seq;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
