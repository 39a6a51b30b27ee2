// Bounded waits, for the places that must not hang on a peer that never
// answers (a close, a flush, a connect attempt).
import { EventwireError } from './errors.js';

/** Waits for `promise` at most `ms`; true when it settled in time (its outcome is not looked at). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]);
  clearTimeout(timer);
  return settled;
}

/** `promise`'s outcome, or a `timeout` EventwireError "`who` did not answer within `ms` ms". */
export async function answersWithin<T>(promise: Promise<T>, ms: number, who: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new EventwireError('timeout', `${who} did not answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
