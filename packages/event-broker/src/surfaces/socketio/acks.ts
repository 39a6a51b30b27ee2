// Acks the server asks of its clients (Socket.IO's `emit(…, ack)`,
// `timeout(ms)`, `emitWithAck`): what a socket keeps per ack id until the
// client answers, and the deadline that settles an ack nobody answers — so
// every ack with a bound settles, with the answer or a typed error, once.
import { EventwireError } from '@eventwire/event-channel';
import type { AckWithError, BroadcastAck } from './server-api.js';

/** What a socket keeps for one ack id: the client answered, or the socket left first. */
export interface PendingAck {
  answer(args: readonly unknown[]): void;
  gone(): void;
}

/** The longest deadline a timer can hold (setTimeout's own limit; longer ones would fire at once). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A `timeout(ms)` argument, checked: a whole number of milliseconds from 0 to 2^31-1. */
export function ackTimeout(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > MAX_TIMEOUT_MS) {
    throw new EventwireError('invalid_payload', `timeout(ms) takes whole milliseconds from 0 to ${MAX_TIMEOUT_MS}, not ${String(ms).slice(0, 50)}`);
  }
  return ms;
}

/** An ack with no deadline (Socket.IO's plain callback): called with the answer; dropped if the socket leaves. */
export function plainAck(callback: (...args: readonly unknown[]) => void): PendingAck {
  return { answer: (args) => callback(...args), gone: () => {} };
}

/**
 * An ack due within `ms`: `callback(null, …answer)`, or `callback(error)`
 * with `timeout` when the deadline passes and `connection_closed` when the
 * socket leaves first; exactly once. `expire` forgets the ack id.
 */
export function timedAck(ms: number, callback: AckWithError, expire: () => void): PendingAck {
  let settled = false;
  const settle = (error: EventwireError | null, answer: readonly unknown[]): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    callback(error, ...answer);
  };
  const timer = setTimeout(() => {
    expire();
    settle(new EventwireError('timeout', `The client did not acknowledge within ${ms} ms`), []);
  }, ms);
  timer.unref();
  return {
    answer: (args) => settle(null, args),
    gone: () => settle(new EventwireError('connection_closed', 'The socket disconnected before acknowledging'), []),
  };
}

/**
 * A broadcast ack over `count` sockets: each answer's first argument is
 * collected; `callback(null, responses)` once all answered, or
 * `callback(timeout, responses so far)` at the deadline (as Socket.IO's:
 * a socket that leaves without answering is waited for until then).
 * Returns what each socket's own ack answers.
 */
export function gatherAcks(count: number, ms: number, callback: BroadcastAck): (...answer: readonly unknown[]) => void {
  const responses: unknown[] = [];
  let settled = false;
  const settle = (error: EventwireError | null): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    callback(error, responses);
  };
  const timer = setTimeout(() => settle(new EventwireError('timeout', `${count - responses.length} of ${count} sockets did not acknowledge within ${ms} ms`)), ms);
  timer.unref();
  if (count === 0) settle(null);
  return (...answer) => {
    if (settled) return;
    responses.push(answer[0]);
    if (responses.length === count) settle(null);
  };
}
