import { format } from 'node:util';
import type { LogLevel } from './events.js';
import { createEventLogger, type EventLogger, type LogChannel } from './logger.js';
import { stripAnsi } from './serialize.js';

/** The console methods captured, and the level each becomes. */
const methods = { debug: 'debug', log: 'info', info: 'info', warn: 'warn', error: 'error' } as const satisfies Record<string, LogLevel>;
type ConsoleMethod = keyof typeof methods;

/** Options of {@link captureConsole}. */
export interface CaptureConsoleOptions {
  /** Service name when a channel (not a logger) is given. @default 'console' */
  readonly service?: string;
  /** Lowest level captured. @default 'debug' */
  readonly level?: LogLevel;
  /** The console to patch. @default globalThis.console */
  readonly console?: Console;
}

/** Puts the original console methods back (idempotent); `flush()` sends what is still buffered. */
export type RestoreConsole = (() => void) & { flush(): Promise<void> };

/**
 * Makes `console.log/info/warn/error/debug` also emit log events, while still
 * printing exactly as before. ANSI colour codes are stripped from the event
 * text. Output produced while sending logs is printed but not re-emitted.
 * Returns `restore()`, which puts the original methods back; call
 * `restore.flush()` before closing the channel so buffered lines are sent.
 */
export function captureConsole(target: LogChannel | EventLogger, options: CaptureConsoleOptions = {}): RestoreConsole {
  const logger: EventLogger =
    'child' in target
      ? target
      : createEventLogger({ channel: target, service: options.service ?? 'console', level: options.level ?? 'debug' });
  const console_ = options.console ?? globalThis.console;
  const originals = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  const patched = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  for (const method of Object.keys(methods) as ConsoleMethod[]) {
    const original = console_[method] as (...args: unknown[]) => void;
    originals.set(method, original);
    const replacement = (...args: unknown[]): void => {
      original.apply(console_, args);
      // The logger itself drops (and counts) lines produced while sending logs.
      try {
        logger.log(methods[method], stripAnsi(format(...args)));
      } catch {
        // Never let capture break a console call.
      }
    };
    patched.set(method, replacement);
    (console_ as unknown as Record<string, unknown>)[method] = replacement;
  }
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    for (const [method, original] of originals) {
      // Only undo our own patch: someone may have wrapped the console after us.
      if ((console_ as unknown as Record<string, unknown>)[method] === patched.get(method)) {
        (console_ as unknown as Record<string, unknown>)[method] = original;
      }
    }
  };
  return Object.assign(restore, { flush: () => logger.flush() });
}
