/**
 * Every failure eventwire reports carries one of these codes. The set is closed
 * so callers can branch exhaustively (`match(err.code)…exhaustive()`), and the
 * same strings travel in broker error frames and HTTP error bodies, so a code
 * means the same thing on both sides of the wire.
 *
 * | code                    | raised when                                                        |
 * | ----------------------- | ------------------------------------------------------------------ |
 * | `invalid_topic`         | an emitted topic is empty, too long, or contains wildcards/bad chars |
 * | `invalid_pattern`       | a subscription pattern is malformed (e.g. `#` not last)            |
 * | `unknown_event`         | a typed channel emits or receives a topic its event map lacks      |
 * | `invalid_payload`       | data fails its event schema (outbound: nothing is sent)            |
 * | `invalid_envelope`      | an envelope or CloudEvent lacks a required field or has a wrong type |
 * | `handler_failed`        | a handler threw or rejected; other handlers still ran              |
 * | `buffer_overflow`       | a bounded buffer was full under the `'error'` policy              |
 * | `channel_closed`        | the channel was used after `close()`                               |
 * | `unsupported_transport` | no transport is known for the URL's scheme                         |
 * | `invalid_url`           | the channel URL cannot be parsed                                   |
 * | `connection_closed`     | the transport lost its connection                                  |
 * | `invalid_frame`         | a peer sent something that is not a valid frame                    |
 * | `payload_too_large`     | a message exceeds the configured size limit                        |
 * | `unauthorized`          | credentials missing, wrong or expired (who are you?)               |
 * | `forbidden`             | authenticated, but not allowed on this channel or topic            |
 * | `rate_limited`          | too many operations; `retryAfterMs` says when to try again         |
 * | `rejected`              | a broker hook refused the event (the reason is the message)        |
 * | `limit_exceeded`        | a configured limit was hit (subscriptions per connection, …)       |
 * | `slow_consumer`         | the peer stopped reading and its outbound buffer overflowed        |
 * | `unsupported_protocol`  | the peer speaks a protocol version this side does not              |
 * | `not_found`             | an HTTP route or resource that does not exist                      |
 * | `method_not_allowed`    | an HTTP route called with the wrong method                         |
 * | `upgrade_required`      | a plain HTTP request to a WebSocket endpoint                       |
 * | `unavailable`           | the broker cannot take it now (history store cannot write); retry  |
 * | `timeout`               | an operation did not finish within its deadline                    |
 * | `gap`                   | events were missed and no `onGap` listener hears it (once per pattern) |
 * | `aborted`               | the caller's `AbortSignal` fired                                   |
 * | `invalid_config`        | a broker config (file, variable, flag) failed validation           |
 * | `unsupported_schema`    | an event map's validator cannot give JSON Schema (AsyncAPI)        |
 * | `internal`              | anything else; the original is kept as `cause`                     |
 */
/**
 * All error codes, in a stable order. The one list: `ErrorCode` is derived
 * from it, and so is every table keyed by code (HTTP statuses, the wire's
 * accepted codes), so a code cannot exist in one place and be missing in another.
 */
export const errorCodes = [
  'invalid_topic',
  'invalid_pattern',
  'unknown_event',
  'invalid_payload',
  'invalid_envelope',
  'handler_failed',
  'buffer_overflow',
  'channel_closed',
  'unsupported_transport',
  'invalid_url',
  'connection_closed',
  'invalid_frame',
  'payload_too_large',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'rejected',
  'limit_exceeded',
  'slow_consumer',
  'unsupported_protocol',
  'not_found',
  'method_not_allowed',
  'upgrade_required',
  'unavailable',
  'timeout',
  'gap',
  'aborted',
  'invalid_config',
  'unsupported_schema',
  'internal',
] as const;

/** One of {@link errorCodes}. */
export type ErrorCode = (typeof errorCodes)[number];

/** True when `value` is one of {@link errorCodes}. */
export function isErrorCode(value: unknown): value is ErrorCode {
  return (errorCodes as readonly unknown[]).includes(value);
}

/**
 * The base class of every error eventwire throws or reports.
 * Branch on `code`, never on `message`: messages are for humans and may change.
 */
export class EventwireError extends Error {
  override readonly name: string = 'EventwireError';
  readonly code: ErrorCode;
  /** For retryable refusals (`rate_limited`, `unavailable`): how long to wait before trying again. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options?: EventwireErrorOptions) {
    super(message, options);
    this.code = code;
    this.retryAfterMs = options?.retryAfterMs;
  }

  /** A plain, JSON-safe view: what error frames and HTTP error bodies carry. */
  toJSON(): WireError {
    return { code: this.code, message: this.message, ...(this.retryAfterMs !== undefined && { retryAfterMs: this.retryAfterMs }) };
  }
}

/** Options of {@link EventwireError}: a cause, and when a retryable refusal may be retried. */
export interface EventwireErrorOptions extends ErrorOptions {
  readonly retryAfterMs?: number | undefined;
}

/**
 * An error as it crosses the wire (broker error frames, HTTP error bodies):
 * JSON-safe, with the details an application needs to act on it.
 */
export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  /** The topic or pattern the error is about (`invalid_topic`, `invalid_pattern`, `unknown_event`, `invalid_payload`). */
  readonly topic?: string;
  /** `invalid_topic` / `invalid_pattern`: which rule the topic broke. */
  readonly problem?: TopicProblem;
  /** `invalid_payload`: what the schema said, each path as a list of keys. */
  readonly issues?: readonly WireIssue[];
  /** `rate_limited`, `unavailable`: milliseconds to wait before trying again. */
  readonly retryAfterMs?: number;
}

/** A {@link ValidationIssue} on the wire: its path as plain keys. */
export interface WireIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<string | number>;
}

/**
 * The inverse of `toJSON()`: the error a peer reported, as the class that
 * carries its details (`ValidationError` with its `issues`, `TopicError`,
 * `UnknownEventError`), or a plain `EventwireError`.
 */
export function errorFromWire(wire: WireError): EventwireError {
  const { code, message, topic } = wire;
  if (topic !== undefined) {
    if (code === 'invalid_payload' && wire.issues) return new ValidationError(topic, 'broker', wire.issues);
    if (code === 'unknown_event') return new UnknownEventError(topic, 'broker');
    if ((code === 'invalid_topic' || code === 'invalid_pattern') && wire.problem) {
      return new TopicError(code, topic, wire.problem, message);
    }
  }
  return new EventwireError(code, message, wire.retryAfterMs === undefined ? undefined : { retryAfterMs: wire.retryAfterMs });
}

/** Every reason a topic or pattern can be refused. */
export const topicProblems = [
  'not_a_string',
  'empty',
  'too_long',
  'too_many_segments',
  'empty_segment',
  'invalid_character',
  'wildcard_in_topic',
  'partial_wildcard',
  'hash_not_last',
  'invalid_capture',
  'duplicate_capture',
] as const;

/** Why a topic or pattern was refused: one of {@link topicProblems}. */
export type TopicProblem = (typeof topicProblems)[number];

/** A topic (`invalid_topic`) or pattern (`invalid_pattern`) that breaks the topic rules. */
export class TopicError extends EventwireError {
  override readonly name = 'TopicError';
  readonly topic: string;
  readonly problem: TopicProblem;

  constructor(
    code: 'invalid_topic' | 'invalid_pattern',
    topic: string,
    problem: TopicProblem,
    message: string,
  ) {
    super(code, message);
    this.topic = topic;
    this.problem = problem;
  }

  override toJSON(): WireError {
    return { ...super.toJSON(), topic: this.topic, problem: this.problem };
  }
}

/** One problem found by a schema, in the Standard Schema shape (zod's issues fit it). */
export interface ValidationIssue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/**
 * Where a payload or topic was refused: before sending (`outbound`, nothing was
 * sent), on arrival at a channel (`inbound`, no handler saw it), or by the
 * broker's event map (`broker`, nobody received it).
 */
export type CheckDirection = 'outbound' | 'inbound' | 'broker';

/**
 * Data that failed its event schema (`invalid_payload`). `issues` says which
 * field failed and why, also when the broker refused it (the issues travel in
 * its error frame or HTTP body).
 */
export class ValidationError extends EventwireError {
  override readonly name = 'ValidationError';
  readonly topic: string;
  readonly direction: CheckDirection;
  readonly issues: readonly ValidationIssue[];
  readonly eventId: string | undefined;

  constructor(
    topic: string,
    direction: CheckDirection,
    issues: readonly ValidationIssue[],
    eventId?: string,
  ) {
    const first = issues[0];
    const where = first?.path?.length ? ` at ${formatPath(first.path)}` : '';
    super(
      'invalid_payload',
      `Payload for "${topic}" failed its schema${where}: ${first?.message ?? 'invalid'}`,
    );
    this.topic = topic;
    this.direction = direction;
    this.issues = issues;
    this.eventId = eventId;
  }

  override toJSON(): WireError {
    // Bounded: a huge array failing element by element must not make a huge error frame.
    return { ...super.toJSON(), topic: this.topic, issues: this.issues.slice(0, MAX_WIRE_ISSUES).map(toWireIssue) };
  }
}

/** The most issues an error carries over the wire. */
const MAX_WIRE_ISSUES = 20;

function toWireIssue(issue: ValidationIssue): WireIssue {
  if (!issue.path?.length) return { message: issue.message };
  // Symbols cannot cross JSON; a symbol key is shown by its description.
  const path = issue.path.map((part) => {
    const key = typeof part === 'object' ? part.key : part;
    return typeof key === 'number' ? key : String(typeof key === 'symbol' ? (key.description ?? 'symbol') : key);
  });
  return { message: issue.message, path };
}

/** A topic the event map (the channel's, or the broker's) does not declare (`unknown_event`). */
export class UnknownEventError extends EventwireError {
  override readonly name = 'UnknownEventError';
  readonly topic: string;
  readonly direction: CheckDirection;

  constructor(topic: string, direction: CheckDirection) {
    super('unknown_event', unknownEventMessage(topic, direction));
    this.topic = topic;
    this.direction = direction;
  }

  override toJSON(): WireError {
    return { ...super.toJSON(), topic: this.topic };
  }
}

function unknownEventMessage(topic: string, direction: CheckDirection): string {
  switch (direction) {
    case 'outbound':
      return `"${topic}" is not declared in this channel's event map`;
    case 'inbound':
      return `Received "${topic}", which this channel's event map does not declare; not delivered`;
    case 'broker':
      return `"${topic}" is not declared in the broker's event map; not routed`;
  }
}

/** A handler threw or rejected (`handler_failed`); the original error is `cause`. */
export class HandlerError extends EventwireError {
  override readonly name = 'HandlerError';
  readonly topic: string;
  readonly eventId: string;
  readonly pattern: string;

  constructor(pattern: string, topic: string, eventId: string, cause: unknown) {
    super('handler_failed', `Handler for "${pattern}" failed on "${topic}" (${eventId})`, {
      cause,
    });
    this.pattern = pattern;
    this.topic = topic;
    this.eventId = eventId;
  }
}

/** A bounded buffer was full and its policy is `'error'` (`buffer_overflow`). */
export class BufferOverflowError extends EventwireError {
  override readonly name = 'BufferOverflowError';
  readonly limit: number;

  constructor(what: string, limit: number) {
    super('buffer_overflow', `${what} is full (${limit} items)`);
    this.limit = limit;
  }
}

/**
 * Normalises anything thrown at a boundary into an `EventwireError`, keeping
 * the original as `cause`. Used wherever foreign code (handlers, schemas,
 * transports) can throw.
 */
export function toEventwireError(error: unknown, fallback: ErrorCode = 'internal'): EventwireError {
  if (error instanceof EventwireError) return error;
  if (isAbortError(error)) {
    return new EventwireError('aborted', 'The operation was aborted', { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new EventwireError(fallback, message, { cause: error });
}

function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

function formatPath(path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>): string {
  return path
    .map((part) => (typeof part === 'object' ? part.key : part))
    .map(String)
    .join('.');
}
