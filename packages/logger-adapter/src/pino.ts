import type { LogLevel, SerializedError } from './events.js';
import { createEventLogger, writeForeignRecord, type EventLogger, type LogChannel } from './logger.js';

/** Options of {@link createPinoDestination}. */
export interface PinoDestinationOptions {
  /** Service name; defaults to the record's `name` (pino's logger name), else 'pino'. */
  readonly service?: string;
  /** Lowest level sent. @default 'debug' */
  readonly level?: LogLevel;
}

/** Keys pino adds to every line that are not the caller's fields. */
const pinoKeys = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v', 'name', 'err']);

/**
 * A pino destination stream: give it to an existing pino logger (alone, or in
 * `pino.multistream` next to stdout) and every line becomes a log event —
 * levels mapped (trace→debug, 30→info, 40→warn, 50→error, 60→fatal), fields
 * kept, `err` mapped to the record's error. Lines that are not pino JSON are
 * ignored.
 *
 * @example
 * const log = pino(pino.multistream([{ stream: process.stdout }, { stream: createPinoDestination(logs) }]));
 */
export function createPinoDestination(
  target: LogChannel | EventLogger,
  options: PinoDestinationOptions = {},
): { write(line: string): boolean; flush(): Promise<void> } {
  const loggers = new Map<string, EventLogger>();
  const loggerFor = (name: string): EventLogger => {
    if ('child' in target) return target;
    const service = options.service ?? name;
    let logger = loggers.get(service);
    if (!logger) {
      logger = createEventLogger({ channel: target, service, level: options.level ?? 'debug' });
      loggers.set(service, logger);
    }
    return logger;
  };
  return {
    write(chunk: string): boolean {
      for (const line of String(chunk).split('\n')) {
        if (line.trim() === '') continue;
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (typeof parsed['level'] !== 'number') continue;
        const fields: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(parsed)) if (!pinoKeys.has(key)) fields[key] = value;
        writeForeignRecord(loggerFor(typeof parsed['name'] === 'string' ? parsed['name'] : 'pino'), {
          level: levelOf(parsed['level']),
          message: typeof parsed['msg'] === 'string' ? parsed['msg'] : '',
          fields,
          error: errorOf(parsed['err']),
          time: typeof parsed['time'] === 'number' ? new Date(parsed['time']).toISOString() : undefined,
        });
      }
      return true;
    },
    async flush() {
      if ('child' in target) await target.flush();
      else await Promise.all([...loggers.values()].map((logger) => logger.flush()));
    },
  };
}

function levelOf(level: number): LogLevel {
  if (level >= 60) return 'fatal';
  if (level >= 50) return 'error';
  if (level >= 40) return 'warn';
  if (level >= 30) return 'info';
  return 'debug';
}

/** pino's std err serializer gives { type, message, stack, cause?… }. */
function errorOf(value: unknown): SerializedError | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const err = value as Record<string, unknown>;
  return {
    name: typeof err['type'] === 'string' ? err['type'] : 'Error',
    message: typeof err['message'] === 'string' ? err['message'] : '',
    ...(typeof err['stack'] === 'string' && { stack: err['stack'] }),
    ...(typeof err['code'] === 'string' && { code: err['code'] }),
  };
}
