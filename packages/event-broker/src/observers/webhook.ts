import {
  EventwireError,
  fullJitterBackoff,
  toCloudEvent,
  type EventEnvelope,
} from '@eventwire/event-channel';

/** Options of {@link createWebhookNotifier}. */
export interface WebhookOptions {
  /** Where to POST each event. */
  readonly url: string;
  /** Extra request headers (e.g. an authorization token). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Attempts after the first failure. Retried: network errors, timeouts, 408,
   * 429 and 5xx. Other statuses are final.
   * @default 5
   */
  readonly retries?: number;
  /**
   * Delay before retry n. @default fullJitterBackoff({ baseMs: 500, capMs: 30_000 })
   */
  readonly backoff?: (attempt: number) => number;
  /**
   * Time limit of one request.
   * @default 5000
   */
  readonly timeoutMs?: number;
}

/**
 * An observer that POSTs each event as a CloudEvent (structured JSON,
 * `application/cloudevents+json`), retrying transient failures with backoff.
 * Register it with `broker.observe(pattern, notifier, { queueSize })`: the
 * observer queue bounds how far it may fall behind, and a failure after the
 * last retry is counted on the hook and reported, never thrown at publishers.
 */
export function createWebhookNotifier(options: WebhookOptions): (event: EventEnvelope) => Promise<void> {
  const retries = options.retries ?? 5;
  const backoff = options.backoff ?? fullJitterBackoff({ baseMs: 500, capMs: 30_000 });
  const timeoutMs = options.timeoutMs ?? 5000;
  return async function notify(event) {
    const body = JSON.stringify(toCloudEvent(event));
    for (let attempt = 0; ; attempt++) {
      let failure: EventwireError;
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json', ...options.headers },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.arrayBuffer(); // release the connection
        if (response.ok) return;
        failure = new EventwireError(
          response.status === 429 ? 'rate_limited' : 'connection_closed',
          `Webhook ${options.url} answered ${response.status}`,
        );
        if (!isTransient(response.status)) throw failure;
      } catch (error) {
        if (error instanceof EventwireError) throw error;
        failure = new EventwireError('connection_closed', `Webhook ${options.url} failed: ${String(error)}`, {
          cause: error,
        });
      }
      if (attempt >= retries) throw failure;
      await new Promise((resolve) => setTimeout(resolve, backoff(attempt + 1)));
    }
  };
}

function isTransient(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
