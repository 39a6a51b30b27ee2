// A log line inside a traced operation joins its trace: the record carries the
// active span's trace id, and its event that span's traceparent (read where
// the line was logged, not when the batch is sent).
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { EventChannel, MemoryHub, parseTraceparent } from '@eventwire/event-channel';
import { openTelemetryTracing } from '@eventwire/event-channel/otel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createEventLogger, logEvents } from '../src/index.js';

const test = suite('logger: trace context');
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())] });
const tracer = provider.getTracer('logger-test');

test.after(() => {
  context.disable();
  contextManager.disable();
});

test('records logged inside a span carry its trace id; their events its traceparent; outside, none', async () => {
  const hub = new MemoryHub();
  const channel = new EventChannel({ url: 'memory://logs', memoryHub: hub, events: logEvents });
  const tail = new EventChannel({ url: 'memory://logs', memoryHub: hub, events: logEvents });
  const seen: Array<{ traceId: string | undefined; traceparent: string | undefined }> = [];
  tail.on('log.#', (record, event) => void seen.push({ traceId: record.traceId, traceparent: event.traceparent }));
  await Promise.all([channel.ready(), tail.ready()]);
  const logger = createEventLogger({ channel, service: 'checkout', tracing: openTelemetryTracing({ tracer }) });
  let spanTrace = '';
  let spanId = '';
  tracer.startActiveSpan('charge card', (span) => {
    spanTrace = span.spanContext().traceId;
    spanId = span.spanContext().spanId;
    logger.info('charging {amount}', { amount: 12 });
    span.end();
  });
  logger.info('outside any span');
  await logger.flush();
  await tail.close();
  await channel.close();
  assert.is(seen.length, 2);
  assert.is(seen[0]!.traceId, spanTrace);
  assert.equal(parseTraceparent(seen[0]!.traceparent), { traceId: spanTrace, spanId, flags: 1 });
  assert.equal(seen[1], { traceId: undefined, traceparent: undefined });
});

test.run();
