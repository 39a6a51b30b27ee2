// W3C Trace Context `traceparent`: `00-<trace id>-<parent id>-<flags>`, the
// one header an event carries (EventEnvelope.traceparent, CloudEvents'
// distributed-tracing extension). https://www.w3.org/TR/trace-context/

/** A parsed traceparent. */
export interface TraceParent {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits, not all zero: the span that sent it. */
  readonly spanId: string;
  /** Bit 0: sampled. */
  readonly flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Parses `text`; undefined when it is not a valid traceparent (the spec says
 * to ignore such a header, not to fail on it). Version ff is invalid; a
 * future version may carry more fields after the four known ones.
 */
export function parseTraceparent(text: unknown): TraceParent | undefined {
  if (typeof text !== 'string' || text.length > 512) return undefined;
  const match = TRACEPARENT.exec(text);
  if (!match) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId!) || /^0+$/.test(spanId!)) return undefined;
  return { traceId: traceId!, spanId: spanId!, flags: Number.parseInt(flags!, 16) };
}

/** The version-00 text of a trace context. */
export function formatTraceparent(parent: TraceParent): string {
  return `00-${parent.traceId}-${parent.spanId}-${(parent.flags & 0xff).toString(16).padStart(2, '0')}`;
}
