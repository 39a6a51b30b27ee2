// Compile-time tests for hook typing (checked by tsc in the test command).
import { P } from 'ts-pattern';
import { z } from 'zod';
import { defineEvents, type EventwireError } from '@eventwire/event-channel';
import { EventBrokerServer, defineBrokerConfig, pusherWebhookEventTypes } from '../src/index.js';
import type { AuthRequest, BrokerStats, PusherWebhookEventType, PusherWebhookStats } from '../src/index.js';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | void {}

const shop = defineEvents({
  'order.created': z.object({ id: z.string(), total: z.number() }),
  'order.shipped': z.object({ id: z.string(), carrier: z.string() }),
  'fraud.review': z.object({ orderId: z.string() }),
});
const broker = new EventBrokerServer({ events: shop });

broker.intercept('order.*', (event, ctx) => {
  expectType<Equal<typeof event.topic, 'order.created' | 'order.shipped'>>();
  if (event.topic === 'order.created') expectType<Equal<typeof event.data.total, number>>();
  ctx.emit('fraud.review', { orderId: event.data.id });
  // @ts-expect-error derived events are typed too
  ctx.emit('fraud.review', { orderId: 1 });
  // @ts-expect-error unknown derived topic
  ctx.emit('fraud.unknown', {});
  ctx.setMetadata('k', 'v');
});

broker.intercept('order.created', (_event, ctx) => {
  ctx.transform({ id: 'x', total: 2 });
  // @ts-expect-error a transform must keep the topic's data type
  ctx.transform({ id: 'x', total: 'two' });
});

// ts-pattern selectors narrow the event.
broker.observe({ topic: 'order.created', data: { total: P.number.gte(1000) } }, (event, ctx) => {
  expectType<Equal<typeof event.topic, 'order.created'>>();
  expectType<Equal<typeof event.data.total, number>>();
  expectType<Equal<typeof ctx.notified, number>>();
});

// Captures: `{name}` matches as `*`, and the context carries params typed from the pattern.
broker.observe('order.{kind}', (event, ctx) => {
  expectType<Equal<typeof event.topic, 'order.created' | 'order.shipped'>>();
  expectType<Equal<typeof ctx.params, { readonly kind: string }>>();
  expectType<Equal<typeof ctx.notified, number>>();
});
broker.intercept('{area}.{kind}', (_event, ctx) => {
  expectType<Equal<typeof ctx.params, { readonly area: string; readonly kind: string }>>();
  // @ts-expect-error only the names the pattern captures
  void ctx.params.id;
});
broker.observe('order.created', (_event, ctx) => {
  // @ts-expect-error a pattern without captures gives no params
  void ctx.params;
});
// @ts-expect-error a capture name used twice
broker.observe('{x}.{x}', () => {});

// @ts-expect-error a topic pattern that matches no declared event
broker.observe('ordr.*', () => {});

// Named hooks: a name (and for observers a queue size) in the options.
broker.observe('order.*', () => {}, { name: 'billing', queueSize: 100 });
broker.intercept('order.created', () => {}, { name: 'fraud gate' });
broker.intercept({ topic: 'order.created' }, () => {}, { name: 'by shape' });
// @ts-expect-error a name is a string
broker.observe('order.*', () => {}, { name: 1 });
// @ts-expect-error intercepts have no queue
broker.intercept('order.*', () => {}, { queueSize: 1 });
expectType<Equal<ReturnType<typeof broker.stats>['hooks'][number]['builtin'], boolean>>();

// Structured logs: the logger gets records with a closed level union and stable optional fields.
new EventBrokerServer({
  logger: (record) => {
    expectType<Equal<typeof record.level, 'debug' | 'info' | 'warn' | 'error'>>();
    expectType<Equal<typeof record.code, string | undefined>>();
    expectType<Equal<typeof record.conn, string | undefined>>();
  },
});
// @ts-expect-error a logger takes records, not lines
new EventBrokerServer({ logger: (line: string) => void line });

void broker.publish('order.shipped', { id: 'o', carrier: 'dhl' });
// @ts-expect-error server-side publishes are typed
void broker.publish('order.shipped', { id: 'o' });

// Untyped broker: unknown data, never any.
const loose = new EventBrokerServer();
loose.observe('anything.#', (event) => {
  expectType<Equal<typeof event.data, unknown>>();
});

// Topic families: a `*` is exactly one segment, as the broker checks at run time.
const logBroker = new EventBrokerServer({ events: defineEvents({ 'log.error.*': z.object({ message: z.string() }) }) });
void logBroker.publish('log.error.payments', { message: 'x' });
// @ts-expect-error two segments where the family has one
void logBroker.publish('log.error.a.b', { message: 'x' });
logBroker.intercept('log.error.*', (_event, ctx) => {
  // @ts-expect-error derived events too
  ctx.emit('log.error.a.b', { message: 'x' });
});

// defineBrokerConfig: setup's broker, and so every hook, is typed by `events`.
defineBrokerConfig({
  events: shop,
  maxPayloadBytes: '1mb',
  setup(typed) {
    typed.intercept('order.created', (event) => {
      expectType<Equal<typeof event.data.total, number>>();
    });
    // @ts-expect-error a pattern that matches no declared event
    typed.observe('ordr.*', () => {});
  },
});
// @ts-expect-error a port is a number
defineBrokerConfig({ port: '80' });
// @ts-expect-error unknown keys are refused at compile time too
defineBrokerConfig({ prot: 80 });

// Channel rules: params typed from the template, in code and in a config file.
broker.channel('private-user.{userId}', (user, params, channel) => {
  expectType<Equal<typeof params, { readonly userId: string }>>();
  expectType<Equal<typeof channel, string>>();
  // @ts-expect-error the template names no orderId
  void params.orderId;
  return user?.id === params.userId;
});
broker.channel('presence-room.{roomId}.{seat}', async (_user, { roomId, seat }) => roomId.length > 0 && seat !== '');
// @ts-expect-error a rule answers with a boolean
broker.channel('private-x.{id}', () => 'yes');
defineBrokerConfig({
  channels: {
    'private-order.{orderId}': (user, { orderId }) => user?.id === orderId,
    // @ts-expect-error each rule's params come from its own template
    'private-team.{teamId}': (_user, { orderId }) => orderId === 'x',
  },
});

// Permissions, API keys and limits are typed config.
defineBrokerConfig({
  apiKeys: [{ key: 'a-key-of-sixteen-chars', user: 'svc', permissions: { publish: ['order.*'] } }],
  permissions: { users: { svc: { subscribe: ['inventory.#'] } }, anonymous: { publish: [] } },
  rateLimits: { publish: { perConnection: { perSecond: 100, burst: 200 } }, failedAuth: { perIp: { perSecond: 1 } } },
  maxConnectionsPerIp: 100,
});
// @ts-expect-error grants are lists of patterns
defineBrokerConfig({ permissions: { authenticated: { publish: 'order.*' } } });
// @ts-expect-error a rate needs perSecond
defineBrokerConfig({ rateLimits: { connect: { perIp: { burst: 5 } } } });

// The user rules and hooks see is the app's own: BrokerUser is open for augmentation.
declare module '../src/index.js' {
  interface BrokerUser {
    readonly role?: 'admin' | 'member';
  }
}
broker.channel('private-admin.{area}', (user) => user?.role === 'admin');
// @ts-expect-error 'root' is not a role of this app
broker.channel('private-root.{area}', (user) => user?.role === 'root');
broker.observe('order.created', (_event, ctx) => {
  expectType<Equal<NonNullable<typeof ctx.origin.user>['role'], 'admin' | 'member' | undefined>>();
});

// The Pusher surface: apps need id, key and secret; the auth handlers are typed for their frameworks.
new EventBrokerServer({ pusher: true });
new EventBrokerServer({ pusher: { apps: [{ id: 'shop', key: 'shop-key', secret: 'shop-secret', clientEvents: false }], authPath: '/auth', allowedOrigins: '*' } });
// @ts-expect-error an app needs its secret
new EventBrokerServer({ pusher: { apps: [{ id: 'shop', key: 'shop-key' }] } });
// @ts-expect-error allowedOrigins is a list or '*'
defineBrokerConfig({ pusher: { allowedOrigins: 'https://app.example' } });
// Pusher webhooks: event types are a closed list; the stats name them per app and URL.
new EventBrokerServer({
  pusher: { apps: [{ id: 'shop', key: 'shop-key', secret: 'shop-secret', webhooks: [{ url: 'https://h/p', eventTypes: ['channel_occupied', 'client_event'], filter: { channelPrefix: 'private-' } }] }], webhookRemovalDelayMs: 0 },
});
// @ts-expect-error not a Pusher webhook event type
new EventBrokerServer({ pusher: { apps: [{ id: 'shop', key: 'shop-key', secret: 'shop-secret', webhooks: [{ url: 'https://h/p', eventTypes: ['channel_exploded'] }] }] } });
expectType<Equal<NonNullable<BrokerStats['pusherWebhooks']>[number], PusherWebhookStats>>();
expectType<Equal<PusherWebhookEventType, (typeof pusherWebhookEventTypes)[number]>>();
expectType<Equal<ReturnType<typeof broker.pusherAuthFetch>, (request: Request, clientAddress?: string) => Promise<Response>>>();
// A publish's origin names the surfaces clients publish through (Synap and
// broadcasting clients only listen; Synap's HTTP publishes are `http`), plus
// `echo`, the surface test/custom-surface.test.ts registers in SurfaceRegistry
// (and `engine-echo`, test/conformance/engine-echo-surface.ts's, which only listens).
broker.observe('order.created', (_event, ctx) => {
  expectType<Equal<typeof ctx.origin.surface, 'native' | 'pusher' | 'socketio' | 'echo' | 'http' | 'broker'>>();
});
expectType<Equal<AuthRequest['surface'], 'native' | 'synap' | 'broadcasting' | 'pusher' | 'socketio' | 'echo' | 'engine-echo' | 'http'>>();
expectType<Equal<keyof BrokerStats['connections'], 'native' | 'synap' | 'broadcasting' | 'pusher' | 'socketio' | 'echo' | 'engine-echo'>>();

// Metrics: on by default; topic groups are patterns.
new EventBrokerServer({ metrics: false });
new EventBrokerServer({ metrics: { topicGroups: ['order.#', 'chat.*'], path: '/internal/metrics', defaultMetrics: false } });
// @ts-expect-error topic groups are a list of patterns
new EventBrokerServer({ metrics: { topicGroups: 'order.#' } });

// Configuration declared once (settings.ts): every declared option is a
// BrokerOptions field of the declared type, and a schema whose output does
// not fit its option does not compile (unless toOption converts it).
{
  type Options = import('../src/options.js').BrokerOptions;
  type Resolved = import('../src/options.js').ResolvedBrokerOptions;
  type Declared = import('../src/settings.js').OptionSettings;
  expectType<Equal<Exclude<keyof Declared, keyof Options>, never>>();
  expectType<Equal<{ [K in keyof Declared]: Options[K] }, { [K in keyof Declared]: import('../src/settings.js').OptionOf<Declared[K]> | undefined }>>();
  expectType<Equal<Options['port'], number | undefined>>();
  expectType<Equal<Options['history'], readonly import('@eventwire/event-channel/protocol').HistoryRule[] | undefined>>();
  // What the broker works with: every default applied, `false` is off.
  expectType<Equal<Resolved['port'], number>>();
  expectType<Equal<Resolved['maxConnections'], number>>();
  expectType<Equal<Resolved['allowAnonymous'], boolean>>();
  expectType<Equal<Resolved['broadcastingPath'], string | undefined>>();
  expectType<Equal<Resolved['dataDir'], string | undefined>>();
  expectType<Equal<Resolved['pusher'], import('../src/options.js').PusherOptions | undefined>>();
  expectType<Equal<typeof import('../src/options.js').brokerDefaults.port, 15500>>();
  // Still options: the broker can keep the resolved ones in place of what it was given.
  expectType<Resolved extends Options ? true : false>();
  // A config file may write sizes and ages as text; an option may not.
  defineBrokerConfig({ maxPayloadBytes: '1mb', history: [{ pattern: 'order.#', maxAge: '24h' }] });
  // @ts-expect-error options hold bytes
  new EventBrokerServer({ maxPayloadBytes: '1mb' });

  const { option } = await import('../src/settings.js');
  const entry = { flag: 'x', env: 'EVENTWIRE_X', help: 'x', read: (text: unknown) => text };
  option<number>()({ ...entry, schema: z.number() });
  // @ts-expect-error a string schema cannot set a number option…
  option<number>()({ ...entry, schema: z.string() });
  // …unless toOption says how
  option<number>()({ ...entry, schema: z.string(), toOption: (text) => text.length });
  // @ts-expect-error an optional field cannot fill a required one
  option<{ a: number }>()({ ...entry, schema: z.object({ a: z.number().optional() }) });
  option<{ a?: number }>()({ ...entry, schema: z.object({ a: z.number().optional() }) });
  // A schema whose output may be undefined (false preprocessed away: off) leaves the option unset; the rest must fit.
  option<boolean | { a: number }>()({ ...entry, schema: z.preprocess((value) => (value === false ? undefined : value), z.strictObject({ a: z.number() }).optional()) });
  // @ts-expect-error …but what is not undefined still must
  option<boolean | { a: number }>()({ ...entry, schema: z.strictObject({ a: z.string() }).optional() });
}

// The Socket.IO surface's public types: a config names what it writes in setup.
{
  type SocketIoTypes = typeof import('../src/index.js');
  const options: import('../src/index.js').SocketIoOptions = { cors: { origin: ['https://app.example'] }, recovery: { maxDisconnectionDuration: 60_000 }, redis: { url: 'redis://127.0.0.1:6379' } };
  void options;
  // @ts-expect-error redis takes a URL or { url, channel?, key? }
  const wrong: import('../src/index.js').SocketIoOptions = { redis: { host: 'x' } };
  void wrong;
  const onConnection = (socket: import('../src/index.js').SocketIoSocket): string => socket.id;
  defineBrokerConfig({
    socketio: true,
    setup(broker) {
      const io = broker.socketio;
      if (!io) return;
      expectType<Equal<typeof io, import('../src/index.js').SocketIoServer>>();
      io.of('/admin').on('connection', onConnection);
      // @ts-expect-error a namespace starts with "/"
      io.of('admin');
      const emitted: true = io.to('chat.7').except(['a']).volatile.emit('UpdateChat', { id: 7 });
      void emitted;
      // Acks the server asks for: a timed callback's error is an EventwireError; broadcast acks gather answers.
      io.on('connection', (socket) => {
        socket.timeout(1000).emit('ping', ((error, ...answer) => {
          expectType<Equal<typeof error, EventwireError | null>>();
          expectType<Equal<typeof answer, unknown[]>>();
        }) satisfies import('../src/index.js').SocketIoAckWithError);
        const answer: Promise<unknown> = socket.emitWithAck('ping');
        const timed: import('../src/index.js').SocketIoTimedEmitter = socket.timeout(10);
        void answer;
        void timed;
      });
      const answers: Promise<unknown[]> = io.to('chat.7').timeout(1000).emitWithAck('poll');
      io.timeout(1000).emit('poll', ((error, responses) => void [error, responses]) satisfies import('../src/index.js').SocketIoBroadcastAck);
      const found: Promise<import('../src/index.js').SocketIoRemoteSocket[]> = io.of('/admin').in('chat.7').fetchSockets();
      void answers;
      void found;
      // Dynamic namespaces: a RegExp or a matcher function gives a parent namespace.
      const tenants: import('../src/index.js').SocketIoParentNamespace = io.of(/^\/tenant-\d+$/);
      tenants.use((socket, next) => next()).on('connection', (socket) => void socket.nsp.name);
      const keyed: import('../src/index.js').SocketIoParentNamespace = io.of((name, auth, next) => next(null, name === '/k' && auth['key'] === 'k'));
      const plain: import('../src/index.js').SocketIoNamespace = io.of('/plain');
      void [keyed, plain];
      // onAny and per-socket middleware, as Socket.IO's.
      io.on('connection', (socket) => {
        socket.onAny((event, ...args) => void [event satisfies string, args satisfies unknown[]]).prependAny(() => {}).offAny();
        socket.use((packet, next) => (packet[0] === 'x' ? next(new Error('no')) : next()));
        socket.on('error', (error) => expectType<Equal<typeof error, Error>>());
        const sent: true = socket.volatile.emit('tick');
        socket.compress(false).emit('tick');
        void sent;
      });
    },
  });
  expectType<Equal<SocketIoTypes['socketIoDefaults']['path'], '/socket.io/'>>();
}

// The test kit (#36): one event map types the hub's channels, next, emitted and where.
async function testKitTypes(): Promise<void> {
  const { createTestHub } = await import('../src/testing/index.js');
  const hub = await createTestHub({ config: defineBrokerConfig({ events: shop }) });
  const channel = hub.channel({ source: 'orders', token: 'k' });
  await channel.emit('order.created', { id: 'o1', total: 1 });
  // @ts-expect-error the channel is typed by the config's map
  await channel.emit('order.created', { id: 'o1' });
  const created = await hub.next('order.created', { where: (event) => event.data.total > 10 });
  expectType<Equal<typeof created.data, { id: string; total: number }>>();
  const some = await hub.next('order.{id}');
  expectType<Equal<typeof some.topic, 'order.created' | 'order.shipped'>>();
  // @ts-expect-error where sees the pattern's events only
  await hub.next('order.shipped', { where: (event) => event.data.total > 1 });
  // @ts-expect-error a pattern no declared event matches
  hub.emitted('invoice.*');
  expectType<Equal<ReturnType<typeof hub.emitted<'fraud.review'>>[number]['data'], { orderId: string }>>();
  // @ts-expect-error a capture name used twice
  await hub.next('{x}.{x}');
  await hub.close();
  // The map alone, as createTestHub({ events }) takes it.
  const bare = await createTestHub({ events: shop });
  // @ts-expect-error typed by that map
  bare.channel().emit('order.shipped', { id: 'o1' });
  await bare.close();
}
void testKitTypes;
