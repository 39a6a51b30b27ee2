// Trace context end to end, with the OpenTelemetry SDK's in-memory exporter:
// a publisher's emit (producer span, a child of the code's active span), the
// broker's routing (a child of it), a hook's derived event (a child of that),
// every subscriber's handler (consumer spans, the handler running inside its
// own), and HTTP publishes carrying a `traceparent` header — invalid ones
// ignored, as the W3C spec says.
import { SpanKind, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { EventChannel, parseTraceparent } from '@eventwire/event-channel';
import { openTelemetryTracing } from '@eventwire/event-channel/otel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startBroker, until, type TestBroker } from './helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager().enable();
context.setGlobalContextManager(contextManager);
const tracer = provider.getTracer('eventwire-test');
const tracing = openTelemetryTracing({ tracer });

const test = suite<{ server: TestBroker<never> }>('tracing (W3C traceparent, OpenTelemetry spans)');

test.before(async (context_) => {
  context_.server = (await startBroker({ tracing, allowUnknownTopics: true }, (broker) => {
    broker.intercept('order.created', (event, hook) => hook.emit('audit.logged' as never, { of: event.id } as never));
  })) as never;
});
test.after(async (context_) => {
  await context_.server.stop();
  context.disable();
  contextManager.disable();
});
test.before.each(() => exporter.reset());

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string): ReadableSpan => {
  const span = spans().find((each) => each.name === name);
  assert.ok(span, `a span "${name}" among ${spans().map((each) => each.name).join(', ')}`);
  return span;
};
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

test('one trace from the emitting code through the broker and its hook to every handler', async ({ server }) => {
  const publisher = new EventChannel({ url: server.url, tracing });
  const subscriber = new EventChannel({ url: server.url, tracing });
  const activeInHandler: Array<string | undefined> = [];
  subscriber.on('order.created', () => void activeInHandler.push(trace.getActiveSpan()?.spanContext().spanId));
  subscriber.on('audit.logged', () => void activeInHandler.push(trace.getActiveSpan()?.spanContext().spanId));
  await Promise.all([publisher.ready(), subscriber.ready()]);
  try {
    await tracer.startActiveSpan('checkout', async (checkout) => {
      await publisher.emit('order.created', { id: 'o1' }, { ack: true });
      checkout.end();
    });
    await until(() => activeInHandler.length === 2 && spans().some((span) => span.name === 'audit.logged process'), 'both handlers and their spans');

    const checkout = named('checkout');
    const publish = named('order.created publish');
    const route = named('order.created route');
    const processSpan = named('order.created process');
    const derivedRoute = named('audit.logged route');
    const derivedProcess = named('audit.logged process');
    const traceId = checkout.spanContext().traceId;
    for (const span of [publish, route, processSpan, derivedRoute, derivedProcess]) assert.is(span.spanContext().traceId, traceId, `${span.name} is in the trace`);
    assert.is(publish.kind, SpanKind.PRODUCER);
    assert.is(parentOf(publish), checkout.spanContext().spanId, 'the emit is a child of the active span');
    assert.is(parentOf(route), publish.spanContext().spanId, 'the broker routes as a child of the emit');
    assert.is(processSpan.kind, SpanKind.CONSUMER);
    assert.is(parentOf(processSpan), route.spanContext().spanId, 'the handler is a child of the routing');
    assert.is(parentOf(derivedRoute), route.spanContext().spanId, "the hook's event continues the trace");
    assert.is(parentOf(derivedProcess), derivedRoute.spanContext().spanId);
    assert.equal(activeInHandler.sort(), [processSpan.spanContext().spanId, derivedProcess.spanContext().spanId].sort(), 'handlers run inside their spans');
    assert.is(route.attributes['messaging.destination.name'], 'order.created');
    assert.is(route.attributes['messaging.system'], 'eventwire');
  } finally {
    await publisher.close();
    await subscriber.close();
  }
});

test('an HTTP publish joins the trace of its traceparent header; an invalid header is ignored (a new trace)', async ({ server }) => {
  const subscriber = new EventChannel({ url: server.url });
  const received: Array<string | undefined> = [];
  subscriber.on('invoice.paid', (_data, event) => void received.push(event.traceparent));
  await subscriber.ready();
  try {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const post = (traceparent: string) =>
      fetch(`${server.httpUrl}/pubsub/invoice.paid/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', traceparent },
        body: JSON.stringify({ payload: { id: 1 } }),
      });
    assert.is((await post(parent)).status, 200);
    assert.is((await post('00-00000000000000000000000000000000-b7ad6b7169203331-01')).status, 200);
    await until(() => received.length === 2, 'both events');
    const routes = spans().filter((span) => span.name === 'invoice.paid route');
    assert.is(routes.length, 2);
    assert.is(routes[0]!.spanContext().traceId, '0af7651916cd43dd8448eb211c80319c');
    assert.is(parentOf(routes[0]!), 'b7ad6b7169203331');
    assert.not.equal(routes[1]!.spanContext().traceId, '00000000000000000000000000000000');
    assert.is(parentOf(routes[1]!), undefined, 'the all-zero trace id is invalid: a root span');
    // Subscribers receive the broker span's traceparent, a valid W3C one.
    assert.is(parseTraceparent(received[0])?.spanId, routes[0]!.spanContext().spanId);
    assert.is(parseTraceparent(received[0])?.traceId, '0af7651916cd43dd8448eb211c80319c');
  } finally {
    await subscriber.close();
  }
});

test('traceparent: the W3C rules (version ff, all-zero ids, extra fields only after version 00)', () => {
  assert.equal(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'), {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    flags: 1,
  });
  for (const bad of [
    'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
    '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
    '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra',
    'not a traceparent',
  ]) {
    assert.is(parseTraceparent(bad), undefined, bad);
  }
  assert.ok(parseTraceparent('01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future'), 'a later version may add fields');
});

test.run();
