// Credentials asked of the application: one request at a time, and when to
// ask again before the broker's copy expires.
import { EventwireError, toEventwireError } from '../errors.js';

/** Asks the application for a token (`getToken`). */
export type GetToken = () => string | Promise<string>;

/**
 * Wraps the application's `getToken`: callers that ask while a request is in
 * flight share its answer (a refresh timer and a reconnect's hello never ask
 * twice at once), and an answer that does not come within `timeoutMs` is
 * abandoned, so one hung request cannot block every later connect.
 */
export class TokenSource {
  readonly #getToken: GetToken;
  readonly #timeoutMs: number;
  #inFlight: Promise<string> | undefined;
  /** How many times `getToken` was called (for status and tests). */
  asked = 0;

  constructor(getToken: GetToken, timeoutMs: number) {
    this.#getToken = getToken;
    this.#timeoutMs = timeoutMs;
  }

  /** A fresh token: the one being fetched now, or a new request. */
  fetch(): Promise<string> {
    if (this.#inFlight) return this.#inFlight;
    this.asked++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const request = Promise.race([
      Promise.resolve().then(this.#getToken),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new EventwireError('timeout', `getToken did not answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      }),
    ])
      .then((token) => {
        if (typeof token !== 'string' || token === '') throw new EventwireError('unauthorized', 'getToken returned no token');
        return token;
      })
      .catch((error: unknown) => {
        throw toEventwireError(error, 'unauthorized');
      })
      .finally(() => {
        clearTimeout(timer);
        if (this.#inFlight === request) this.#inFlight = undefined;
      });
    this.#inFlight = request;
    return request;
  }
}

/**
 * When to refresh credentials valid for `remainingMs` more: at 80% of their
 * remaining life, but never more than 30 s ahead of expiry (so an hour-long
 * token is refreshed after 59.5 minutes, a 10 s one after 8 s).
 */
export function refreshDelayMs(remainingMs: number): number {
  if (!(remainingMs > 0)) return 0;
  return remainingMs - Math.min(remainingMs * 0.2, 30_000);
}
