// OpenTelemetry for eventwire: spans for publishing, routing and handling
// events, linked through each event's traceparent. `@opentelemetry/api` is an
// optional peer dependency, loaded only by code that imports this module.
//
// @example
// import { trace } from '@opentelemetry/api';
// import { openTelemetryTracing } from '@eventwire/event-channel/otel';
// const tracing = openTelemetryTracing({ tracer: trace.getTracer('orders') });
// const channel = new EventChannel({ url, tracing });
// const broker = new EventBrokerServer({ tracing });
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { formatTraceparent, parseTraceparent } from '../tracing/traceparent.js';
import { inSpan, type EventTracing, type TraceSpan } from '../tracing/tracing.js';

/** Options of {@link openTelemetryTracing}. */
export interface OpenTelemetryTracingOptions {
  /** @default trace.getTracer('@eventwire') */
  readonly tracer?: Tracer;
}

/**
 * Producer, broker and consumer spans named after the messaging semantic
 * conventions (`<topic> publish`, `<topic> route`, `<topic> process`, with
 * `messaging.system=eventwire` and `messaging.destination.name=<topic>`).
 * A span's parent is the event's traceparent (or, for a publish, the span
 * active in the emitting code).
 */
export function openTelemetryTracing(options: OpenTelemetryTracingOptions = {}): EventTracing {
  const tracer = options.tracer ?? trace.getTracer('@eventwire');
  const start = (name: string, kind: SpanKind, parent: Context, topic: string, operation: string): Span =>
    tracer.startSpan(
      name,
      { kind, attributes: { 'messaging.system': 'eventwire', 'messaging.destination.name': topic, 'messaging.operation.type': operation } },
      parent,
    );
  return {
    publish(topic, parent) {
      return spanOf(start(`${topic} publish`, SpanKind.PRODUCER, contextOf(parent) ?? context.active(), topic, 'send'));
    },
    route(topic, parent) {
      return spanOf(start(`${topic} route`, SpanKind.CONSUMER, contextOf(parent) ?? ROOT_CONTEXT, topic, 'receive'));
    },
    process(topic, parent, handler) {
      const span = start(`${topic} process`, SpanKind.CONSUMER, contextOf(parent) ?? ROOT_CONTEXT, topic, 'process');
      return inSpan(spanOf(span), () => context.with(trace.setSpan(context.active(), span), handler));
    },
    current() {
      const active = trace.getActiveSpan()?.spanContext();
      return active && trace.isSpanContextValid(active) ? formatTraceparent({ traceId: active.traceId, spanId: active.spanId, flags: active.traceFlags }) : undefined;
    },
  };
}

/** The context a traceparent names, or undefined when there is none (or it is invalid, which the spec says to ignore). */
function contextOf(traceparent: string | undefined): Context | undefined {
  const parsed = parseTraceparent(traceparent);
  if (!parsed) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: parsed.traceId, spanId: parsed.spanId, traceFlags: parsed.flags, isRemote: true });
}

function spanOf(span: Span): TraceSpan {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return {
    traceparent: trace.isSpanContextValid(span.spanContext()) ? formatTraceparent({ traceId, spanId, flags: traceFlags }) : undefined,
    end(error) {
      if (error !== undefined) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      }
      span.end();
    },
  };
}
