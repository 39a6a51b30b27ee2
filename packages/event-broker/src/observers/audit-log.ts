import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { EventwireError, type EventEnvelope } from '@eventwire/event-channel';
import type { PublishOrigin } from '../hooks.js';

/** Options of {@link createAuditLog}. */
export interface AuditLogOptions {
  /** The file to append to (created with its directory if missing). */
  readonly path: string;
  /**
   * Size at which the file is rotated: `audit.jsonl` becomes `audit.jsonl.1`,
   * `.1` becomes `.2`, and so on.
   * @default 10_485_760 (10 MiB)
   */
  readonly maxBytes?: number;
  /**
   * Rotated files kept besides the live one; older ones are deleted.
   * @default 5
   */
  readonly maxFiles?: number;
}

/** An observer that appends every event it sees to a JSONL file. */
export interface AuditLog {
  /** Pass to `broker.observe(pattern, auditLog.observer)`. */
  readonly observer: (event: EventEnvelope, context: { readonly origin: PublishOrigin; readonly notified: number }) => Promise<void>;
  /**
   * Pass to `broker.intercept(pattern, auditLog.gate)`: while the file cannot
   * be written, publishes are refused with `unavailable` (retryable) before
   * they are acknowledged, so nothing accepted goes unlogged.
   */
  readonly gate: () => void;
  /** Why the log cannot write now, or undefined when it can. */
  readonly failure: EventwireError | undefined;
  /** Lines accepted and not yet written (while failing, they wait here; none is dropped). */
  readonly pending: number;
  /** Flushes what is pending (while the file is writable) and closes it. */
  close(): Promise<void>;
}

/** Longest wait between two attempts to write again after a failure. */
const MAX_RETRY_MS = 1000;

/**
 * An append-only audit log: one JSON line per event with where it came from
 * and how many subscribers it reached. Lines are written in order by one
 * writer; the file is rotated by size so it never grows without limit.
 * When a write or an open fails (EMFILE, ENOSPC, EIO), the line is kept and
 * retried with backoff, reopening the file, until it succeeds — and `gate`
 * refuses new publishes meanwhile — so an event that was acknowledged is
 * logged once the resource is back, without a restart.
 */
export function createAuditLog(options: AuditLogOptions & { readonly onProblem?: (message: string) => void }): AuditLog {
  const maxBytes = options.maxBytes ?? 10_485_760;
  const maxFiles = options.maxFiles ?? 5;
  mkdirSync(dirname(options.path), { recursive: true });
  let size = existsSync(options.path) ? statSync(options.path).size : 0;
  let stream: WriteStream | undefined;
  const pending: string[] = [];
  let draining: Promise<void> | undefined;
  let failure: EventwireError | undefined;
  let closed = false;

  function open(): WriteStream {
    const opened = createWriteStream(options.path, { flags: 'a' });
    // Errors surface through the write callbacks; without a listener the stream would crash the process.
    opened.on('error', () => {});
    return opened;
  }

  async function rotate(): Promise<void> {
    if (stream) await end(stream);
    stream = undefined;
    rmSync(`${options.path}.${maxFiles}`, { force: true });
    for (let index = maxFiles - 1; index >= 1; index--) {
      if (existsSync(`${options.path}.${index}`)) renameSync(`${options.path}.${index}`, `${options.path}.${index + 1}`);
    }
    if (maxFiles >= 1) renameSync(options.path, `${options.path}.1`);
    else rmSync(options.path, { force: true });
    size = 0;
  }

  async function drain(): Promise<void> {
    let attempt = 0;
    while (pending.length > 0) {
      const line = pending[0]!;
      const bytes = Buffer.byteLength(line);
      try {
        if (size > 0 && size + bytes > maxBytes) await rotate();
        stream ??= open();
        await write(stream, line);
        size += bytes;
        pending.shift();
        if (failure) options.onProblem?.(`audit log ${options.path} writable again; ${pending.length} waiting lines follow`);
        failure = undefined;
        attempt = 0;
      } catch (error) {
        if (!failure) options.onProblem?.(`audit log ${options.path} cannot be written (${(error as Error).message}); publishes are refused until it can`);
        failure = new EventwireError('unavailable', `The audit log cannot be written now (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); try again`, {
          cause: error,
          retryAfterMs: MAX_RETRY_MS,
        });
        stream?.destroy();
        stream = undefined;
        if (closed) return; // closing while broken: what is pending cannot be written
        await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_RETRY_MS, 20 * 2 ** attempt++)));
      }
    }
  }

  function flush(): Promise<void> {
    draining ??= drain().finally(() => (draining = undefined));
    return draining;
  }

  return {
    observer(event, context) {
      pending.push(
        `${JSON.stringify({
          at: new Date().toISOString(),
          origin: context.origin,
          notified: context.notified,
          event,
        })}\n`,
      );
      return flush();
    },
    gate() {
      if (failure) throw failure;
    },
    get failure() {
      return failure;
    },
    get pending() {
      return pending.length;
    },
    async close() {
      closed = true;
      await flush();
      if (stream) await end(stream);
    },
  };
}

function write(stream: WriteStream, line: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(line, (error) => (error ? reject(error) : resolve())));
}

function end(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed || stream.destroyed) return resolve();
    stream.end(() => resolve());
  });
}
