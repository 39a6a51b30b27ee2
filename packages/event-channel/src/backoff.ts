/** Options of {@link fullJitterBackoff}. */
export interface BackoffOptions {
  /**
   * The ceiling of the first retry's delay; it doubles per attempt.
   * @default 250
   */
  readonly baseMs?: number;
  /**
   * The largest ceiling, however many attempts.
   * @default 30_000
   */
  readonly capMs?: number;
}

/** Defaults of {@link BackoffOptions}. */
export const backoffDefaults = { baseMs: 250, capMs: 30_000 } as const;

/**
 * Exponential backoff with full jitter: attempt n waits a uniformly random
 * time in [0, min(cap, base·2^(n−1))). Full jitter spreads a crowd of clients
 * reconnecting after the same outage, so they do not return in waves.
 * Returns a pure `(attempt) => ms`; pass your own function (e.g. `() => 0` in
 * tests) wherever a backoff is accepted.
 */
export function fullJitterBackoff(
  options: BackoffOptions = {},
  random: () => number = Math.random,
): (attempt: number) => number {
  const base = options.baseMs ?? backoffDefaults.baseMs;
  const cap = options.capMs ?? backoffDefaults.capMs;
  return (attempt) => {
    const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
    return Math.floor(random() * ceiling);
  };
}
