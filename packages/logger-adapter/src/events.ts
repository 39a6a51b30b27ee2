import { defineEvents, type inferEventOutputs } from '@eventwire/event-channel';
import { z } from 'zod';

/** Log levels, least to most severe. */
export const logLevels = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof logLevels)[number];

/** Numeric severity, for "at least this level" comparisons. */
export const levelSeverity: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, fatal: 50 };

/** An `Error` as it travels: name, message, stack, and its `cause` chain. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string | undefined;
  readonly code?: string | undefined;
  readonly cause?: SerializedError | undefined;
}

const serializedError: z.ZodType<SerializedError> = z.lazy(() =>
  z.object({
    name: z.string(),
    message: z.string(),
    stack: z.string().optional(),
    code: z.string().optional(),
    cause: serializedError.optional(),
  }),
);

/** The data of every log event. */
export const logRecord = z.object({
  service: z.string(),
  level: z.enum(logLevels),
  /** RFC 3339, when the log call happened (not when it was sent). */
  time: z.string(),
  /** The message with `{key}` placeholders filled in. */
  message: z.string(),
  /** Structured fields (context merged with the call's fields), redacted. */
  fields: z.record(z.string(), z.unknown()),
  error: serializedError.optional(),
  traceId: z.string().optional(),
  /** Records dropped by a full buffer since the previous record was sent. */
  dropped: z.number().int().nonnegative().optional(),
});

/**
 * The log event map: topic `log.<level>.<service>`, so subscribers filter with
 * patterns — `log.error.*` (errors of every service), `log.*.payments` (every
 * level of one service), `log.#` (everything).
 */
export const logEvents = defineEvents({
  'log.debug.*': logRecord,
  'log.info.*': logRecord,
  'log.warn.*': logRecord,
  'log.error.*': logRecord,
  'log.fatal.*': logRecord,
});

export type LogEvents = typeof logEvents;
export type LogRecord = inferEventOutputs<LogEvents>['log.info.*'];

/** A service name as a single topic segment: dots, spaces and wildcards become `-`. */
export function serviceSegment(service: string): string {
  const cleaned = service.trim().replace(/[.\s*#>\u0000-\u001f\u007f]+/g, '-');
  return cleaned === '' || cleaned === '-' ? 'unknown' : cleaned;
}

/** The topic a record of `level` from `service` is emitted on. */
export function logTopic(level: LogLevel, service: string): `log.${LogLevel}.${string}` {
  return `log.${level}.${serviceSegment(service)}`;
}
