import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Marks the code that sends log events, including everything it causes
 * asynchronously (the channel's and the transport's promise continuations).
 * A log call made inside it (a transport warning, a captured console line
 * while emitting) is not emitted again, so logging can never feed itself.
 * Process-wide on purpose: the loop can run through any logger or capture.
 */
const sending = new AsyncLocalStorage<true>();
let sendingSynchronously = 0;

/** Runs `send` as log-sending code. */
export function whileSendingLogs<T>(send: () => T): T {
  sendingSynchronously++;
  try {
    return sending.run(true, send);
  } finally {
    sendingSynchronously--;
  }
}

/** True inside log-sending code (now, or in something it started). */
export function isSendingLogs(): boolean {
  return sendingSynchronously > 0 || sending.getStore() === true;
}
