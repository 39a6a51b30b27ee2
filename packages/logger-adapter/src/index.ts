// The public API of @eventwire/logger-adapter, listed by hand (as nats.js's
// mod.ts does): values, then types, each module's names alphabetised, modules
// in path order.

export { captureConsole } from './console.js';
export { levelSeverity, logEvents, logLevels, logRecord, logTopic, serviceSegment } from './events.js';
export { createEventLogger, defaultRedactKeys } from './logger.js';
export { createPinoDestination } from './pino.js';
export { serializeError, stripAnsi } from './serialize.js';

export type { CaptureConsoleOptions, RestoreConsole } from './console.js';
export type { LogEvents, LogLevel, LogRecord, SerializedError } from './events.js';
export type { EventLogger, EventLoggerOptions, LogChannel, LogFields, LoggerStats } from './logger.js';
export type { PinoDestinationOptions } from './pino.js';
