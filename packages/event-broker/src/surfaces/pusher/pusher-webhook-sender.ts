// One Pusher webhook of one app: its events wait in a bounded queue, leave
// in batches (Pusher's window: 250 ms or 20 events) as one signed POST, and a
// batch that fails (network, timeout, any non-2xx: Pusher retries those too)
// is tried again with backoff until its time budget runs out. One request at
// a time per webhook, so a receiver sees batches in the order they formed; a
// receiver that is down fills only this queue, whose oldest events go first
// (counted), never anything on the path to clients.
import { createHmac } from 'node:crypto';
import { EventwireError, fullJitterBackoff } from '@eventwire/event-channel';
import type { BrokerLogRecord } from '../../log-record.js';
import { causeText, shownWebhookUrl } from '../../observers/webhook.js';

/** One event inside a webhook's `events` (Pusher's names and fields). */
export interface PusherWebhookEvent {
  readonly name: PusherWebhookEventType;
  readonly channel: string;
  readonly user_id?: string;
  readonly event?: string;
  readonly data?: string;
  readonly socket_id?: string;
}

/** The events a Pusher webhook may ask for. */
export const pusherWebhookEventTypes = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'] as const;
export type PusherWebhookEventType = (typeof pusherWebhookEventTypes)[number];

/** How one webhook delivers (every field has its default in {@link pusherWebhookDefaults}). */
export interface PusherWebhookDelivery {
  readonly batchMs: number;
  readonly maxBatch: number;
  readonly maxQueued: number;
  readonly timeoutMs: number;
  readonly retryForMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxDelayMs: number;
}

/** One webhook's counters (`/stats` `pusherWebhooks`, `/metrics` `eventwire_pusher_webhook_*`). */
export interface PusherWebhookStats {
  /** The app's id. */
  readonly app: string;
  /** The URL as logs show it (no credentials, no query). */
  readonly url: string;
  /** Events a receiver acknowledged (2xx). */
  readonly sent: number;
  /** Events given up on: their batch still failed when its retry time ran out (or the broker stopped). */
  readonly failed: number;
  /** Requests made again after a failure. */
  readonly retried: number;
  /** Events dropped from a full queue, oldest first. */
  readonly dropped: number;
  /** Events waiting now (the batch in flight included). */
  readonly queued: number;
}

export interface PusherWebhookTarget {
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export class PusherWebhookSender {
  readonly #target: PusherWebhookTarget;
  readonly #app: { readonly id: string; readonly key: string; readonly secret: string };
  readonly #delivery: PusherWebhookDelivery;
  readonly #log: (record: BrokerLogRecord) => void;
  readonly #shownUrl: string;
  readonly #backoff: (attempt: number) => number;
  readonly #queue: PusherWebhookEvent[] = [];
  /** Events of the batch being sent (still counted as queued). */
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #sending: Promise<void> | undefined;
  #closed = false;
  /** Cuts a retry's wait short when the broker stops. */
  readonly #stop = new AbortController();
  #sent = 0;
  #failed = 0;
  #retried = 0;
  #dropped = 0;

  constructor(
    target: PusherWebhookTarget,
    app: { readonly id: string; readonly key: string; readonly secret: string },
    delivery: PusherWebhookDelivery,
    log: (record: BrokerLogRecord) => void,
  ) {
    this.#target = target;
    this.#app = app;
    this.#delivery = delivery;
    this.#log = log;
    this.#shownUrl = shownWebhookUrl(target.url);
    this.#backoff = fullJitterBackoff({ baseMs: delivery.retryBaseMs, capMs: delivery.retryMaxDelayMs });
  }

  /** Queues one event; never waits. */
  add(event: PusherWebhookEvent): void {
    if (this.#closed) return;
    this.#queue.push(event);
    if (this.#queue.length + this.#inFlight > this.#delivery.maxQueued) {
      this.#queue.shift();
      this.#dropped++;
    }
    if (this.#sending) return;
    if (this.#queue.length >= this.#delivery.maxBatch) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.#delivery.batchMs);
  }

  stats(): PusherWebhookStats {
    return {
      app: this.#app.id,
      url: this.#shownUrl,
      sent: this.#sent,
      failed: this.#failed,
      retried: this.#retried,
      dropped: this.#dropped,
      queued: this.#queue.length + this.#inFlight,
    };
  }

  /**
   * Stops: a request under way finishes (within its timeout), what is queued
   * gets one attempt each (no retries), a batch waiting to be retried gets
   * none more; then nothing is sent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#stop.abort();
    await this.#sending;
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#delivery.maxBatch);
      this.#inFlight = batch.length;
      const failure = await this.#attempt(this.#body(batch), AbortSignal.timeout(this.#delivery.timeoutMs));
      if (failure) this.#failed += batch.length;
      else this.#sent += batch.length;
      this.#inFlight = 0;
    }
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#sending || this.#closed || this.#queue.length === 0) return;
    const batch = this.#queue.splice(0, this.#delivery.maxBatch);
    this.#inFlight = batch.length;
    this.#sending = this.#deliver(batch).finally(() => {
      this.#inFlight = 0;
      this.#sending = undefined;
      // What came meanwhile: a full batch goes now, a partial one after its window.
      if (this.#queue.length >= this.#delivery.maxBatch) this.#flush();
      else if (this.#queue.length > 0 && !this.#closed) this.#timer ??= setTimeout(() => this.#flush(), this.#delivery.batchMs);
    });
  }

  /** `{ time_ms, events }` serialized once: the signature is over exactly these bytes. */
  #body(batch: readonly PusherWebhookEvent[]): string {
    return JSON.stringify({ time_ms: Date.now(), events: batch });
  }

  async #deliver(batch: readonly PusherWebhookEvent[]): Promise<void> {
    // time_ms says when the batch formed, not when an attempt left: a receiver sees how late a retry is.
    const body = this.#body(batch);
    const started = Date.now();
    for (let retry = 1; ; retry++) {
      // A request under way is let finish (within its timeout) when the broker stops; only a retry's wait is cut.
      const failure = await this.#attempt(body, AbortSignal.timeout(this.#delivery.timeoutMs));
      if (!failure) {
        this.#sent += batch.length;
        return;
      }
      const inMs = this.#backoff(retry);
      if (this.#closed || Date.now() + inMs - started > this.#delivery.retryForMs) {
        this.#failed += batch.length;
        this.#log({
          level: 'error',
          msg: `pusher webhook ${this.#shownUrl} (app ${this.#app.id}) ${describe(failure)}; gave up after ${retry - 1} retries, ${batch.length} event${batch.length === 1 ? '' : 's'} lost`,
          code: failure.error.code,
          url: this.#shownUrl,
          ...(failure.status !== undefined && { status: failure.status }),
        });
        return;
      }
      this.#log({
        level: 'warn',
        msg: `pusher webhook ${this.#shownUrl} (app ${this.#app.id}) ${describe(failure)}; retry ${retry} in ${Math.round(inMs)} ms`,
        code: failure.error.code,
        url: this.#shownUrl,
        retry,
        ...(failure.status !== undefined && { status: failure.status }),
      });
      const waited = await wait(inMs, this.#stop.signal);
      if (!waited) {
        this.#failed += batch.length;
        return;
      }
      this.#retried++;
    }
  }

  /** One POST; undefined when the receiver answered 2xx, else why not. */
  async #attempt(body: string, signal: AbortSignal): Promise<Failure | undefined> {
    let response: Response;
    try {
      response = await fetch(this.#target.url, {
        method: 'POST',
        // A plain object keeps the header names' case on the wire (PHP reads
        // `X-Pusher-Signature` exactly so); the content type is exactly
        // `application/json`, which pusher-http-node's isValid() compares strictly.
        headers: {
          ...this.#target.headers,
          'Content-Type': 'application/json',
          'X-Pusher-Key': this.#app.key,
          'X-Pusher-Signature': createHmac('sha256', this.#app.secret).update(body).digest('hex'),
        },
        body,
        signal,
      });
      await response.arrayBuffer(); // release the connection
    } catch (error) {
      return { error: new EventwireError('connection_closed', `Webhook ${this.#shownUrl} failed: ${causeText(error)}`, { cause: error }) };
    }
    if (response.ok) return undefined;
    return {
      status: response.status,
      error: new EventwireError(response.status === 429 ? 'rate_limited' : 'connection_closed', `Webhook ${this.#shownUrl} answered ${response.status}`),
    };
  }
}

/** A failed attempt: the HTTP status when one came. */
interface Failure {
  readonly error: EventwireError;
  readonly status?: number;
}

function describe(failure: Failure): string {
  return failure.status === undefined ? `failed (${failure.error.code}: ${causeText(failure.error)})` : `answered ${failure.status}`;
}

/** Resolves true after `ms`, false at once when `signal` aborts first. */
function wait(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', stop);
      resolve(true);
    }, ms);
    const stop = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener('abort', stop, { once: true });
  });
}
