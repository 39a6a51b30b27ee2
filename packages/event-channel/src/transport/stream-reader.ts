// Reading the history stream in order, for as long as it is wanted: one
// ordered consumer (on one subject, or the whole stream), restarted from
// where it was whenever the NATS connection comes back. nats.js's ordered
// consumer recovers from many things by itself, but not from its server
// dying under it: it was seen waiting for ever after the client reconnected
// to another server (no pull, no heartbeat, no notice), and acknowledged
// publishes waited on a mirror whose consumer sat on the dead server while
// the broker's own connection stayed up. So a reader is made again after
// every reconnect and on missed heartbeats, and whenever the library ends
// its messages by itself (it gives up on a consumer it cannot make again):
// a reader stops only when closed, so a subscription is never left without
// one. Both the nats:// transport and a broker's history mirror read
// through this.
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { EventwireError } from '../errors.js';
import { fromNatsError } from './nats-client.js';
import { streamConsumeOptions, type JetStreamModule } from './nats-history.js';

export interface StreamReaderOptions {
  readonly module: JetStreamModule;
  readonly js: JetStreamClient;
  readonly stream: string;
  /** Only this subject (`undefined`: the whole stream). */
  readonly subject?: string | undefined;
  /** Deliver from this seq on; `'new'`: what is stored from now on. */
  readonly from: number | 'new';
  /** Each stored message once, in stream order. */
  readonly take: (message: JsMsg) => void;
  /** The consumer failed, or a restart's first attempt did (it goes on retrying). */
  readonly failed: (error: EventwireError) => void;
}

/**
 * Delay before retry n (1-based) of a failed (re)start: 125–250 ms, then
 * doubling to 500–1000 ms and no more. Kept short because an attempt costs
 * its requests' time anyway — one whose consumer the JetStream meta leader
 * places on a server that just died (it does, for a while after a hard
 * kill) waits out the request timeout — so the reader asks about once per
 * 1–4 s until the cluster answers. The longer cap (5 s) it had added up to
 * 8 s per failed attempt, and a reader came back more than 30 s after a
 * cluster that could serve it again after 9. Never 0: an attempt refused at
 * once ('stream not found' while leaders are elected) is no busy loop.
 */
export function streamRetryDelay(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(1000, 250 * 2 ** Math.max(0, attempt - 1));
  return Math.ceil(ceiling / 2 + (random() * ceiling) / 2);
}

export class StreamReader {
  readonly #options: StreamReaderOptions;
  /** The last seq taken (or skipped past): a restart resumes after it. */
  #cursor = 0;
  #messages: ConsumerMessages | undefined;
  #closed = false;
  /** Bumped by each restart: an older restart's retries stop. */
  #generation = 0;

  constructor(options: StreamReaderOptions) {
    this.#options = options;
    if (options.from !== 'new') this.#cursor = options.from - 1;
  }

  /** The last seq taken. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Creates the consumer; resolves once it is on the server (so what is stored next is delivered). */
  start(): Promise<void> {
    return this.#begin(this.#generation);
  }

  /**
   * One attempt at a consumer for `generation`. It becomes the reader only
   * if no newer restart began while it was being made: a late one (its
   * requests answered after a newer attempt's) is closed, or two consumers
   * would run and the older would stay open, unwatched, for ever.
   */
  async #begin(generation: number): Promise<void> {
    const { module, js, stream, subject } = this.#options;
    const fresh = this.#options.from === 'new' && this.#cursor === 0;
    const consumer = await js.consumers.get(stream, {
      ...(subject !== undefined && { filter_subjects: subject }),
      ...(fresh ? { deliver_policy: module.DeliverPolicy.New } : { deliver_policy: module.DeliverPolicy.StartSequence, opt_start_seq: this.#cursor + 1 }),
    });
    const messages = await consumer.consume(streamConsumeOptions);
    // 'new': what was stored before the consumer counts as taken (the info is the create's answer, no request).
    const before = fresh ? (await consumer.info(true)).delivered.stream_seq : 0;
    if (this.#closed || generation !== this.#generation) return discard(messages);
    this.#cursor = Math.max(this.#cursor, before);
    this.#messages = messages;
    void this.#read(messages);
    void this.#watch(messages);
  }

  /**
   * The consumer's server may die while this connection stays up (an
   * ordered consumer lives on one server, not necessarily ours): missed
   * heartbeats or a consumer the server no longer has mean a restart.
   */
  async #watch(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      if (this.#closed || this.#messages !== messages) return;
      const lost =
        (status.type === 'heartbeats_missed' && status.count >= 2) || status.type === 'consumer_not_found' || status.type === 'consumer_deleted' || status.type === 'no_responders';
      if (lost) return void this.restart();
    }
  }

  /**
   * After a reconnect, or when the consumer is lost or ended: a fresh
   * consumer from the cursor on (the old one may sit on a server that is
   * gone). Retried after {@link streamRetryDelay} until it is made (a NATS
   * cluster that lost a server may be electing JetStream leaders, or placing
   * consumers on the dead server for a while), or until closed or restarted
   * again; the first failure is reported. It never gives up: the stream
   * keeps what is stored meanwhile, and the reader delivers it once it reads
   * again.
   */
  async restart(): Promise<void> {
    if (this.#closed) return;
    const generation = ++this.#generation;
    const old = this.#messages;
    this.#messages = undefined;
    void old?.close().catch(() => {});
    for (let attempt = 1; !this.#closed && generation === this.#generation; attempt++) {
      try {
        await this.#begin(generation);
        return;
      } catch (error) {
        if (attempt === 1 && !this.#closed && generation === this.#generation) this.#options.failed(fromNatsError(error, 'unavailable'));
        await new Promise((resolve) => setTimeout(resolve, streamRetryDelay(attempt)));
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#messages?.close().catch(() => {});
  }

  /**
   * Takes what the consumer delivers. Its messages end only when this
   * reader closes them, or when the library gives up on the consumer (it
   * stops after 30 failed re-creations, on a bad request, a lost
   * subscription): then the end is reported and a reader is made again
   * from the cursor, never left ended.
   */
  async #read(messages: ConsumerMessages): Promise<void> {
    let ended: EventwireError | undefined;
    try {
      for await (const message of messages) {
        // An old consumer still delivering after a restart: its seqs were taken already.
        if (message.seq <= this.#cursor) continue;
        this.#cursor = message.seq;
        this.#options.take(message);
      }
    } catch (error) {
      ended = fromNatsError(error, 'unavailable');
    }
    if (this.#closed || this.#messages !== messages) return;
    this.#options.failed(ended ?? new EventwireError('unavailable', `The history stream's consumer on "${this.#options.subject ?? this.#options.stream}" ended; reading again from after seq ${this.#cursor}`));
    void this.restart();
  }
}

/**
 * Closes messages nobody reads: nats.js queues the end of its iterator, so
 * close() settles only once they are iterated (awaiting it alone waited for
 * ever, and the late consumer's subscription stayed). Read through to the end.
 */
function discard(messages: ConsumerMessages): void {
  void messages.close().catch(() => {});
  void (async () => {
    for await (const _ of messages) void _;
  })().catch(() => {});
}
