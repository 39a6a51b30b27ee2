import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import type { EventEnvelope } from '@eventwire/event-channel';
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
  /** Flushes and closes the file. */
  close(): Promise<void>;
}

/**
 * An append-only audit log: one JSON line per event with where it came from
 * and how many subscribers it reached. Writes are awaited (the observer queue
 * provides the buffering and the bound), and the file is rotated by size so
 * it never grows without limit.
 */
export function createAuditLog(options: AuditLogOptions): AuditLog {
  const maxBytes = options.maxBytes ?? 10_485_760;
  const maxFiles = options.maxFiles ?? 5;
  mkdirSync(dirname(options.path), { recursive: true });
  let size = existsSync(options.path) ? statSync(options.path).size : 0;
  let stream: WriteStream = open();

  function open(): WriteStream {
    return createWriteStream(options.path, { flags: 'a' });
  }

  async function rotate(): Promise<void> {
    await end(stream);
    rmSync(`${options.path}.${maxFiles}`, { force: true });
    for (let index = maxFiles - 1; index >= 1; index--) {
      if (existsSync(`${options.path}.${index}`)) renameSync(`${options.path}.${index}`, `${options.path}.${index + 1}`);
    }
    if (maxFiles >= 1) renameSync(options.path, `${options.path}.1`);
    else rmSync(options.path, { force: true });
    stream = open();
    size = 0;
  }

  return {
    async observer(event, context) {
      const line = `${JSON.stringify({
        at: new Date().toISOString(),
        origin: context.origin,
        notified: context.notified,
        event,
      })}\n`;
      const bytes = Buffer.byteLength(line);
      if (size > 0 && size + bytes > maxBytes) await rotate();
      size += bytes;
      await write(stream, line);
    },
    close: () => end(stream),
  };
}

function write(stream: WriteStream, line: string): Promise<void> {
  return new Promise((resolve, reject) => stream.write(line, (error) => (error ? reject(error) : resolve())));
}

function end(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve();
    stream.end(() => resolve());
  });
}
