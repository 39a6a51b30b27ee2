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
  /**
   * Told of each failed attempt that will be retried (the URL, the HTTP
   * status if one came, the cause, which retry comes and when), so an
   * operator sees a webhook struggling before it gives up.
   * @default none
   */
  readonly onRetry?: (retry: WebhookRetry) => void;
}

/** A failed webhook attempt that will be retried. */
export interface WebhookRetry {
  /** The webhook's URL as shown in logs (no credentials, no query). */
  readonly url: string;
  /** The HTTP status that failed the attempt; absent for network errors and timeouts. */
  readonly status?: number;
  /** Why the attempt failed: its code, message and cause. */
  readonly error: EventwireError;
  /** The retry that comes next: 1 for the first. */
  readonly retry: number;
  /** How many retries there are in all. */
  readonly retries: number;
  /** The wait before that retry. */
  readonly inMs: number;
}

/** `url` without credentials or query (either may hold a secret), as logs and hook names show it. */
export function shownWebhookUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

/** One log line for a retry: `webhook https://h/p answered 503 (connection_closed); retry 1/5 in 500 ms`. */
export function describeWebhookRetry(retry: WebhookRetry): string {
  const what = retry.status === undefined ? `failed (${retry.error.code}: ${causeText(retry.error)})` : `answered ${retry.status} (${retry.error.code})`;
  return `webhook ${retry.url} ${what}; retry ${retry.retry}/${retry.retries} in ${Math.round(retry.inMs)} ms`;
}

/** The message an operator needs: fetch's own is "fetch failed", the reason is its cause's. */
export function causeText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) return cause.cause instanceof Error ? `${cause.message}: ${cause.cause.message}` : cause.message;
  return error.message;
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
  const shownUrl = shownWebhookUrl(options.url);
  return async function notify(event) {
    const body = JSON.stringify(toCloudEvent(event));
    for (let attempt = 0; ; attempt++) {
      let failure: EventwireError;
      let status: number | undefined;
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json', ...options.headers },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.arrayBuffer(); // release the connection
        if (response.ok) return;
        status = response.status;
        failure = new EventwireError(
          response.status === 429 ? 'rate_limited' : 'connection_closed',
          `Webhook ${shownUrl} answered ${response.status}${attempt > 0 ? ` (after ${attempt} retries)` : ''}`,
        );
        if (!isTransient(response.status)) throw failure;
      } catch (error) {
        if (error instanceof EventwireError) throw error;
        failure = new EventwireError('connection_closed', `Webhook ${shownUrl} failed: ${causeText(error)}${attempt > 0 ? ` (after ${attempt} retries)` : ''}`, {
          cause: error,
        });
      }
      if (attempt >= retries) throw failure;
      const inMs = backoff(attempt + 1);
      options.onRetry?.({ url: shownUrl, ...(status !== undefined && { status }), error: failure, retry: attempt + 1, retries, inMs });
      await new Promise((resolve) => setTimeout(resolve, inMs));
    }
  };
}

function isTransient(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}
