// Compile-time tests: checked by `tsc --noEmit` in the test command, never run.
// Each `@ts-expect-error` must point at a real error, or tsc fails the build;
// each `expectType<Equal<…>>` fails to compile if the types drift.
// To extend: add a case next to the feature it pins, positive and negative.
import { z } from 'zod';
import WebSocket from 'ws';
import { channelDriver, createBroadcaster, httpDriver, nullDriver, pusherDriver, type Broadcastable } from '../src/broadcasting/index.js';
import {
  EventChannel,
  MemoryHub,
  RedisTransport,
  WsTransport,
  defineEvents,
  createTransport,
  disconnectReasons,
  type ChannelStatus,
  type DisconnectReason,
  type EventChannelOptions,
  type EventEnvelope,
  type GetToken,
  type NatsTransportOptions,
  type PostgresTransportOptions,
  type RedisTransportOptions,
  type KafkaTransportOptions,
  type TransportResolveOptions,
  type UntypedEvents,
  type WsTransportOptions,
  type EventStream,
  type MatchingTopics,
  type NormalisePattern,
  type PatternParams,
  type TopicMatchesPattern,
  type inferEventInputs,
  type inferEventOutputs,
} from '../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'order.item.added': z.object({ sku: z.string() }),
  'user.signup': z.object({ email: z.email(), at: z.string().transform((s) => new Date(s)) }),
});
type Shop = typeof shop;

// --- topic pattern types ----------------------------------------------------
expectType<Equal<TopicMatchesPattern<'a.b', 'a.*'>, true>>();
expectType<Equal<TopicMatchesPattern<'a.b.c', 'a.*'>, false>>();
expectType<Equal<TopicMatchesPattern<'a', 'a.#'>, true>>();
expectType<Equal<TopicMatchesPattern<'a.b.c', 'a.#'>, true>>();
expectType<Equal<TopicMatchesPattern<'x.b', 'a.#'>, false>>();
expectType<Equal<TopicMatchesPattern<'a.b', '#'>, true>>();
expectType<Equal<TopicMatchesPattern<'a.b', '*.b'>, true>>();
expectType<Equal<TopicMatchesPattern<'a.b', 'a.b'>, true>>();
expectType<Equal<TopicMatchesPattern<'a.b', 'a.#.b'>, false>>(); // `#` only last
expectType<Equal<MatchingTopics<keyof Shop & string, 'order.*'>, 'order.created' | 'order.shipped'>>();
expectType<Equal<MatchingTopics<keyof Shop & string, 'order.#'>, 'order.created' | 'order.shipped' | 'order.item.added'>>();
expectType<Equal<MatchingTopics<keyof Shop & string, '*.*.added'>, 'order.item.added'>>();
expectType<Equal<MatchingTopics<keyof Shop & string, string>, keyof Shop & string>>();

// --- input vs output ------------------------------------------------------
expectType<Equal<inferEventInputs<Shop>['user.signup'], { email: string; at: string }>>();
expectType<Equal<inferEventOutputs<Shop>['user.signup'], { email: string; at: Date }>>();

const channel = new EventChannel({ url: 'memory://types', events: shop });

// --- emit --------------------------------------------------------------------
void channel.emit('order.created', { id: 'o1', total: 42 });
void channel.emit('user.signup', { email: 'a@b.c', at: '2026-01-01T00:00:00Z' }); // input type: string
// @ts-expect-error unknown event name
void channel.emit('order.cancelled', { id: 'o1' });
// @ts-expect-error wrong payload type
void channel.emit('order.created', { id: 'o1', total: '42' });
// @ts-expect-error missing field
void channel.emit('order.created', { id: 'o1' });
// @ts-expect-error the output type (Date) is not what emit accepts
void channel.emit('user.signup', { email: 'a@b.c', at: new Date() });
// @ts-expect-error wildcards are for subscribing, not emitting
void channel.emit('order.*', { id: 'o1', total: 1 });

async function emitReturnsEnvelope(): Promise<void> {
  const sent = await channel.emit('order.shipped', { id: 'o1', carrier: 'ups' });
  expectType<Equal<typeof sent, EventEnvelope<'order.shipped', { id: string; carrier: string }>>>();
}
void emitReturnsEnvelope;

// --- on ------------------------------------------------------------------------
channel.on('order.created', (data, event) => {
  expectType<Equal<typeof data, { id: string; total: number }>>();
  expectType<Equal<typeof event.topic, 'order.created'>>();
});
channel.on('order.*', (data, event) => {
  expectType<Equal<typeof data, { id: string; total: number } | { id: string; carrier: string }>>();
  expectType<Equal<typeof event.topic, 'order.created' | 'order.shipped'>>();
  if (event.topic === 'order.shipped') {
    expectType<Equal<typeof event.data, { id: string; carrier: string }>>();
  }
});
channel.on('user.signup', (data) => {
  expectType<Equal<typeof data.at, Date>>(); // handlers get the output type
});
channel.on('#', (_data, event) => {
  expectType<Equal<typeof event.topic, keyof Shop>>();
});
// Handlers may return anything (e.g. an arrow around push); promises are awaited on close.
channel.on('order.created', (data) => [].push(data as never));
channel.on('order.created', async () => 'done');
const off = channel.on('order.#', () => {});
off();
void off.ready;
// @ts-expect-error pattern that matches no declared event
channel.on('ordr.*', () => {});
// @ts-expect-error `#` is only valid as the last segment
channel.on('order.#.created', () => {});
channel.on('order.created', (data) => {
  // @ts-expect-error carrier is not on order.created
  void data.carrier;
});

// --- captures: `{name}` is a one-segment wildcard whose value is event.params.name ---
expectType<Equal<NormalisePattern<'order.{id}.shipped'>, 'order.*.shipped'>>();
expectType<Equal<NormalisePattern<'order.#'>, 'order.#'>>();
expectType<Equal<PatternParams<'tenant.{tenant}.order.{id}.#'>, { readonly tenant: string; readonly id: string }>>();
expectType<Equal<PatternParams<string>, Readonly<Record<string, string>>>>();
channel.on('order.{id}', (data, event) => {
  expectType<Equal<typeof event.topic, 'order.created' | 'order.shipped'>>();
  expectType<Equal<typeof event.params, { readonly id: string }>>();
  expectType<Equal<typeof data, { id: string; total: number } | { id: string; carrier: string }>>();
});
channel.on('{kind}.item.{action}', (_data, event) => {
  expectType<Equal<typeof event.topic, 'order.item.added'>>();
  expectType<Equal<typeof event.params, { readonly kind: string; readonly action: string }>>();
});
channel.on('order.created', (_data, event) => {
  // @ts-expect-error a pattern without captures has no params
  void event.params;
});
channel.on('order.{id}', (_data, event) => {
  // @ts-expect-error only the names the pattern captures
  void event.params.orderId;
});
// @ts-expect-error a capture name used twice
channel.on('{x}.item.{x}', () => {});
// @ts-expect-error captures still have to match a declared event
channel.on('ordr.{id}', () => {});
async function capturedStreams(): Promise<void> {
  const shipped = await channel.once('order.{id}', { timeoutMs: 10 });
  expectType<Equal<typeof shipped.params.id, string>>();
  for await (const event of channel.subscribe('{kind}.#')) expectType<Equal<typeof event.params.kind, string>>();
}
void capturedStreams;
const untypedCaptures = new EventChannel({ url: 'memory://types-untyped' });
untypedCaptures.on('a.{x}', (_data, event) => {
  expectType<Equal<typeof event.params, { readonly x: string }>>();
});
const dynamicPattern: string = 'a.{x}';
untypedCaptures.on(dynamicPattern, (_data, event) => {
  expectType<Equal<typeof event.params, Readonly<Record<string, string>> | undefined>>();
});

// --- once / subscribe ----------------------------------------------------------
async function streams(signal: AbortSignal): Promise<void> {
  const shipped = await channel.once('order.shipped', { timeoutMs: 10 });
  expectType<Equal<typeof shipped.data, { id: string; carrier: string }>>();
  const stream = channel.subscribe('order.*', { signal, bufferSize: 10, overflow: 'error' });
  expectType<Equal<typeof stream, EventStream<EventEnvelope<'order.created', { id: string; total: number }> | EventEnvelope<'order.shipped', { id: string; carrier: string }>>>>();
  for await (const event of stream) {
    if (event.topic === 'order.created') expectType<Equal<typeof event.data.total, number>>();
  }
  // @ts-expect-error unknown overflow policy
  channel.subscribe('#', { overflow: 'drop-newest' });
}
void streams;

// --- untyped channel: unknown, never any --------------------------------------
const untyped = new EventChannel({ url: 'memory://untyped' });
void untyped.emit('anything.goes', { whatever: true });
untyped.on('a.*', (data, event) => {
  expectType<Equal<typeof data, unknown>>();
  expectType<Equal<typeof event.topic, string>>();
});

// --- status is a closed union ------------------------------------------------
function describe(status: ChannelStatus): string {
  switch (status.state) {
    case 'connecting':
    case 'open':
      return status.state;
    case 'reconnecting':
      return `retry ${status.attempt} in ${status.delayMs}`;
    case 'closed':
      return status.error?.code ?? 'closed';
    default: {
      const exhaustive: never = status;
      return exhaustive;
    }
  }
}
void describe;

// --- a failed connection says why: a closed set of reasons; ready takes a bound --
function why(status: ChannelStatus): DisconnectReason | undefined {
  if (status.state === 'reconnecting' || status.state === 'closed') return status.reason;
  // @ts-expect-error only reconnecting and closed carry a reason
  return status.reason;
}
void why;
expectType<Equal<(typeof disconnectReasons)[number], DisconnectReason>>();
// @ts-expect-error not a reason
const notAReason: DisconnectReason = 'econnrefused';
void notAReason;
expectType<Equal<ReturnType<EventChannel['ready']>, Promise<void>>>();
void (null as unknown as EventChannel).ready({ within: 5000 });
// @ts-expect-error within is a number of milliseconds
void (null as unknown as EventChannel).ready({ within: '5s' });

// --- topic families: `*` keys stand for open-ended topics ---------------------
const logs = defineEvents({
  'log.error.*': z.object({ message: z.string(), stack: z.string().optional() }),
  'log.info.*': z.object({ message: z.string() }),
  'chat.room.*.message': z.object({ text: z.string() }),
});
const logChannel = new EventChannel({ url: 'memory://logs', events: logs });
void logChannel.emit('log.error.payments', { message: 'boom', stack: 'at …' });
void logChannel.emit('chat.room.lobby.message', { text: 'hi' });
// @ts-expect-error the family's schema applies
void logChannel.emit('log.info.payments', { message: 1 });
// @ts-expect-error no family covers log.debug
void logChannel.emit('log.debug.payments', { message: 'x' });
// @ts-expect-error a family segment is one segment, the topic must fill it
void logChannel.emit('log.error', { message: 'x' });
// @ts-expect-error a `*` is exactly one segment: the runtime refuses this with unknown_event
void logChannel.emit('log.error.a.b', { message: 'x' });
// @ts-expect-error a segment is never empty (invalid_topic at run time)
void logChannel.emit('log.error.', { message: 'x' });
// @ts-expect-error nor in the middle of a key
void logChannel.emit('chat.room.a.b.message', { text: 'x' });
// A topic built at run time is checked at run time.
declare const service: string;
void logChannel.emit(`log.error.${service}`, { message: 'x' });
logChannel.on('log.*.payments', (data, event) => {
  expectType<Equal<typeof event.topic, `log.error.${string}` | `log.info.${string}`>>();
  expectType<Equal<typeof data.message, string>>();
});
logChannel.on('log.error.*', (data) => {
  expectType<Equal<typeof data, { message: string; stack?: string | undefined }>>();
});
logChannel.on('chat.room.*.message', (data) => void data.text);
// @ts-expect-error matches no family
logChannel.on('metrics.#', () => {});

// --- named family segments: `{name}` keys are families, typed as `*` ---------
const orderFamily = defineEvents({
  'order.{orderId}.shipped': z.object({ carrier: z.string() }),
  'tenant.{tenant}.order.{orderId}': z.object({ total: z.number() }),
});
const orderFamilyChannel = new EventChannel({ url: 'memory://named', events: orderFamily });
void orderFamilyChannel.emit('order.7.shipped', { carrier: 'ups' });
void orderFamilyChannel.emit('tenant.acme.order.7', { total: 1 });
// @ts-expect-error the family's schema applies
void orderFamilyChannel.emit('order.7.shipped', { carrier: 1 });
// @ts-expect-error a named segment is exactly one segment
void orderFamilyChannel.emit('order.7.8.shipped', { carrier: 'ups' });
// @ts-expect-error no key declares order.7.paid
void orderFamilyChannel.emit('order.7.paid', { carrier: 'ups' });
orderFamilyChannel.on('order.*.shipped', (data, event) => {
  expectType<Equal<typeof event.topic, `order.${string}.shipped`>>();
  expectType<Equal<typeof data, { carrier: string }>>();
});
orderFamilyChannel.on('order.{id}.shipped', (data, event) => {
  expectType<Equal<typeof event.params, { readonly id: string }>>();
  expectType<Equal<typeof data.carrier, string>>();
});
expectType<Equal<keyof typeof orderFamily, 'order.{orderId}.shipped' | 'tenant.{tenant}.order.{orderId}'>>();
// @ts-expect-error a capture name used twice in one key (duplicate_capture at run time)
defineEvents({ 'a.{x}.{x}': z.object({}) });

// --- options -----------------------------------------------------------------
// @ts-expect-error a channel needs a url or a transport
new EventChannel({ events: shop });

// --- history: since and gaps ---------------------------------------------------
const historyChannel = new EventChannel({ url: 'memory://history-types', events: shop });
historyChannel.on('order.*', (data) => void data, { since: 'earliest' });
historyChannel.on('order.*', (data) => void data, { since: '01JEPOCH:42' });
historyChannel.subscribe('order.*', { since: { last: 50 } });
// @ts-expect-error since is 'earliest', an offset string or { last: n }
historyChannel.on('order.*', () => {}, { since: 42 });
historyChannel.onGap((gap) => {
  expectType<Equal<typeof gap.reason, 'epoch' | 'trimmed' | 'no_history' | 'replay_limit'>>();
  expectType<Equal<typeof gap.lastOffset, string | undefined>>();
});

// Credentials: getToken returns a token (or its promise), for URL channels only.
new EventChannel({ url: 'ws://localhost:15500', getToken: () => 'token' });
new EventChannel({ url: 'ws://localhost:15500', getToken: async () => (await Promise.resolve('token')).trim() });
// @ts-expect-error a token is a string
new EventChannel({ url: 'ws://localhost:15500', getToken: () => 42 });
// @ts-expect-error a custom transport brings its own credentials
new EventChannel({ transport: new MemoryHub().transport('x'), getToken: () => 'token' });
// One name for the function asked for a token: getToken, on the channel and on
// WsTransport. ws.token is a fixed string; a function there still compiles for
// this release (deprecated, DeprecatedTokenFunction), and is the same type.
new WsTransport({ url: 'ws://localhost:15500', getToken: () => 'token' });
new EventChannel({ url: 'ws://localhost:15500', ws: { token: 'api-key' } });
new WsTransport({ url: 'ws://localhost:15500', token: 'api-key' });
new EventChannel({ url: 'ws://localhost:15500', ws: { token: async () => 'token' } });
new WsTransport({ url: 'ws://localhost:15500', token: () => 'token' });
expectType<Equal<NonNullable<WsTransportOptions['token']>, string | GetToken>>();
expectType<Equal<NonNullable<WsTransportOptions['getToken']>, GetToken>>();
// @ts-expect-error on a channel, getToken goes at the top, beside the URL (one place for it)
new EventChannel({ url: 'ws://localhost:15500', ws: { getToken: () => 'token' } });
// @ts-expect-error getToken returns a token, not a number
new WsTransport({ url: 'ws://localhost:15500', getToken: () => 42 });

// The channel's transport options are each transport's own options, minus the
// URL (declared once, in the transport's file), plus the shared getToken.
type UrlChannelOptions = Extract<EventChannelOptions<UntypedEvents>, { readonly url: unknown }>;
expectType<Equal<NonNullable<UrlChannelOptions['ws']>, Omit<WsTransportOptions, 'url' | 'getToken'>>>();
expectType<Equal<NonNullable<UrlChannelOptions['nats']>, Omit<NatsTransportOptions, 'url'>>>();
expectType<Equal<NonNullable<UrlChannelOptions['redis']>, Omit<RedisTransportOptions, 'url'>>>();
expectType<Equal<NonNullable<UrlChannelOptions['postgres']>, Omit<PostgresTransportOptions, 'url'>>>();
expectType<Equal<NonNullable<UrlChannelOptions['memoryHub']>, MemoryHub>>();
expectType<Equal<NonNullable<UrlChannelOptions['getToken']>, GetToken>>();
expectType<Equal<NonNullable<UrlChannelOptions['kafka']>, Omit<KafkaTransportOptions, 'url'>>>();
expectType<Equal<keyof TransportResolveOptions, 'memoryHub' | 'ws' | 'nats' | 'redis' | 'postgres' | 'kafka' | 'getToken'>>();
createTransport('nats://a:4222', { nats: { servers: ['nats://b:4222'] } });
// @ts-expect-error createTransport takes the same option bags as the channel
createTransport('ws://localhost:15500', { ws: { outboxSize: 'many' } });

const untypedForToOthers = new EventChannel({ url: 'ws://localhost:15500' });
// to_others is an emit option; the connection id is a string while connected.
void untypedForToOthers.emit('chat.lobby', 'hi', { toOthers: true, ack: true });
// @ts-expect-error toOthers is a boolean
void untypedForToOthers.emit('chat.lobby', 'hi', { toOthers: 'yes' });
expectType<Equal<typeof untypedForToOthers.connectionId, string | undefined>>();

// Presence: members typed by the member schema's output; plain JSON without one.
const presenceChannel = new EventChannel({ url: 'ws://localhost:15500', events: shop });
const room = presenceChannel.presence('presence-room.7', { member: z.object({ name: z.string(), since: z.string().transform((s) => new Date(s)) }) });
room.onJoin((member) => {
  expectType<Equal<typeof member.id, string>>();
  expectType<Equal<typeof member.info, { name: string; since: Date }>>();
});
room.onLeave((member) => void member.info.name.toUpperCase());
room.onSync((members) => expectType<Equal<(typeof members)[number]['info']['since'], Date>>());
expectType<Equal<ReturnType<typeof room.members>[number]['info'], { name: string; since: Date }>>();
expectType<Equal<typeof room.ready, Promise<void>>>();
// @ts-expect-error the schema has no such field
room.onJoin((member) => member.info.email);
const plainRoom = presenceChannel.presence('presence-lobby');
expectType<Equal<ReturnType<typeof plainRoom.members>[number]['info'], Readonly<Record<string, unknown>>>>();
// @ts-expect-error a presence channel's name starts with presence-
presenceChannel.presence('room.7');
// @ts-expect-error a member schema is a Standard Schema
presenceChannel.presence('presence-room.7', { member: { name: 'string' } });

// `ws`'s WebSocket class fits the transport's socket type, as the browser's does.
new WsTransport({ url: 'ws://localhost:15500', WebSocket });
new EventChannel({ url: 'ws://localhost:15500', ws: { WebSocket } });

// Broadcasts are checked against the event map where they name a topic of it.
const typedBroadcast = createBroadcaster(channelDriver(new EventChannel({ url: 'memory://types', events: shop })));
class OrderShipped {
  constructor(readonly id: string, readonly carrier: string, readonly secret: string) {}
  broadcastOn() {
    return 'order.shipped' as const;
  }
  broadcastWith() {
    return { id: this.id, carrier: this.carrier };
  }
}
void typedBroadcast(new OrderShipped('o1', 'dhl', 'x'));
void typedBroadcast({ broadcastOn: () => ['order.shipped', 'order.created'] as const, broadcastWith: () => ({ id: 'o1', carrier: 'dhl', total: 3 }) });
// Without broadcastWith the data is the object's own fields.
void typedBroadcast({ broadcastOn: () => 'order.created' as const, id: 'o1', total: 3 });
// @ts-expect-error carrier is missing for order.shipped
void typedBroadcast({ broadcastOn: () => 'order.shipped' as const, broadcastWith: () => ({ id: 'o1' }) });
// @ts-expect-error order.created needs a total, one of the two channels fails
void typedBroadcast({ broadcastOn: () => ['order.shipped', 'order.created'] as const, broadcastWith: () => ({ id: 'o1', carrier: 'dhl' }) });
// @ts-expect-error the own fields do not fit order.created
void typedBroadcast({ broadcastOn: () => 'order.created' as const, id: 'o1' });
// Channels named at run time (string) or outside the map are checked at run time.
const dynamicChannel: string = 'private-user.1';
void typedBroadcast({ broadcastOn: () => dynamicChannel, broadcastWith: () => ({ anything: true }) });
void typedBroadcast({ broadcastOn: () => 'private-user.1' as const, broadcastWith: () => ({ anything: true }) });
const typedHttp = createBroadcaster(httpDriver({ url: 'http://localhost:15500', events: shop }));
// @ts-expect-error the http driver with an event map checks the same way
void typedHttp({ broadcastOn: () => 'order.shipped' as const, broadcastWith: () => ({ id: 1 }) });
const typedPusher = createBroadcaster(pusherDriver({ appId: '1', key: 'k', secret: 's', cluster: 'eu', events: shop }));
void typedPusher(new OrderShipped('o1', 'dhl', 'x')).toOthers('123.456');
// @ts-expect-error the pusher driver with an event map checks the same way
void typedPusher({ broadcastOn: () => 'order.shipped' as const, broadcastWith: () => ({ id: 'o1' }) });
// @ts-expect-error one channel of the two does not fit (order.created needs a total)
void typedPusher({ broadcastOn: () => ['order.shipped', 'order.created'] as const, broadcastWith: () => ({ id: 'o1', carrier: 'dhl' }) });
void createBroadcaster(pusherDriver({ appId: '1', key: 'k', secret: 's' }))({ broadcastOn: () => 'order.shipped' as const, broadcastWith: () => ({ id: 1 }) });
// @ts-expect-error the app id, key and secret are required
pusherDriver({ key: 'k', secret: 's' });
// @ts-expect-error a port is a number
pusherDriver({ appId: '1', key: 'k', secret: 's', port: '6001' });
// Untyped drivers take any broadcastable.
void createBroadcaster(nullDriver())({ broadcastOn: () => 'order.shipped' as const, broadcastWith: () => ({ id: 1 }) });
const asInterface: Broadcastable<'order.shipped', { id: string; carrier: string }> = { broadcastOn: () => 'order.shipped', broadcastWith: () => ({ id: 'o', carrier: 'c' }) };
void typedBroadcast(asInterface);

// redis:// and postgres:// options are typed, and only beside a URL (type-checked only: nothing connects).
new EventChannel({ url: 'redis://localhost:6379', redis: { prefix: 'app:', coalescePublishes: false } });
new EventChannel({ url: 'postgres://app@db/shop', postgres: { channel: 'shop_events', largeEventRetentionMs: 60_000 } });
// @ts-expect-error: a prefix is a string
new EventChannel({ url: 'redis://localhost:6379', redis: { prefix: 1 } });
// @ts-expect-error: no such PostgreSQL option
new EventChannel({ url: 'postgres://app@db/shop', postgres: { listenChannel: 'x' } });
// @ts-expect-error: transport options need a URL, not a transport
new EventChannel({ transport: new RedisTransport({ url: 'redis://x' }), redis: { prefix: 'a' } });
