import { EventwireError, parseTraceparent, toEventwireError, type EventTracing } from '@eventwire/event-channel';
import { levelSeverity, logTopic, type LogLevel, type LogRecord, type SerializedError } from './events.js';
import { isSendingLogs, whileSendingLogs } from './recursion-guard.js';
import { fillTemplate, sanitizeFields, serializeError } from './serialize.js';

/** Where log events go: an `EventChannel<typeof logEvents>`, or any channel whose map covers `log.*.*`. */
export interface LogChannel {
  emit(topic: `log.${LogLevel}.${string}`, data: LogRecord, options?: { readonly traceparent?: string }): Promise<unknown>;
}

/** Structured fields of one log call. An `Error` under `err` or `error` becomes the record's `error`. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Keys redacted by default, at any depth, case-insensitively. */
export const defaultRedactKeys: readonly string[] = ['password', 'passwd', 'authorization', 'cookie', 'set-cookie', 'token', 'secret', 'apikey', 'api_key'];

/** Options of {@link createEventLogger}. */
export interface EventLoggerOptions {
  /** The channel log events are emitted on. Use one dedicated to logs. */
  readonly channel: LogChannel;
  /** The service name: the topic's last segment (`log.<level>.<service>`). */
  readonly service: string;
  /**
   * Calls below this level return at once, before any work.
   * @default 'info'
   */
  readonly level?: LogLevel;
  /** Fields merged into every record (a child adds to them). */
  readonly context?: LogFields;
  /**
   * Keys whose values become "[redacted]", at any depth (case-insensitive).
   * @default defaultRedactKeys
   */
  readonly redact?: readonly string[];
  /**
   * Records held while waiting to be sent. When full, the oldest is dropped;
   * the next record sent carries `dropped: n`.
   * @default 1000
   */
  readonly bufferSize?: number;
  /** The current trace id (e.g. from your tracing context), added to each record. */
  readonly traceId?: () => string | undefined;
  /**
   * Tracing (the same `EventTracing` the channels use, e.g. `openTelemetryTracing()`):
   * each record gets the trace id of the span active where it was logged, and its
   * event carries that span's traceparent, so a log line appears in its trace.
   */
  readonly tracing?: EventTracing;
  /** Hears about records the channel refused or failed to send. The logger itself never throws. */
  readonly onError?: (error: EventwireError) => void;
}

/** Counters of a logger tree (a root and its children share them). */
export interface LoggerStats {
  /** Log calls at or above the level. */
  readonly logged: number;
  /** Records the channel accepted. */
  readonly emitted: number;
  /** Records dropped by the full buffer. */
  readonly dropped: number;
  /** Records the channel refused or could not send. */
  readonly failed: number;
  /** Log calls made while sending logs, not re-emitted (the recursion guard). */
  readonly suppressed: number;
}

/** A structured logger whose calls become events. */
export interface EventLogger {
  readonly service: string;
  readonly level: LogLevel;
  debug(message: string, fields?: LogFields | Error): void;
  info(message: string, fields?: LogFields | Error): void;
  warn(message: string, fields?: LogFields | Error): void;
  error(message: string, fields?: LogFields | Error): void;
  fatal(message: string, fields?: LogFields | Error): void;
  log(level: LogLevel, message: string, fields?: LogFields | Error): void;
  /** A logger with more context; it shares this one's buffer, level and counters. */
  child(context: LogFields): EventLogger;
  /** Sends what is buffered and resolves once the channel has accepted (or refused) it. */
  flush(): Promise<void>;
  stats(): LoggerStats;
}

/**
 * Creates a logger that turns log calls into `log.<level>.<service>` events.
 * It must never hurt the service: level filtering comes first, records are
 * batched per tick through a bounded buffer, nothing throws into the caller,
 * and logs produced while sending logs are not re-emitted.
 *
 * @example
 * const logs = new EventChannel({ url: 'ws://localhost:15500', events: logEvents });
 * const log = createEventLogger({ channel: logs, service: 'payments', level: 'info' });
 * log.info('charged {amount} for {orderId}', { amount: 42, orderId: 'o1' });
 * log.child({ requestId: 'r7' }).error('card declined', new Error('insufficient funds'));
 */
export function createEventLogger(options: EventLoggerOptions): EventLogger {
  const pipeline = new LogPipeline(options);
  return new Logger(pipeline, options.context ?? {});
}

/** Pieces of a record produced by a foreign logger (pino) that has already serialised them. */
export interface ForeignRecord {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
  readonly error?: SerializedError | undefined;
  readonly time?: string | undefined;
}

/** @internal Sends records that are already shaped (used by the pino destination). */
export function writeForeignRecord(logger: EventLogger, record: ForeignRecord): void {
  (logger as Logger).writeForeign(record);
}

class Logger implements EventLogger {
  readonly #pipeline: LogPipeline;
  readonly #context: LogFields;

  constructor(pipeline: LogPipeline, context: LogFields) {
    this.#pipeline = pipeline;
    this.#context = context;
  }

  get service(): string {
    return this.#pipeline.service;
  }

  get level(): LogLevel {
    return this.#pipeline.level;
  }

  debug(message: string, fields?: LogFields | Error): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields | Error): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields | Error): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: LogFields | Error): void {
    this.log('error', message, fields);
  }
  fatal(message: string, fields?: LogFields | Error): void {
    this.log('fatal', message, fields);
  }

  log(level: LogLevel, message: string, fields?: LogFields | Error): void {
    // Level first: a filtered call costs one comparison and touches nothing.
    if (levelSeverity[level] < this.#pipeline.threshold) return;
    this.#pipeline.record(level, message, this.#context, fields);
  }

  child(context: LogFields): EventLogger {
    return new Logger(this.#pipeline, { ...this.#context, ...context });
  }

  writeForeign(record: ForeignRecord): void {
    if (levelSeverity[record.level] < this.#pipeline.threshold) return;
    this.#pipeline.recordForeign(record, this.#context);
  }

  flush(): Promise<void> {
    return this.#pipeline.flush();
  }

  stats(): LoggerStats {
    return this.#pipeline.stats();
  }
}

interface Pending {
  readonly topic: `log.${LogLevel}.${string}`;
  readonly record: LogRecord;
  /** The span active where it was logged. */
  readonly traceparent?: string;
}

/** The buffer and sender shared by a logger and its children. */
class LogPipeline {
  readonly service: string;
  readonly level: LogLevel;
  readonly threshold: number;
  readonly #channel: LogChannel;
  readonly #redact: ReadonlySet<string>;
  readonly #capacity: number;
  readonly #traceId: (() => string | undefined) | undefined;
  readonly #tracing: EventTracing | undefined;
  readonly #onError: ((error: EventwireError) => void) | undefined;
  #buffer: Pending[] = [];
  #scheduled = false;
  #droppedSinceSent = 0;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #counters = { logged: 0, emitted: 0, dropped: 0, failed: 0, suppressed: 0 };

  constructor(options: EventLoggerOptions) {
    this.service = options.service;
    this.level = options.level ?? 'info';
    this.threshold = levelSeverity[this.level];
    this.#channel = options.channel;
    this.#redact = new Set((options.redact ?? defaultRedactKeys).map((key) => key.toLowerCase()));
    this.#capacity = Math.max(1, options.bufferSize ?? 1000);
    this.#traceId = options.traceId;
    this.#tracing = options.tracing;
    this.#onError = options.onError;
  }

  /** A call of this package's logger: fields may hold an Error, which becomes the record's error. */
  record(level: LogLevel, message: string, context: LogFields, fields: LogFields | Error | undefined): void {
    this.#build(level, () => {
      let error: Error | undefined;
      let merged: Record<string, unknown> = { ...context };
      if (fields instanceof Error) error = fields;
      else if (fields) merged = { ...merged, ...fields };
      for (const key of ['err', 'error']) {
        if (merged[key] instanceof Error) {
          error ??= merged[key] as Error;
          delete merged[key];
        }
      }
      return { message: String(message), merged, error: error && serializeError(error) };
    });
  }

  /** A record from a foreign logger (pino) whose error is already serialised. */
  recordForeign(record: ForeignRecord, context: LogFields): void {
    this.#build(record.level, () => ({
      message: record.message,
      merged: { ...context, ...record.fields },
      error: record.error,
      time: record.time,
    }));
  }

  /** The shared path: recursion guard, redaction, template, trace id, buffer. Never throws. */
  #build(
    level: LogLevel,
    parts: () => { message: string; merged: Record<string, unknown>; error?: SerializedError | undefined; time?: string | undefined },
  ): void {
    if (isSendingLogs()) {
      this.#counters.suppressed++;
      return;
    }
    try {
      const { message, merged, error, time } = parts();
      const clean = sanitizeFields(merged, this.#redact);
      // Read now: the record is sent a microtask later, when another span may be active.
      const traceparent = this.#tracing?.current();
      this.#push(level, traceparent, {
        service: this.service,
        level,
        time: time ?? new Date().toISOString(),
        // Filled from the redacted fields, so a placeholder cannot leak a secret.
        message: fillTemplate(message, clean),
        fields: clean,
        ...(error && { error }),
        ...this.#trace(merged, traceparent),
      });
    } catch (failure) {
      this.#fail(failure);
    }
  }

  #trace(fields: Record<string, unknown>, traceparent: string | undefined): { traceId?: string } {
    const fromFields = fields['traceId'] ?? fields['trace_id'];
    const traceId = typeof fromFields === 'string' ? fromFields : (this.#traceId?.() ?? parseTraceparent(traceparent)?.traceId);
    return traceId ? { traceId } : {};
  }

  #push(level: LogLevel, traceparent: string | undefined, record: LogRecord): void {
    this.#counters.logged++;
    if (this.#buffer.length >= this.#capacity) {
      this.#buffer.shift();
      this.#counters.dropped++;
      this.#droppedSinceSent++;
    }
    this.#buffer.push({ topic: logTopic(level, this.service), record, ...(traceparent !== undefined && { traceparent }) });
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#send());
    }
  }

  #send(): void {
    this.#scheduled = false;
    const batch = this.#buffer;
    if (batch.length === 0) return;
    this.#buffer = [];
    whileSendingLogs(() => {
      for (const [index, pending] of batch.entries()) {
        // The first record after a loss says how many were lost.
        const record =
          index === 0 && this.#droppedSinceSent > 0 ? { ...pending.record, dropped: this.#droppedSinceSent } : pending.record;
        if (index === 0) this.#droppedSinceSent = 0;
        let sent: Promise<unknown>;
        try {
          sent = pending.traceparent === undefined ? this.#channel.emit(pending.topic, record) : this.#channel.emit(pending.topic, record, { traceparent: pending.traceparent });
        } catch (failure) {
          this.#fail(failure);
          continue;
        }
        const tracked = sent.then(
          () => void this.#counters.emitted++,
          (failure: unknown) => this.#fail(failure),
        );
        this.#inFlight.add(tracked);
        void tracked.finally(() => this.#inFlight.delete(tracked));
      }
    });
  }

  async flush(): Promise<void> {
    this.#send();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #fail(failure: unknown): void {
    this.#counters.failed++;
    if (!this.#onError) return;
    try {
      whileSendingLogs(() => this.#onError!(toEventwireError(failure)));
    } catch {
      // An onError that throws must not reach the code that logged.
    }
  }

  stats(): LoggerStats {
    return { ...this.#counters };
  }
}
