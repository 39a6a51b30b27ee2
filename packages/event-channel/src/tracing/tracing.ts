// The seam tracing plugs into: a channel asks it for a span around each emit
// and each handler run, the broker around each event it routes. Off unless
// given (no cost then); `@eventwire/event-channel/otel` implements it with
// OpenTelemetry.

/** A span in progress. */
export interface TraceSpan {
  /** The traceparent that names this span, to send on (undefined: not traced). */
  readonly traceparent: string | undefined;
  /** Ends it; with an error, the span records it and is marked failed. */
  end(error?: unknown): void;
}

/**
 * Spans for the three steps an event takes: sent (`publish`, a producer
 * span), routed by the broker (`route`), handled by a subscriber (`process`,
 * a consumer span). Each is a child of the traceparent the event arrived
 * with, so one trace shows publisher → broker → every subscriber.
 */
export interface EventTracing {
  /** A span for sending one event to `topic`; `parent` is a traceparent the caller gave, if any. */
  publish(topic: string, parent: string | undefined): TraceSpan;
  /** A span for the broker routing one event; the event is delivered carrying this span's traceparent. */
  route(topic: string, parent: string | undefined): TraceSpan;
  /** Runs `handler` inside a span for handling one event (ended when it returns or its promise settles). */
  process<T>(topic: string, parent: string | undefined, handler: () => T): T;
  /** The traceparent of the span active now (what a log line written here belongs to). */
  current(): string | undefined;
}

/**
 * Runs `work` and ends `span` when it returns or throws, or, when it returns
 * a promise, once that settles (with the error, if it rejects). What every
 * span around a step that may be synchronous or not needs.
 */
export function inSpan<T>(span: TraceSpan, work: () => T): T {
  let result: T;
  try {
    result = work();
  } catch (error) {
    span.end(error);
    throw error;
  }
  if (!(result instanceof Promise)) {
    span.end();
    return result;
  }
  return result.then(
    (value: unknown) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      span.end(error);
      throw error;
    },
  ) as T;
}
