import type { SerializedError } from './events.js';

const MAX_DEPTH = 8;
const MAX_CAUSES = 5;

/** `Error` → plain object with name, message, stack, code and (bounded) cause chain. */
export function serializeError(error: Error, depth = 0): SerializedError {
  const code = (error as { code?: unknown }).code;
  const cause = (error as { cause?: unknown }).cause;
  return {
    name: error.name,
    message: error.message,
    ...(error.stack !== undefined && { stack: error.stack }),
    ...(typeof code === 'string' && { code }),
    ...(cause !== undefined &&
      depth < MAX_CAUSES && {
        cause: cause instanceof Error ? serializeError(cause, depth + 1) : { name: 'Cause', message: String(cause) },
      }),
  };
}

/**
 * Makes fields safe to send: values under a redacted key (any depth, case
 * insensitive) become "[redacted]", errors are serialised, cycles and
 * functions are cut, depth is bounded. Returns new objects; inputs are not touched.
 */
export function sanitizeFields(
  fields: Readonly<Record<string, unknown>>,
  redact: ReadonlySet<string>,
): Record<string, unknown> {
  const seen = new WeakSet<object>();
  const visit = (value: unknown, depth: number): unknown => {
    if (value === null || typeof value !== 'object') {
      if (typeof value === 'bigint') return value.toString();
      if (typeof value === 'function' || typeof value === 'symbol') return undefined;
      if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
      return value;
    }
    if (value instanceof Error) return serializeError(value);
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (seen.has(value)) return '[circular]';
    if (depth >= MAX_DEPTH) return '[too deep]';
    seen.add(value);
    if (Array.isArray(value)) return value.map((item) => visit(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) {
      if (redact.has(key.toLowerCase())) out[key] = '[redacted]';
      else {
        const cleaned = visit(entry, depth + 1);
        if (cleaned !== undefined) out[key] = cleaned;
      }
    }
    return out;
  };
  return visit(fields, 0) as Record<string, unknown>;
}

/** Fills `{key}` and `{a.b}` placeholders from `fields`; unknown keys stay as written. */
export function fillTemplate(message: string, fields: Readonly<Record<string, unknown>>): string {
  if (!message.includes('{')) return message;
  return message.replace(/\{([\w$]+(?:\.[\w$]+)*)\}/g, (placeholder, path: string) => {
    let value: unknown = fields;
    for (const key of path.split('.')) {
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return placeholder;
      value = (value as Record<string, unknown>)[key];
    }
    if (value instanceof Error) return value.message;
    return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
  });
}

// ESC [ … final byte: colours, cursor moves; also OSC sequences (ESC ] … BEL).
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007]*\u0007/g;

/** Removes ANSI escape sequences (terminal colours) from text. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}
