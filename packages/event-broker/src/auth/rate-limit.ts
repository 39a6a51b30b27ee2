// Token buckets: a steady rate with room for bursts, per connection or per IP.
import { EventwireError } from '@eventwire/event-channel';

/** A rate: `perSecond` on average, up to `burst` at once. */
export interface RateLimit {
  readonly perSecond: number;
  /** @default perSecond (one second's worth) */
  readonly burst?: number | undefined;
}

/**
 * A token bucket. Refilled lazily from the clock when asked (no timers), so
 * an idle bucket costs nothing but its two numbers.
 */
export class TokenBucket {
  readonly #perMs: number;
  readonly #burst: number;
  #tokens: number;
  #updatedAt: number;

  constructor(limit: RateLimit, now: number) {
    this.#perMs = limit.perSecond / 1000;
    this.#burst = limit.burst ?? limit.perSecond;
    this.#tokens = this.#burst;
    this.#updatedAt = now;
  }

  /** Takes one token: 0 when allowed, else how many ms until one is there. */
  take(now: number): number {
    const wait = this.wait(now);
    if (wait === 0) this.#tokens -= 1;
    return wait;
  }

  /** How long until a token is there (0: now), without taking it. */
  wait(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) / this.#perMs);
  }

  /** Back to full: the bucket would not limit anything now. */
  isFull(now: number): boolean {
    this.#refill(now);
    return this.#tokens >= this.#burst;
  }

  #refill(now: number): void {
    const elapsed = now - this.#updatedAt;
    if (elapsed <= 0) return;
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed * this.#perMs);
    this.#updatedAt = now;
  }
}

/**
 * One bucket per key (an IP address), created on first use. Bounded: past
 * `maxKeys`, buckets that are full again (they limit nothing) are swept, and
 * if none is, the oldest is dropped — an attacker rotating addresses can
 * cost the broker memory only up to the bound.
 */
export class KeyedBuckets {
  readonly #limit: RateLimit;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, TokenBucket>();

  constructor(limit: RateLimit, maxKeys = 100_000) {
    this.#limit = limit;
    this.#maxKeys = maxKeys;
  }

  /** Takes one token for `key`: 0 when allowed, else ms until one is there. */
  take(key: string, now = Date.now()): number {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxKeys) this.#sweep(now);
      bucket = new TokenBucket(this.#limit, now);
      this.#buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  /** How long until `key` has a token again (0: it has one now), without taking it. */
  wait(key: string, now = Date.now()): number {
    return this.#buckets.get(key)?.wait(now) ?? 0;
  }

  get size(): number {
    return this.#buckets.size;
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) if (bucket.isFull(now)) this.#buckets.delete(key);
    if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
  }
}

/** The refusal of a rate limit: `rate_limited`, with when to try again. */
export function rateLimited(what: string, retryAfterMs: number): EventwireError {
  return new EventwireError('rate_limited', `${what}: try again in ${retryAfterMs} ms`, { retryAfterMs });
}
