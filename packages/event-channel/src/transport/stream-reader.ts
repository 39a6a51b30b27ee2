// Reading the history stream in order, for as long as it is wanted: one
// ordered consumer (on one subject, or the whole stream), restarted from
// where it was whenever the NATS connection comes back. nats.js's ordered
// consumer recovers from many things by itself, but not from its server
// dying under it: it was seen waiting for ever after the client reconnected
// to another server (no pull, no heartbeat, no notice), and acknowledged
// publishes waited on a mirror whose consumer sat on the dead server while
// the broker's own connection stayed up. So a reader is made again after
// every reconnect and on missed heartbeats. Both the nats:// transport and a
// broker's history mirror read through this.
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { EventwireError } from '../errors.js';
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
  async start(): Promise<void> {
    const { module, js, stream, subject } = this.#options;
    const fresh = this.#options.from === 'new' && this.#cursor === 0;
    const consumer = await js.consumers.get(stream, {
      ...(subject !== undefined && { filter_subjects: subject }),
      ...(fresh ? { deliver_policy: module.DeliverPolicy.New } : { deliver_policy: module.DeliverPolicy.StartSequence, opt_start_seq: this.#cursor + 1 }),
    });
    const messages = await consumer.consume(streamConsumeOptions);
    if (this.#closed) return void (await messages.close().catch(() => {}));
    // 'new': what was stored before the consumer counts as taken.
    if (fresh) this.#cursor = Math.max(this.#cursor, (await consumer.info(true)).delivered.stream_seq);
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
   * After a reconnect: a fresh consumer from the cursor on (the old one may
   * sit on a server that is gone). Retried with backoff until it is made (a
   * NATS cluster that lost a server may be electing JetStream leaders), or
   * until closed or restarted again; the first failure is reported.
   */
  async restart(): Promise<void> {
    if (this.#closed) return;
    const generation = ++this.#generation;
    const old = this.#messages;
    this.#messages = undefined;
    void old?.close().catch(() => {});
    for (let attempt = 0; !this.#closed && generation === this.#generation; attempt++) {
      try {
        await this.start();
        return;
      } catch (error) {
        if (attempt === 0) this.#options.failed(fromNatsError(error, 'unavailable'));
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt)));
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#messages?.close().catch(() => {});
  }

  async #read(messages: ConsumerMessages): Promise<void> {
    try {
      for await (const message of messages) {
        // An old consumer still delivering after a restart: its seqs were taken already.
        if (message.seq <= this.#cursor) continue;
        this.#cursor = message.seq;
        this.#options.take(message);
      }
    } catch (error) {
      if (!this.#closed && this.#messages === messages) this.#options.failed(fromNatsError(error, 'unavailable'));
    }
  }
}
