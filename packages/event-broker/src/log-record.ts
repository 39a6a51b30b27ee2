// The broker's log, as data: one record type with stable field names, so a
// program running the broker (the CLI, yours) chooses how it is written —
// JSON lines with pino's field names (`level`, `time`, `msg`) or text — and
// the library never does. `BrokerOptions.log` (plain lines) stays the
// fallback for code that wants text.
import type { EventwireError } from '@eventwire/event-channel';

/** How much a record matters, from least to most. */
export const brokerLogLevels = ['debug', 'info', 'warn', 'error'] as const;
export type BrokerLogLevel = (typeof brokerLogLevels)[number];

/**
 * One thing worth telling an operator. Field names are stable: scripts and
 * log pipelines select on them. Fields a record does not concern are absent.
 */
export interface BrokerLogRecord {
  readonly level: BrokerLogLevel;
  /** What happened, in one line. */
  readonly msg: string;
  /** An error's stable code (`handler_failed`, `connection_closed`…), never its message. */
  readonly code?: string;
  /** What caused it: the chain of causes' messages, outermost first, joined by `: `. */
  readonly cause?: string;
  /** The connection concerned (`conn` lines). */
  readonly conn?: string;
  /** The hook concerned, by its name. */
  readonly hook?: string;
  /** A webhook's URL (without query or credentials). */
  readonly url?: string;
  /** An HTTP status (a webhook's answer). */
  readonly status?: number;
  /** The retry a webhook will make next (1 for the first). */
  readonly retry?: number;
}

/** Receives the broker's log records: see `BrokerOptions.logger`. */
export type BrokerLogger = (record: BrokerLogRecord) => void;

/** A record from one of the broker's text lines: `conn <id> …` names its connection, `warning: …` is a warning. */
export function lineRecord(line: string): BrokerLogRecord {
  const conn = /^conn (\S+) /.exec(line)?.[1];
  const level: BrokerLogLevel = line.startsWith('warning') ? 'warn' : 'info';
  return { level, msg: line, ...(conn !== undefined && { conn }) };
}

/** An error as a record: its code, its message, the chain of its causes. */
export function errorRecord(error: EventwireError, fields: Partial<BrokerLogRecord> = {}): BrokerLogRecord {
  const cause = causeChain(error.cause);
  return { level: 'error', msg: error.message, code: error.code, ...(cause !== undefined && { cause }), ...fields };
}

/** The record as one text line (what `log` receives): errors say their code and cause. */
export function recordText(record: BrokerLogRecord): string {
  if (record.level !== 'error' || record.code === undefined) return record.msg;
  return `error ${record.code}: ${record.msg}${record.cause === undefined ? '' : ` (cause: ${record.cause})`}`;
}

function causeChain(cause: unknown): string | undefined {
  const messages: string[] = [];
  for (let depth = 0; cause !== undefined && cause !== null && depth < 5; depth++) {
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      messages.push(typeof code === 'string' && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message);
      cause = cause.cause;
    } else {
      messages.push(String(cause));
      break;
    }
  }
  return messages.length > 0 ? messages.join(': ') : undefined;
}
