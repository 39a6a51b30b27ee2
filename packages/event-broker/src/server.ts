import type { ClusterEngine, ClusterHistory } from './cluster/cluster-engine.js';
import { joinCluster } from './cluster/join-cluster.js';
import { clusterHistory, createClusterEngine } from './cluster/create-engine.js';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import { errorRecord, lineRecord, recordText, type BrokerLogRecord } from './log-record.js';
import {
  EventwireError,
  assertTopic,
  type EventInput,
  type EventMap,
  type EventTopic,
  type PatternArgument,
  type PatternCheck,
  type TopicCheck,
  type TopicLimits,
  type UntypedEvents,
} from '@eventwire/event-channel';
import { HistoryRules, closeCodes, settlesWithin } from '@eventwire/event-channel/protocol';
import { createDefaultHistoryStore } from './history/default-store.js';
import type { P } from 'ts-pattern';
import { BrokerCore, type PublishResult } from './core.js';
import { isBuiltinHook, type AnyHookEvent, type HookOptions, type HookParams, type InterceptHook, type ObserveHook, type PatternHookEvent, type TopicHookEvent } from './hooks.js';
import { Access } from './auth/access.js';
import type { ChannelRule } from './auth/channels.js';
import { clientAddress } from './auth/client-address.js';
import { sumClusterStats, type BrokerStats, type ClusterStats } from './broker-stats.js';
import { tcpBackstop } from './capacity.js';
import { ConnectionRegistry } from './connections.js';
import { HttpApi, type Readiness } from './http-api.js';
import { createBrokerHttpServer, tlsFilesOf, type BrokerHttpServer } from './tls.js';
import { OutboundBudget } from './outbound-budget.js';
import { answerClientError } from './http.js';
import { servedAsyncApi } from './asyncapi/build.js';
import { resolveBrokerOptions, type BrokerOptions, type ResolvedBrokerOptions } from './options.js';
import { createBuiltinSurfaces, builtinSurfaceNames } from './surfaces/builtin.js';
import type { PusherSurface } from './surfaces/pusher/pusher-surface.js';
import type { SocketIoServer } from './surfaces/socketio/server-api.js';
import type { SocketIoSurface } from './surfaces/socketio/socketio-surface.js';
import { SessionOps } from './surfaces/session-ops.js';
import type { Surface } from './surfaces/surface.js';
import type { SurfaceHost } from './surfaces/surface-host.js';
import { UpgradeAdmission, type UpgradeCarrier } from './upgrade.js';
import { inProcessPending, inProcessUpgrade } from './in-process.js';
import { BrokerMetrics } from './metrics/broker-metrics.js';
import { ClientScript } from './client-script.js';
import { Dashboard } from './dashboard/dashboard.js';
import { LastEvents } from './last-events.js';
import { sessionHistoryRule } from './surfaces/socketio/session-store.js';

/** /readyz says the history store is failing for this long after its last failed append (unless one succeeds since). */
const STORE_FAILURE_WINDOW_MS = 30_000;

/** Fewer descriptors than this between the connection cap and the TCP backstop: a burst of newcomers at the cap meets resets. */
const MIN_REFUSAL_ROOM = 16;

/** This package's version, for `/health` (read once; src/ and dist/ sit beside package.json alike). */
const brokerVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * The start-up line's URL: a wildcard address (`0.0.0.0`, `::`) is not one
 * to connect to, so it shows this machine's name and says every interface
 * listens.
 */
function shownUrl(bound: AddressInfo, scheme: 'ws' | 'wss'): string {
  if (bound.address === '0.0.0.0' || bound.address === '::') return `${scheme}://${hostname()}:${bound.port} (all interfaces)`;
  return `${scheme}://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
}

/** Where a listening broker can be reached. */
export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
  /** `ws://host:port` for `EventChannel`. */
  readonly url: string;
  /** `http://host:port` for the HTTP API. */
  readonly httpUrl: string;
}

export type { BrokerStats, ClusterStats } from './broker-stats.js';

/** Options of `observe`. */
export interface ObserveOptions extends HookOptions {
  /**
   * Events the observer may fall behind by; past it the oldest waiting event
   * is dropped and counted.
   * @default 10_000
   */
  readonly queueSize?: number;
}

/**
 * An event broker on one port: every registered surface's WebSocket and
 * HTTP endpoints (eventwire's protocol at `/`, Synap's at `/pubsub/ws` and
 * `/pubsub/…`, the broadcasting socket, Pusher's when on, your own through
 * `surfaces`) and its own HTTP API (`/health`, `/stats`, `/metrics`,
 * `/history/…`). It routes every event to its subscribers and lets hooks act
 * on the stream: `intercept` before routing, `observe` after.
 *
 * This class is the composition root: it builds the parts (core, access,
 * surfaces, cluster engine, history) and owns their lifecycle; admission is
 * in upgrade.ts, the connections in connections.ts, the routes in http-api.ts.
 *
 * @example
 * const broker = new EventBrokerServer({ port: 15500, events: shop });
 * broker.intercept('order.created', (event, ctx) => {
 *   if (event.data.total > 1000) ctx.emit('fraud.review', { orderId: event.data.id });
 * });
 * broker.observe('#', (event) => console.log(event.topic));
 * await broker.listen();
 */
export class EventBrokerServer<TEvents extends EventMap = UntypedEvents> {
  readonly #options: ResolvedBrokerOptions<TEvents>;
  readonly #core: BrokerCore;
  readonly #topicLimits: TopicLimits;
  readonly #http: BrokerHttpServer['server'];
  /** The HTTP(S) server's maker: TLS and its certificate reloads (tls.ts). */
  readonly #listener: BrokerHttpServer;
  readonly #connections: ConnectionRegistry;
  readonly #surfaces: readonly Surface[];
  /** The Pusher surface, when `pusher` is set (for `pusherAuthHandler`). */
  readonly #pusher: PusherSurface | undefined;
  /** The Socket.IO surface, when `socketio` is set (for `broker.socketio`). */
  readonly #socketio: SocketIoSurface | undefined;
  readonly #upgrades: UpgradeAdmission;
  readonly #httpApi: HttpApi;
  #address: BrokerAddress | undefined;
  #closing: Promise<void> | undefined;
  readonly #access: Access;
  readonly #trustedProxies: ReadonlySet<string>;
  readonly #outboundBudget: OutboundBudget;
  readonly #startedAt = Date.now();
  /** The link to the other brokers, when `cluster` is set. */
  readonly #cluster: ClusterEngine | undefined;
  /** The cluster's history (the engine's: JetStream), when `cluster` and `history` are both set. */
  readonly #sharedHistory: ClusterHistory | undefined;
  /** GET /metrics, unless `metrics: false`. */
  readonly #metrics: { readonly path: string; readonly registry: BrokerMetrics } | undefined;
  /** The live dashboard, when `dashboard` is set. */
  readonly #dashboard: Dashboard | undefined;
  /** The one way out for the broker's log: a record to `logger`, else the line to `log` (a field, so it can be handed on as it is). */
  readonly #log = (line: string): void => {
    if (this.#options.logger) this.#options.logger(lineRecord(line));
    else this.#options.log?.(line);
  };
  /** The same way out for a record with a level and a code of its own. */
  readonly #logRecord = (record: BrokerLogRecord): void => {
    if (this.#options.logger) this.#options.logger(record);
    else this.#options.log?.(recordText(record));
  };

  constructor(given: BrokerOptions<TEvents> = {}) {
    // Every default applied and checked once (options.ts): below, each value is read as it is.
    const options = resolveBrokerOptions(given);
    this.#options = options;
    const asyncApi = options.asyncapi ? servedAsyncApi(options) : undefined;
    this.#topicLimits = options.topicLimits;
    const { maxPayloadBytes, heartbeatMs, maxOutboundBytes } = options;
    const maxSubscriptions = options.maxSubscriptionsPerConnection;
    this.#trustedProxies = new Set(options.trustedProxies);
    this.#outboundBudget = new OutboundBudget(options.maxTotalOutboundBytes);
    this.#connections = new ConnectionRegistry({ heartbeatMs, log: this.#log });
    this.#access = new Access({
      authenticate: options.authenticate,
      allowAnonymous: options.allowAnonymous,
      permissions: options.permissions,
      rateLimits: options.rateLimits,
      maxConnections: options.maxConnections,
      maxConnectionsPerIp: options.maxConnectionsPerIp,
      ruleTimeoutMs: options.interceptTimeoutMs,
      topicLimits: this.#topicLimits,
      onCapacity: ({ atCapacity, connections, maxConnections, refused }) =>
        this.#log(
          atCapacity
            ? `at capacity: ${connections} connections of ${maxConnections}; newcomers get 503 with Retry-After until some leave`
            : `capacity available again: ${connections} connections of ${maxConnections}; ${refused} newcomers were refused meanwhile`,
        ),
    });
    const logger = options.logger;
    const report =
      options.onError ??
      (logger ? (error: EventwireError) => logger(errorRecord(error)) : (error: EventwireError) => console.error(`[event-broker] ${error.code}: ${error.message}`));
    // Socket.IO recovery sessions live in history under a rule of their own, first (session-store.ts).
    const sessionRule = sessionHistoryRule(options.socketio?.recovery);
    const historyRules = options.history && options.history.length > 0 ? new HistoryRules(sessionRule ? [sessionRule, ...options.history] : options.history) : undefined;
    const cluster = options.cluster === undefined ? undefined : createClusterEngine(options.cluster);
    // In a cluster, history is the engine's (NATS: JetStream; others refuse), unless a store of this broker's own is given.
    const shared =
      cluster && historyRules && !options.historyStore
        ? clusterHistory(cluster, historyRules, {
            accept: (raw, own) => this.#core.acceptFromHistory(raw, own),
            deliver: (envelope, except, own) => this.#core.deliverFromHistory(envelope, except, own),
            report,
            log: this.#log,
            memoryMaxBytes: options.historyMaxMemoryBytes,
          })
        : undefined;
    this.#sharedHistory = shared;
    this.#core = new BrokerCore({
      history: historyRules && { rules: historyRules, store: shared ?? options.historyStore ?? createDefaultHistoryStore(options, this.#log) },
      events: options.events,
      allowUnknownTopics: options.allowUnknownTopics,
      interceptTimeoutMs: options.interceptTimeoutMs,
      observerTimeoutMs: options.observerTimeoutMs,
      maxDerivedDepth: options.maxDerivedDepth,
      payloadLimits: { maxDepth: options.maxPayloadDepth },
      maxPresenceMembers: options.maxPresenceMembers,
      source: options.source,
      report,
      topicGroups: options.metrics?.topicGroups,
      tracing: options.tracing,
      lastEvents: new LastEvents({ ttlMs: options.cacheChannelTtlMs }),
    });
    const metrics = options.metrics;
    this.#metrics = metrics && {
      path: metrics.path ?? '/metrics',
      registry: new BrokerMetrics({
        snapshot: () => this.stats(),
        topicGroups: this.#core.topicGroups,
        defaultMetrics: metrics.defaultMetrics ?? true,
        version: brokerVersion,
        history: this.#core.history !== undefined,
        cluster: cluster !== undefined,
        socketioBridge: options.socketio?.redis !== undefined,
        pusherWebhooks: options.pusher?.apps?.some((app) => (app.webhooks?.length ?? 0) > 0) ?? false,
      }),
    };
    const host: SurfaceHost = {
      core: this.#core,
      access: this.#access,
      sessions: new SessionOps({ router: this.#core.router, presence: this.#core.presence, access: this.#access, topicLimits: this.#topicLimits, maxSubscriptions }),
      limits: {
        maxPayloadBytes,
        maxSubscriptions,
        topicLimits: this.#topicLimits,
        heartbeatMs,
        helloTimeoutMs: options.helloTimeoutMs,
        maxReplayEvents: options.maxReplayEvents,
        maxOutboundBytes,
      },
      // The admission is built below, from the surfaces this host makes; only called once they serve.
      admit: (surface, request, url, wire) => this.#upgrades.admitHttp(surface, request, url, wire),
      connection: (id) => this.#connections.get(id),
      stats: () => this.stats(),
      log: this.#log,
      logRecord: this.#logRecord,
    };
    const builtin = createBuiltinSurfaces(host, options);
    this.#pusher = builtin.pusher;
    this.#socketio = builtin.socketio;
    this.#surfaces = [...builtin.surfaces, ...(options.surfaces ?? []).map((create) => create(host))];
    // After the surfaces: the Pusher webhooks' occupancy rides on the cluster beside presence.
    if (cluster) {
      const webhooks = this.#pusher?.webhooks;
      const link = joinCluster(cluster, this.#core, { report, log: this.#log, nodeStats: () => this.stats() }, webhooks?.occupancy);
      webhooks?.clustered({ node: cluster.node, liveNodes: link.liveNodes });
      this.#cluster = cluster;
    }
    // One browser build for the page at /eventwire/ and the dashboard's page.
    const clientScript = new ClientScript();
    this.#dashboard = options.dashboard
      ? new Dashboard(
          this.#core,
          { stats: () => this.stats(), behind: () => this.#connections.furthestBehind(5) },
          options.dashboard,
          this.#access.authenticates,
          (template, rule) => this.#access.channels.add(template, rule),
          clientScript,
        )
      : undefined;
    const address = (request: IncomingMessage): string => clientAddress(request, this.#trustedProxies);
    const assertServing = (): void => this.#assertServing();
    this.#upgrades = new UpgradeAdmission({
      surfaces: this.#surfaces,
      access: this.#access,
      connections: this.#connections,
      router: this.#core.router,
      budget: this.#outboundBudget,
      maxPayloadBytes,
      maxOutboundBytes,
      slowConsumerMs: options.slowConsumerMs,
      clientAddress: address,
      assertServing,
      log: this.#log,
    });
    this.#httpApi = new HttpApi({
      surfaces: this.#surfaces,
      core: this.#core,
      access: this.#access,
      topicLimits: this.#topicLimits,
      version: brokerVersion,
      startedAt: this.#startedAt,
      dashboard: this.#dashboard,
      clientScript: options.serveClient ? clientScript : undefined,
      metrics: this.#metrics,
      cluster: this.#cluster,
      asyncApi: asyncApi && (() => asyncApi(this.#access.channels.templates(), this.#address?.port)),
      historyReady: () => this.#sharedHistory?.ready,
      closing: () => this.#closing !== undefined,
      openConnections: () => this.#connections.size,
      stats: () => this.stats(),
      clusterStats: () => this.clusterStats(),
      clientAddress: address,
      assertServing,
      host: () => this.#address?.host ?? 'localhost',
      secure: () => this.#listener.secure,
      readiness: () => this.#readiness(),
    });
    this.#listener = createBrokerHttpServer(
      (request, response) => void this.#httpApi.serve(request, response),
      tlsFilesOf(options.tlsCert, options.tlsKey),
      this.#log,
    );
    this.#http = this.#listener.server;
    this.#http.on('upgrade', (request, socket, head) => void this.#upgrades.handle(request, socket as Socket, head));
    this.#http.on('clientError', answerClientError);
  }

  /**
   * The Socket.IO server-side API (namespaces, middleware, connection
   * handlers, broadcasts to rooms), when the `socketio` option is set;
   * undefined otherwise. Use it in a config's `setup(broker)`.
   * @example
   * broker.socketio?.on('connection', (socket) => void socket.join('chat.7'));
   */
  get socketio(): SocketIoServer | undefined {
    return this.#socketio?.server;
  }

  /** The bound address, once listening. */
  get address(): BrokerAddress | undefined {
    return this.#address;
  }

  /** Starts listening. Resolves with the address (useful with `port: 0`). */
  async listen(): Promise<BrokerAddress> {
    const { host, port } = this.#options;
    await new Promise<void>((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(port, host, () => {
        this.#http.off('error', reject);
        resolve();
      });
    });
    const bound = this.#http.address() as AddressInfo;
    const shownHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    this.#address = {
      host: bound.address,
      port: bound.port,
      url: `${this.#listener.secure ? 'wss' : 'ws'}://${shownHost}:${bound.port}`,
      httpUrl: `${this.#listener.secure ? 'https' : 'http'}://${shownHost}:${bound.port}`,
    };
    this.#connections.startHeartbeat();
    this.#dashboard?.start();
    this.#cluster?.start();
    for (const surface of this.#surfaces) surface.listening?.();
    if (this.#sharedHistory) {
      // A broker that cannot reach the cluster's history cannot keep its
      // promises to reconnecting clients: it does not start without it.
      try {
        await this.#sharedHistory.whenReady();
      } catch (error) {
        await this.close();
        throw error;
      }
    }
    const backstop = tcpBackstop();
    if (backstop) {
      this.#http.maxConnections = backstop.maxConnections;
      const room = backstop.maxConnections - this.#access.maxConnections;
      if (room < MIN_REFUSAL_ROOM) {
        this.#log(
          `warning: maxConnections ${this.#access.maxConnections} leaves ${Math.max(0, room)} descriptors for newcomers being refused and HTTP calls (open-file limit ${backstop.soft}, ${backstop.held} held already): at the cap some newcomers will be reset instead of answered 503; lower maxConnections or raise the limit`,
        );
      }
    }
    for (const surface of this.#surfaces) for (const warning of surface.warnings?.() ?? []) this.#log(warning);
    const websockets = this.#surfaces.map((surface) => `${surface.name}: ${surface.endpoints.websocket}`);
    const http = [
      ...this.#surfaces.flatMap((surface) => surface.endpoints.http ?? []),
      '/health',
      '/stats',
      ...(this.#options.asyncapi ? ['/asyncapi.json'] : []),
      ...(this.#metrics ? [this.#metrics.path] : []),
      ...(this.#dashboard ? [this.#dashboard.path] : []),
      ...(this.#options.serveClient ? ['/eventwire/event-channel.js'] : []),
    ];
    this.#log(`listening on ${shownUrl(bound, this.#listener.secure ? 'wss' : 'ws')} (${websockets.join(', ')}, http: ${http.join(', ')}); up to ${this.#access.maxConnections} connections`);
    return this.#address;
  }

  /**
   * Runs `hook` inline before routing for events matching `selector` — a topic
   * pattern (`'order.*'`) or a ts-pattern pattern over the envelope
   * (`{ topic: 'order.created', data: { total: P.number.gte(1000) } }`).
   * Hooks run in registration order; each may `reject`, `transform`,
   * `setMetadata` or `emit`. `options.name` names it in logs, `/stats`,
   * `/metrics` and the dashboard. Returns a function that removes the hook.
   */
  intercept<TPattern extends PatternArgument<TEvents>>(
    selector: TPattern & PatternCheck<TEvents, TPattern>,
    hook: InterceptHook<TEvents, TopicHookEvent<TEvents, TPattern>, HookParams<TPattern>>,
    options?: HookOptions,
  ): () => void;
  intercept<const TPattern extends P.Pattern<AnyHookEvent<TEvents>>>(
    selector: TPattern,
    hook: InterceptHook<TEvents, PatternHookEvent<TEvents, TPattern>>,
    options?: HookOptions,
  ): () => void;
  intercept(selector: string | object, hook: (event: never, context: never) => unknown, options: HookOptions = {}): () => void {
    return this.#core.intercept(selector, hook as never, options.name, isBuiltinHook(options));
  }

  /**
   * Guards private and presence channels matching `template` (`{param}` is
   * one whole segment; `params` is typed from it): subscribing, publishing
   * and reading history there need the rule to say yes, on every surface.
   * Channels no rule matches are denied; public channels need no rule.
   * Returns a function that removes the rule.
   *
   * @example
   * broker.channel('private-user.{userId}', (user, { userId }) => user?.id === userId);
   */
  channel<const TTemplate extends string>(template: TTemplate, rule: ChannelRule<TTemplate>): () => void {
    return this.#access.channels.add(template, rule as ChannelRule);
  }

  /**
   * Runs `hook` after routing, off the publish path, through a bounded queue
   * of its own: a slow or failing observer never delays delivery or other
   * observers. Selectors as for `intercept`. Returns a function that removes it.
   */
  observe<TPattern extends PatternArgument<TEvents>>(
    selector: TPattern & PatternCheck<TEvents, TPattern>,
    hook: ObserveHook<TEvents, TopicHookEvent<TEvents, TPattern>, HookParams<TPattern>>,
    options?: ObserveOptions,
  ): () => void;
  observe<const TPattern extends P.Pattern<AnyHookEvent<TEvents>>>(
    selector: TPattern,
    hook: ObserveHook<TEvents, PatternHookEvent<TEvents, TPattern>>,
    options?: ObserveOptions,
  ): () => void;
  observe(
    selector: string | object,
    hook: (event: never, context: never) => unknown,
    options: ObserveOptions = {},
  ): () => void {
    return this.#core.observe(selector, hook as never, options.queueSize ?? 10_000, options.name, isBuiltinHook(options));
  }

  /**
   * Publishes from the server itself (validated and hooked like any publish).
   * Resolves with the routed event and how many subscribers it reached.
   */
  async publish<TTopic extends EventTopic<TEvents>>(
    topic: TTopic & TopicCheck<TEvents, TTopic>,
    data: EventInput<TEvents, TTopic>,
  ): Promise<PublishResult> {
    assertTopic(topic, this.#topicLimits);
    return this.#core.publish(this.#core.createEnvelope(topic, data), { surface: 'broker' });
  }

  /** A snapshot of the broker's counters. */
  stats(): BrokerStats {
    const connections = this.#connections.countBySurface([...builtinSurfaceNames, ...this.#surfaces.map((surface) => surface.name)]) as BrokerStats['connections'];
    const { subscribers, subscriptions } = this.#core.router.counts();
    const socketioBridge = this.#socketio?.redisBridgeStats();
    const pusherWebhooks = this.#pusher?.webhooks?.stats();
    return {
      connections,
      subscribers,
      subscriptions,
      ...this.#core.counters,
      slowConsumersCut: this.#connections.slowConsumersCut,
      slowConsumersCutForMemory: this.#outboundBudget.cuts,
      refused: this.#access.refused,
      admitted: this.#access.connections,
      heartbeatTimeouts: this.#connections.heartbeatTimeouts,
      topics: this.#core.topics.size,
      hooks: this.#core.hookStats(),
      ...(this.#core.history && {
        history: { kind: this.#core.history.store.kind, epoch: this.#core.history.store.epoch, head: this.#core.history.store.head },
      }),
      ...(this.#cluster && { cluster: this.#cluster.stats() }),
      ...(socketioBridge && { socketioBridge }),
      ...(pusherWebhooks && { pusherWebhooks }),
      bytes: this.#connections.traffic(),
    };
  }

  /**
   * Every broker of the cluster: each node's stats (as `/stats`, with its
   * `cluster.node`) and the sums over them. Brokers that do not answer within
   * `statsTimeoutMs` are missing from `nodes`. Without a cluster, this broker alone.
   */
  async clusterStats(): Promise<ClusterStats> {
    return sumClusterStats(this.#cluster ? ((await this.#cluster.gatherStats()) as BrokerStats[]) : [this.stats()]);
  }

  /**
   * Graceful shutdown: stops accepting, closes every client with 1001 (they
   * reconnect elsewhere or later), waits up to `shutdownTimeoutMs` for their
   * handshakes and for observers to drain, then releases the port. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /**
   * Reads `tlsCert`/`tlsKey` again (the CLI does on SIGHUP; a change of the
   * files does it by itself within a few seconds): new connections get the
   * new certificate, open ones keep theirs. Throws `invalid_config`, keeping
   * the certificate in use, when the files are not a valid pair; does nothing
   * without TLS.
   */
  reloadTls(): void {
    this.#listener.reload();
  }

  /**
   * Admits an upgrade carried in-process (the test kit's pipes) as one on the
   * listening port. The broker is then serving without a socket: the first
   * such upgrade starts the heartbeat `listen()` would have started.
   */
  [inProcessUpgrade](request: IncomingMessage, carrier: UpgradeCarrier): Promise<void> {
    this.#connections.startHeartbeat();
    return this.#upgrades.upgrade(request, carrier);
  }

  /** Work started for clients and not finished (see in-flight.ts), for the test kit's settle. */
  [inProcessPending](): number {
    return this.#access.inFlight.count + this.#core.inFlight;
  }

  /** `await using broker = …` closes it on scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------------------

  async #shutdown(): Promise<void> {
    this.#log('shutting down');
    this.#dashboard?.stop();
    const timeoutMs = this.#options.shutdownTimeoutMs;
    const httpClosed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    await this.#connections.closeAll(closeCodes.goingAway, 'server shutting down', timeoutMs);
    await settlesWithin(this.#core.observersIdle(), timeoutMs);
    // The history first: the cluster's mirror reads from the link's connection, which the link then drains.
    await this.#core.history?.store.close();
    await this.#closeCluster();
    this.#http.closeAllConnections();
    await httpClosed;
    this.#upgrades.close();
    this.#listener.close();
    await Promise.all(this.#surfaces.map((surface) => surface.close?.()));
    this.#log('stopped');
  }

  /**
   * Closes the cluster link. Events still held for a link that is not up
   * (closed soon after start, or while the cluster server is away) never
   * reach the other brokers: said once, as a warning with their count —
   * a routine stop is not an error, and each event is not a line.
   */
  async #closeCluster(): Promise<void> {
    // From here the other brokers announce the channels and members this one had (it says bye: they own them now).
    this.#pusher?.webhooks?.stopping();
    if (!this.#cluster) return;
    const { held, engine } = this.#cluster.stats();
    await this.#cluster.close();
    if (held > 0) this.#log(`warning: cluster: closed while ${engine} was not reachable; ${held} event${held === 1 ? '' : 's'} published here not forwarded to the other brokers`);
  }

  /** /readyz's checks (http-api.ts's Readiness). */
  #readiness(): Readiness {
    const listening = this.#closing ? 'shutting_down' : this.#address ? 'ok' : 'starting';
    const history = this.#core.history && this.#historyReadiness();
    const cluster = this.#cluster && (this.#cluster.state === 'open' ? 'ok' : this.#cluster.state);
    return { listening, ...(history && { history }), ...(cluster && { cluster }) };
  }

  #historyReadiness(): string {
    if (this.#sharedHistory && !this.#sharedHistory.ready) return 'loading';
    const failure = this.#core.storeFailure;
    // Not ready while appends fail; a failure older than the window without a newer one reads as recovered, since a
    // broker out of rotation may see no append to prove it.
    if (failure && Date.now() - failure.at < STORE_FAILURE_WINDOW_MS) return `failing: ${failure.error.code}: ${failure.error.message}`;
    return 'ok';
  }

  /**
   * Refuses (`unavailable`, retry in a second) while the cluster's history is
   * still being mirrored at start-up. A client admitted then would resume
   * from a mirror that does not yet hold what the stream holds: the events
   * between the mirror's head and the stream's end at start are mirrored but
   * never delivered live, so it would miss them without a gap (or get an
   * `epoch` gap before the stream is even found). Refusing at the door keeps
   * every surface out of that window; clients retry with their backoff, and
   * `/health` says `degraded` with `history: unavailable` meanwhile.
   */
  #assertServing(): void {
    if (this.#closing) throw new EventwireError('connection_closed', 'The broker is shutting down');
    if (this.#sharedHistory && !this.#sharedHistory.ready) {
      throw new EventwireError('unavailable', 'The broker is starting: the cluster history is still loading', { retryAfterMs: 1000 });
    }
  }

  /**
   * The channel auth endpoint as a Node request listener, for an HTTP server
   * of your own (Express, Fastify's raw handler, node:http): it runs this
   * broker's authentication and channel rules and answers `{ auth }` or
   * `{ auth, channel_data }` as Laravel's `/broadcasting/auth` does.
   * The broker serves it itself at `pusher.authPath`. `'user'` is the user
   * auth endpoint of `pusher:signin` instead.
   *
   * @example
   * const auth = broker.pusherAuthHandler();
   * createServer((req, res) => (req.url === '/broadcasting/auth' ? auth(req, res) : app(req, res)));
   */
  pusherAuthHandler(kind: 'channel' | 'user' = 'channel'): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
    return this.#pusherSurface().nodeHandler(kind, (request) => clientAddress(request, this.#trustedProxies));
  }

  /**
   * The channel auth endpoint as a fetch handler, `(Request) => Response`,
   * for frameworks built on web requests (Hono, Next.js route handlers).
   * Pass the caller's address where the framework knows it: failed
   * authentications are limited per address, and without one every caller
   * shares a single bucket (a forwarded-for header is not trusted here).
   */
  pusherAuthFetch(kind: 'channel' | 'user' = 'channel'): (request: Request, clientAddress?: string) => Promise<Response> {
    return this.#pusherSurface().fetchHandler(kind);
  }

  #pusherSurface(): PusherSurface {
    if (!this.#pusher) throw new EventwireError('invalid_payload', 'The Pusher surface is off: set the `pusher` option');
    return this.#pusher;
  }
}
