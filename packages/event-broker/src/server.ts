import { ClusterPresence } from './cluster/cluster-presence.js';
import { JetStreamHistory } from './cluster/jetstream-history.js';
import { defaultHistoryMemoryBytes } from './history/memory-bound.js';
import type { ClusterEngine, ClusterLinkHost, ClusterLinkStats } from './cluster/cluster-engine.js';
import { clusterEngineKind, clusterNodeName, type ClusterOptions } from './cluster/cluster-options.js';
import { NatsClusterLink } from './cluster/nats-cluster.js';
import { PubSubClusterLink } from './cluster/pubsub-cluster.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  EventwireError,
  MAX_PAYLOAD_DEPTH,
  assertPattern,
  assertTopic,
  parseTraceparent,
  toEventwireError,
  topicLimitDefaults,
  type EventInput,
  type EventMap,
  type EventTopic,
  type PatternArgument,
  type PatternCheck,
  type TopicCheck,
  type TopicLimits,
  type UntypedEvents,
} from '@eventwire/event-channel';
import { HistoryRules, MemoryHistoryStore, closeCodes, createEventIdGenerator, settlesWithin, type HistoryStore } from '@eventwire/event-channel/protocol';
import { LogHistoryStore } from './history/log-store.js';
import type { P } from 'ts-pattern';
import { WebSocketServer, type WebSocket } from 'ws';
import { Connection, type SocketSurface } from './connection.js';
import { BrokerCore, type PublishResult } from './core.js';
import type {
  AnyHookEvent,
  HookStats,
  InterceptHook,
  ObserveHook,
  PatternHookEvent,
  TopicHookEvent,
} from './hooks.js';
import { Access, type RefusalCounts } from './auth/access.js';
import { findToken, type BrokerUser } from './auth/authenticate.js';
import { channelKind, type ChannelRule } from './auth/channels.js';
import { clientAddress } from './auth/client-address.js';
import { defaultMaxConnections, defaultTotalOutboundBytes, openDescriptors, readOpenFileLimit } from './capacity.js';
import { OutboundBudget } from './outbound-budget.js';
import { decodePathSegment, refuseSocket, requestUrl, sendError, sendJson } from './http.js';
import { readHistoryPage } from './history/replay.js';
import { brokerDefaults, type BrokerOptions, type PusherOptions } from './options.js';
import { NativeSession, type NativeSessionLimits } from './surfaces/native.js';
import { SynapSubscriber, parseSynapTopics } from './surfaces/synap.js';
import { SynapHttpApi } from './surfaces/synap-http.js';
import { BroadcastingSubscriber, defaultBroadcastingPath } from './surfaces/broadcasting.js';
import { PusherApps, developmentPusherApp, type PusherApp } from './surfaces/pusher-apps.js';
import { PusherSubscriber, createSocketIdGenerator, protocolProblem, pusherCloseCode, pusherCodeFor, pusherCodes, refusePusherUpgrade } from './surfaces/pusher.js';
import { PusherHttpApi } from './surfaces/pusher-http.js';
import { BrokerMetrics } from './metrics/broker-metrics.js';
import { Dashboard, type BehindConnection } from './dashboard/dashboard.js';

/** Descriptors kept free even of plain HTTP connections: the broker's own files need some at any moment. */
const HARD_DESCRIPTOR_MARGIN = 16;
/** Fewer descriptors than this between the connection cap and the TCP backstop: a burst of newcomers at the cap meets resets. */
const MIN_REFUSAL_ROOM = 16;

/** This package's version, for `/health` (read once; src/ and dist/ sit beside package.json alike). */
const brokerVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Where a listening broker can be reached. */
export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
  /** `ws://host:port` for `EventChannel`. */
  readonly url: string;
  /** `http://host:port` for the HTTP API. */
  readonly httpUrl: string;
}

/** A snapshot of the broker's counters. */
export interface BrokerStats {
  readonly connections: { readonly native: number; readonly synap: number; readonly broadcasting: number; readonly pusher: number };
  readonly subscribers: number;
  readonly subscriptions: number;
  readonly published: number;
  readonly deliveries: number;
  readonly rejected: number;
  readonly derived: number;
  readonly derivedDropped: number;
  readonly slowConsumersCut: number;
  /** Of those, cut because all queues together passed `maxTotalOutboundBytes` (the furthest behind first). */
  readonly slowConsumersCutForMemory: number;
  readonly heartbeatTimeouts: number;
  readonly topics: number;
  readonly hooks: readonly HookStats[];
  /** Re-sent publishes answered from history instead of stored again. */
  readonly duplicates: number;
  /** Publishes refused because history could not store them. */
  readonly storeFailures: number;
  /**
   * Connections, frames and HTTP calls refused, by reason: credentials
   * (`unauthorized`), rules and permissions (`forbidden`), rate limits
   * (`rate_limited`), connection caps (`connection_limit`).
   */
  readonly refused: RefusalCounts;
  /** WebSocket connections admitted and open (all surfaces; what `maxConnections` counts). */
  readonly admitted: number;
  /** The history store, when some topics keep history. */
  readonly history?: { readonly kind: string; readonly epoch: string; readonly head: number };
  /** Events that came from the cluster and were delivered here. */
  readonly fromCluster: number;
  /** Cluster messages dropped here: not an envelope, or failing the event map. */
  readonly fromClusterInvalid: number;
  /** Resumes: reconnected clients asking for the events they missed. */
  readonly recoveries: number;
  /** Events replayed to resuming clients. */
  readonly replayed: number;
  /** Gaps resuming clients were told of. */
  readonly gaps: number;
  /** Subscriptions told of a gap because the cluster engine lost its subscription (a native `gap` frame each). */
  readonly clusterGaps: number;
  /** Subscriptions that missed the same on a surface with no gap (Synap, Pusher, broadcasting): not told, counted and logged. */
  readonly clusterGapsUntold: number;
  /** This node's link to the cluster, when it is in one. */
  readonly cluster?: ClusterLinkStats;
  /** Bytes read from and written to WebSocket connections (the TCP sockets' own counts: framing and handshakes included). */
  readonly bytes: { readonly received: number; readonly sent: number };
}

/** `/cluster`: every node, and sums over them. */
export interface ClusterStats {
  readonly nodes: readonly BrokerStats[];
  readonly total: {
    readonly nodes: number;
    readonly connections: number;
    readonly subscriptions: number;
    readonly published: number;
    readonly deliveries: number;
    readonly rejected: number;
  };
}

/** Options of `observe`. */
export interface ObserveOptions {
  /**
   * Events the observer may fall behind by; past it the oldest waiting event
   * is dropped and counted.
   * @default 10_000
   */
  readonly queueSize?: number;
}

/**
 * An event broker on one port: WebSocket (native protocol at `/` and `/ws`,
 * Synap-compatible at `/pubsub/ws`) and HTTP (`/pubsub/…`, `/health`,
 * `/stats`). It routes every event to its subscribers and lets hooks act on
 * the stream: `intercept` before routing, `observe` after.
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
  readonly #options: BrokerOptions<TEvents>;
  readonly #core: BrokerCore;
  readonly #topicLimits: TopicLimits;
  readonly #maxPayloadBytes: number;
  readonly #heartbeatMs: number;
  readonly #maxSubscriptions: number;
  readonly #connections = new Map<WebSocket, Connection>();
  readonly #nextConnectionId = createEventIdGenerator();
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #synapHttp: SynapHttpApi;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #address: BrokerAddress | undefined;
  #closing: Promise<void> | undefined;
  #slowConsumersCut = 0;
  readonly #access: Access;
  readonly #trustedProxies: ReadonlySet<string>;
  readonly #outboundBudget: OutboundBudget;
  #nativeLimits: NativeSessionLimits | undefined;
  readonly #broadcastingPath: string | undefined;
  #heartbeatTimeouts = 0;
  readonly #startedAt = Date.now();
  /** The link to the other brokers, when `cluster` is set. */
  readonly #cluster: ClusterEngine | undefined;
  /** The cluster's history (JetStream), when `cluster` and `history` are both set. */
  readonly #sharedHistory: JetStreamHistory | undefined;
  /** The Pusher surface, when `pusher` is set. */
  readonly #pusher: PusherSurface | undefined;
  /** GET /metrics, unless `metrics: false`. */
  readonly #metrics: { readonly path: string; readonly registry: BrokerMetrics } | undefined;
  /** The live dashboard, when `dashboard` is set. */
  readonly #dashboard: Dashboard | undefined;
  /** Bytes of connections already closed (the open ones are read from their sockets). */
  readonly #closedTraffic = { received: 0, sent: 0 };

  constructor(options: BrokerOptions<TEvents> = {}) {
    this.#options = options;
    this.#topicLimits = options.topicLimits ?? topicLimitDefaults;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? brokerDefaults.maxPayloadBytes;
    this.#heartbeatMs = options.heartbeatMs ?? brokerDefaults.heartbeatMs;
    this.#maxSubscriptions = options.maxSubscriptionsPerConnection ?? brokerDefaults.maxSubscriptionsPerConnection;
    this.#trustedProxies = new Set(options.trustedProxies ?? []);
    this.#broadcastingPath = options.broadcastingPath === false ? undefined : (options.broadcastingPath ?? defaultBroadcastingPath);
    this.#outboundBudget = new OutboundBudget(options.maxTotalOutboundBytes ?? defaultTotalOutboundBytes());
    this.#access = new Access({
      authenticate: options.authenticate,
      allowAnonymous: options.allowAnonymous ?? options.authenticate === undefined,
      permissions: options.permissions,
      rateLimits: options.rateLimits,
      maxConnections: options.maxConnections ?? defaultMaxConnections().value,
      maxConnectionsPerIp: options.maxConnectionsPerIp ?? Infinity,
      ruleTimeoutMs: options.interceptTimeoutMs ?? brokerDefaults.interceptTimeoutMs,
      topicLimits: this.#topicLimits,
      onCapacity: ({ atCapacity, connections, maxConnections, refused }) =>
        this.#log(
          atCapacity
            ? `at capacity: ${connections} connections of ${maxConnections}; newcomers get 503 with Retry-After until some leave`
            : `capacity available again: ${connections} connections of ${maxConnections}; ${refused} newcomers were refused meanwhile`,
        ),
    });
    const report = options.onError ?? ((error: EventwireError) => console.error(`[event-broker] ${error.code}: ${error.message}`));
    const historyRules = options.history && options.history.length > 0 ? new HistoryRules(options.history) : undefined;
    const cluster = options.cluster === undefined ? undefined : clusterOptionsOf(options.cluster);
    const engine = cluster && clusterEngineKind(cluster.url);
    if (cluster && !engine) throw new EventwireError('invalid_url', `cluster: "${cluster.url.slice(0, 100)}" is not a nats://, redis:// or postgres:// URL`);
    if (engine && engine !== 'nats' && historyRules && !options.historyStore) {
      // Each broker's own store would hold only what entered it: replay would depend on which broker a client reached.
      throw new EventwireError(
        'unsupported_transport',
        `history in a cluster is kept in JetStream: use a nats:// cluster, or give every broker the same historyStore (the ${engine}:// engine shares events, not history)`,
      );
    }
    // In a NATS cluster, history lives in JetStream (unless a store of this broker's own is given).
    const shared =
      cluster && engine === 'nats' && historyRules && !options.historyStore
        ? new JetStreamHistory({ mirrorMaxBytes: this.#historyMemoryBytes(options), ...cluster.history }, historyRules, cluster.node, {
            accept: (raw, own) => this.#core.acceptFromHistory(raw, own),
            deliver: (envelope, except, own) => this.#core.deliverFromHistory(envelope, except, own),
            dropped: (error) => this.#cluster?.dropped(error, false),
            report,
            log: (line) => this.#log(line),
          })
        : undefined;
    this.#sharedHistory = shared;
    this.#core = new BrokerCore({
      history: historyRules && { rules: historyRules, store: shared ?? options.historyStore ?? this.#defaultHistoryStore(options) },
      events: options.events,
      allowUnknownTopics: options.allowUnknownTopics ?? brokerDefaults.allowUnknownTopics,
      interceptTimeoutMs: options.interceptTimeoutMs ?? brokerDefaults.interceptTimeoutMs,
      observerTimeoutMs: options.observerTimeoutMs ?? brokerDefaults.observerTimeoutMs,
      maxDerivedDepth: options.maxDerivedDepth ?? brokerDefaults.maxDerivedDepth,
      payloadLimits: { maxDepth: payloadDepth(options.maxPayloadDepth) },
      maxPresenceMembers: options.maxPresenceMembers ?? brokerDefaults.maxPresenceMembers,
      source: options.source ?? brokerDefaults.source,
      report,
      topicGroups: typeof options.metrics === 'object' ? options.metrics.topicGroups : undefined,
      tracing: options.tracing,
    });
    const metrics = options.metrics === false ? undefined : options.metrics === true ? {} : (options.metrics ?? {});
    this.#metrics = metrics && {
      path: metrics.path ?? '/metrics',
      registry: new BrokerMetrics({
        snapshot: () => this.stats(),
        topicGroups: this.#core.topicGroups,
        defaultMetrics: metrics.defaultMetrics ?? true,
        version: brokerVersion,
        history: this.#core.history !== undefined,
        cluster: cluster !== undefined,
      }),
    };
    if (cluster && engine) {
      const host: ClusterLinkHost = {
        deliver: (envelope, except) => {
          this.#core.deliverFromCluster(envelope, except, (error) => link.dropped(error));
        },
        missed: (loss) => {
          const reach = this.#core.tellClusterGap(loss.pattern, loss.reason);
          this.#log(
            `cluster: events from other brokers${loss.pattern === undefined ? '' : ` on ${loss.pattern}`} may have been missed since ${new Date(loss.since).toISOString()} (${loss.reason}); ` +
              `${reach.connections} connections affected: ${reach.told} subscriptions told of a gap, ${reach.untold} on surfaces with no gap (Synap, Pusher, broadcasting) not told`,
          );
        },
        report,
        log: (line) => this.#log(line),
        nodeStats: () => this.stats(),
      };
      const presence = new ClusterPresence(this.#core.presence, cluster.node, cluster.presence ?? {}, { report, log: (line) => this.#log(line) });
      const link: ClusterEngine =
        engine === 'nats' ? new NatsClusterLink(cluster, host, [presence], shared ? [shared] : []) : new PubSubClusterLink(engine, cluster, host, [presence]);
      this.#cluster = link;
      this.#core.linkCluster((envelope, except) => link.forward(envelope, except));
      this.#core.router.watchInterest(link.interest);
    }
    this.#synapHttp = new SynapHttpApi(this.#core, this.#access, {
      maxPayloadBytes: this.#maxPayloadBytes,
      topicLimits: this.#topicLimits,
      maxSubscriptions: this.#maxSubscriptions,
      counters: () => ({ connections: this.stats().connections, slowConsumersCut: this.#slowConsumersCut }),
    });
    this.#pusher = options.pusher ? this.#pusherSurface(options.pusher === true ? {} : options.pusher) : undefined;
    this.#dashboard = options.dashboard
      ? new Dashboard(
          this.#core,
          { stats: () => this.stats(), behind: () => this.#furthestBehind(5) },
          options.dashboard === true ? {} : options.dashboard,
          this.#access.authenticates,
          (template, rule) => this.#access.channels.add(template, rule),
        )
      : undefined;
    this.#http = createServer((request, response) => void this.#onRequest(request, response));
    this.#wss = new WebSocketServer({
      noServer: true,
      // The protocol limit is enforced per message with an error frame; this
      // hard cap (4×) only protects memory from absurd frames, closing with 1009.
      maxPayload: this.#maxPayloadBytes * 4,
      perMessageDeflate: false,
    });
    this.#http.on('upgrade', (request, socket, head) => void this.#onUpgrade(request, socket as Socket, head));
    // Node answers a request it cannot parse with a bare 400; answer in JSON
    // with a code, like every other refusal.
    this.#http.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable || error.code === 'ECONNRESET') return void socket.destroy();
      const failure =
        error.code === 'HPE_HEADER_OVERFLOW'
          ? new EventwireError('payload_too_large', 'The request headers are too large')
          : new EventwireError('invalid_frame', `Malformed HTTP request (${error.code ?? error.message})`);
      refuseSocket(socket, failure);
    });
  }

  #pusherSurface(options: PusherOptions): PusherSurface {
    const apps = new PusherApps(options.apps ?? [developmentPusherApp], this.#topicLimits);
    const sockets = new Map<string, PusherSubscriber>();
    return {
      apps,
      sockets,
      nextSocketId: createSocketIdGenerator(),
      authPath: options.authPath === false ? undefined : (options.authPath ?? '/broadcasting/auth'),
      userAuthPath: options.userAuthPath === false ? undefined : (options.userAuthPath ?? '/pusher/user-auth'),
      http: new PusherHttpApi({
        allowedOrigins: options.allowedOrigins,
        core: this.#core,
        access: this.#access,
        apps,
        maxPayloadBytes: this.#maxPayloadBytes,
        sockets,
        terminate: (socket) => {
          for (const connection of this.#connections.values()) {
            if (connection.id === socket.id) connection.close(pusherCodes.unauthorized, 'terminated by the app', 1000);
          }
        },
      }),
      development: options.apps === undefined,
    };
  }

  #historyMemoryBytes(options: BrokerOptions<TEvents>): number {
    return options.historyMaxMemoryBytes ?? defaultHistoryMemoryBytes();
  }

  #defaultHistoryStore(options: BrokerOptions<TEvents>): HistoryStore {
    if (options.dataDir === undefined) return new MemoryHistoryStore({ maxBytes: this.#historyMemoryBytes(options) });
    return new LogHistoryStore({
      dir: join(options.dataDir, 'history'),
      memoryMaxBytes: this.#historyMemoryBytes(options),
      ...(options.historyFsync !== undefined && { fsync: options.historyFsync }),
      ...(options.historyMaxBytes !== undefined && { maxBytes: options.historyMaxBytes }),
      onWarning: (message) => this.#log(message),
    });
  }

  /** The bound address, once listening. */
  get address(): BrokerAddress | undefined {
    return this.#address;
  }

  /** Starts listening. Resolves with the address (useful with `port: 0`). */
  async listen(): Promise<BrokerAddress> {
    const host = this.#options.host ?? brokerDefaults.host;
    const port = this.#options.port ?? brokerDefaults.port;
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
      url: `ws://${shownHost}:${bound.port}`,
      httpUrl: `http://${shownHost}:${bound.port}`,
    };
    this.#startHeartbeat();
    this.#dashboard?.start();
    this.#cluster?.start();
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
    // The last line of defence for the descriptors: past the open-file limit
    // the kernel refuses accept() and newcomers hang or are reset, so stop
    // taking TCP connections a little before it, counting what the process
    // holds already (Node's own descriptors, the cluster link, history
    // files). The WebSocket cap sits lower, leaving room between the two for
    // newcomers being refused and HTTP calls; this only bites when plain
    // HTTP calls flood that room.
    const fileLimit = readOpenFileLimit();
    if (fileLimit) {
      const held = openDescriptors() ?? 0;
      this.#http.maxConnections = Math.max(1, fileLimit.soft - held - HARD_DESCRIPTOR_MARGIN);
      const room = this.#http.maxConnections - this.#access.maxConnections;
      if (room < MIN_REFUSAL_ROOM) {
        this.#log(
          `warning: maxConnections ${this.#access.maxConnections} leaves ${Math.max(0, room)} descriptors for newcomers being refused and HTTP calls (open-file limit ${fileLimit.soft}, ${held} held already): at the cap some newcomers will be reset instead of answered 503; lower maxConnections or raise the limit`,
        );
      }
    }
    if (this.#pusher?.development) {
      this.#log(`pusher: development app ${developmentPusherApp.id}/${developmentPusherApp.key} with the well-known secret "${developmentPusherApp.secret}": set pusher.apps before production`);
    }
    this.#log(
      `listening on ${this.#address.url} (native: /, synap: /pubsub/ws${this.#broadcastingPath ? `, broadcasting: ${this.#broadcastingPath}` : ''}${this.#pusher ? ', pusher: /app/{key}' : ''}, http: /pubsub, /api/v1/command, /health, /stats${this.#pusher ? ', /apps/{id}' : ''}); up to ${this.#access.maxConnections} connections`,
    );
    return this.#address;
  }

  /**
   * Runs `hook` inline before routing for events matching `selector` — a topic
   * pattern (`'order.*'`) or a ts-pattern pattern over the envelope
   * (`{ topic: 'order.created', data: { total: P.number.gte(1000) } }`).
   * Hooks run in registration order; each may `reject`, `transform`,
   * `setMetadata` or `emit`. Returns a function that removes the hook.
   */
  intercept<TPattern extends PatternArgument<TEvents>>(
    selector: TPattern & PatternCheck<TEvents, TPattern>,
    hook: InterceptHook<TEvents, TopicHookEvent<TEvents, TPattern>>,
  ): () => void;
  intercept<const TPattern extends P.Pattern<AnyHookEvent<TEvents>>>(
    selector: TPattern,
    hook: InterceptHook<TEvents, PatternHookEvent<TEvents, TPattern>>,
  ): () => void;
  intercept(selector: string | object, hook: (event: never, context: never) => unknown): () => void {
    return this.#core.intercept(selector, hook as never);
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
    hook: ObserveHook<TEvents, TopicHookEvent<TEvents, TPattern>>,
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
    return this.#core.observe(selector, hook as never, options.queueSize ?? 10_000);
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

  /** The `count` connections with the most data queued and unread, furthest behind first. */
  #furthestBehind(count: number): BehindConnection[] {
    const now = Date.now();
    const behind: BehindConnection[] = [];
    for (const connection of this.#connections.values()) {
      const unsentBytes = connection.unsentBytes;
      if (unsentBytes === 0) continue;
      const since = connection.backloggedSince;
      behind.push({ id: connection.id, surface: connection.surface, remote: connection.remote, unsentBytes, behindMs: since === undefined ? 0 : now - since });
    }
    return behind.sort((a, b) => b.unsentBytes - a.unsentBytes).slice(0, count);
  }

  /** A snapshot of the broker's counters. */
  stats(): BrokerStats {
    const connections = { native: 0, synap: 0, broadcasting: 0, pusher: 0 };
    const bytes = { ...this.#closedTraffic };
    for (const connection of this.#connections.values()) {
      connections[connection.surface]++;
      const traffic = connection.traffic;
      bytes.received += traffic.received;
      bytes.sent += traffic.sent;
    }
    const { subscribers, subscriptions } = this.#core.router.counts();
    return {
      connections,
      subscribers,
      subscriptions,
      ...this.#core.counters,
      slowConsumersCut: this.#slowConsumersCut,
      slowConsumersCutForMemory: this.#outboundBudget.cuts,
      refused: this.#access.refused,
      admitted: this.#access.connections,
      heartbeatTimeouts: this.#heartbeatTimeouts,
      topics: this.#core.topics.size,
      hooks: this.#core.hookStats(),
      ...(this.#core.history && {
        history: { kind: this.#core.history.store.kind, epoch: this.#core.history.store.epoch, head: this.#core.history.store.head },
      }),
      ...(this.#cluster && { cluster: this.#cluster.stats() }),
      bytes,
    };
  }

  /**
   * Every broker of the cluster: each node's stats (as `/stats`, with its
   * `cluster.node`) and the sums over them. Brokers that do not answer within
   * `statsTimeoutMs` are missing from `nodes`. Without a cluster, this broker alone.
   */
  async clusterStats(): Promise<ClusterStats> {
    const nodes = (this.#cluster ? await this.#cluster.gatherStats() : [this.stats()]) as BrokerStats[];
    const sum = (read: (stats: BrokerStats) => number): number => nodes.reduce((total, node) => total + (read(node) || 0), 0);
    return {
      nodes,
      total: {
        nodes: nodes.length,
        connections: sum((node) => Object.values(node.connections).reduce((total, count) => total + (count || 0), 0)),
        subscriptions: sum((node) => node.subscriptions),
        published: sum((node) => node.published),
        deliveries: sum((node) => node.deliveries),
        rejected: sum((node) => node.rejected),
      },
    };
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

  /** `await using broker = …` closes it on scope exit. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------------------

  async #shutdown(): Promise<void> {
    this.#log('shutting down');
    clearInterval(this.#heartbeat);
    this.#dashboard?.stop();
    const timeoutMs = this.#options.shutdownTimeoutMs ?? brokerDefaults.shutdownTimeoutMs;
    const httpClosed = new Promise<void>((resolve) => this.#http.close(() => resolve()));
    const sockets = [...this.#connections.values()].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.socket.readyState === connection.socket.CLOSED) return resolve();
          connection.socket.once('close', () => resolve());
          connection.close(closeCodes.goingAway, 'server shutting down', timeoutMs);
        }),
    );
    await Promise.all(sockets);
    await settlesWithin(this.#core.observersIdle(), timeoutMs);
    // The history first: the cluster's mirror reads from the link's connection, which the link then drains.
    await this.#core.history?.store.close();
    await this.#cluster?.close();
    this.#http.closeAllConnections();
    await httpClosed;
    this.#wss.close();
    this.#log('stopped');
  }

  async #onUpgrade(request: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    if (this.#closing) {
      refuseSocket(socket, new EventwireError('connection_closed', 'The broker is shutting down'));
      return;
    }
    let surface: SocketSurface | undefined;
    let topics: string[] = [];
    let user: BrokerUser | undefined;
    let app: PusherApp | undefined;
    const ip = this.#clientAddress(request);
    let admitted = false;
    try {
      const url = requestUrl(request);
      const pusherKey = this.#pusher && /^\/app\/([^/]+)$/.exec(url.pathname)?.[1];
      if (pusherKey !== undefined) surface = 'pusher';
      this.#assertServing();
      // Caps and the connect rate first: over them, nothing else is spent.
      this.#access.admit(ip);
      admitted = true;
      if (surface === 'pusher') {
        // Pusher clients are told why in the protocol's own terms (pusher:error, then a close with its code).
        app = this.#pusher!.apps.byKey(decodePathSegment(pusherKey!));
        if (!app) throw new EventwireError('not_found', `No Pusher app with key "${pusherKey!.slice(0, 100)}"`);
        const problem = protocolProblem(url);
        if (problem) {
          this.#access.release(ip);
          return refusePusherUpgrade(this.#wss, request, socket, head, problem.code, problem.message);
        }
      } else if (url.pathname === '/' || url.pathname === '/ws') surface = 'native';
      else if (url.pathname === '/pubsub/ws') {
        surface = 'synap';
        topics = parseSynapTopics(url, this.#topicLimits, this.#maxSubscriptions);
      } else if (this.#broadcastingPath !== undefined && url.pathname === this.#broadcastingPath) surface = 'broadcasting';
      else throw new EventwireError('not_found', `No WebSocket endpoint at ${url.pathname}`);
      const token = findToken(url, request.headers);
      // Checked before the socket is accepted: wrong credentials cost the
      // broker one verification, no connection state. A native client without
      // credentials here may still send them in its hello.
      // A Pusher socket has no credentials of its own: the app key admits it,
      // and private and presence channels are let in by their signatures.
      if (this.#access.authenticates && surface !== 'pusher' && (token !== undefined || surface !== 'native')) {
        user = await this.#authenticateRequest(request, token, surface);
      }
      // A Synap subscriber names its channels in the URL: each must be allowed.
      await this.#access.authorize(user, topics, 'subscribe');
    } catch (error) {
      if (admitted) this.#access.release(ip);
      const failure = toEventwireError(error);
      if (surface === 'pusher') return refusePusherUpgrade(this.#wss, request, socket, head, pusherCodeFor(failure.code) ?? pusherCodes.reconnect, failure.message);
      refuseSocket(socket, failure);
      return;
    }
    if (socket.destroyed) return this.#access.release(ip);
    this.#wss.handleUpgrade(request, socket, head, (ws) => this.#onConnection(ws, request, ip, surface!, topics, user, app));
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
    if (this.#sharedHistory && !this.#sharedHistory.ready) {
      throw new EventwireError('unavailable', 'The broker is starting: the cluster history is still loading', { retryAfterMs: 1000 });
    }
  }

  /** The broker's authentication rules for one request (anonymous only where allowed; failures limited per IP). */
  #authenticateRequest(request: IncomingMessage, token: string | undefined, surface: SocketSurface | 'http'): Promise<BrokerUser | undefined> {
    return this.#access.authenticate({ token, headers: request.headers, remoteAddress: this.#clientAddress(request), surface });
  }

  /** What every native session shares (one object for all of them). */
  #sessionLimits(): NativeSessionLimits {
    return {
      maxPayloadBytes: this.#maxPayloadBytes,
      maxSubscriptions: this.#maxSubscriptions,
      topicLimits: this.#topicLimits,
      heartbeatMs: this.#heartbeatMs,
      helloTimeoutMs: this.#options.helloTimeoutMs ?? brokerDefaults.helloTimeoutMs,
      maxReplayEvents: this.#options.maxReplayEvents ?? brokerDefaults.maxReplayEvents,
      maxReplayBytes: this.#options.maxOutboundBytes ?? brokerDefaults.maxOutboundBytes,
      access: this.#access,
    };
  }

  /** The address per-IP caps and limits count this request against (see `trustedProxies`). */
  #clientAddress(request: IncomingMessage): string {
    return clientAddress(request, this.#trustedProxies);
  }

  #onConnection(
    ws: WebSocket,
    request: IncomingMessage,
    ip: string,
    surface: SocketSurface,
    topics: string[],
    user: BrokerUser | undefined,
    app?: PusherApp,
  ): void {
    // Assigned below, once the connection it wraps exists; onSlow only runs later.
    let subscriber: NativeSession | SynapSubscriber | BroadcastingSubscriber | PusherSubscriber;
    const connection = new Connection({
      // A Pusher connection's id is its socket id (`N.N`), the id `socket_id` names to leave it out.
      id: surface === 'pusher' ? this.#pusher!.nextSocketId() : this.#nextConnectionId(),
      socket: ws,
      surface,
      remote: `${request.socket.remoteAddress}:${request.socket.remotePort}`,
      maxOutboundBytes: this.#options.maxOutboundBytes ?? brokerDefaults.maxOutboundBytes,
      slowConsumerMs: this.#options.slowConsumerMs ?? brokerDefaults.slowConsumerMs,
      budget: this.#outboundBudget,
      ...(surface === 'pusher' && { closeCode: pusherCloseCode }),
      onSlow: (slow) => {
        this.#slowConsumersCut++;
        // Stop routing to it at once; its close event comes later.
        this.#core.router.remove(subscriber);
        this.#log(`conn ${slow.id} cut: slow consumer (${slow.socket.bufferedAmount} bytes unsent)`);
      },
    });
    connection.authenticated(user);
    this.#connections.set(ws, connection);
    ws.on('pong', () => (connection.alive = true));
    ws.on('error', (error) => this.#log(`conn ${connection.id} socket error: ${error.message}`));
    if (surface === 'native') {
      const rateLimits = this.#access.limits(ip);
      // Per-connection parts only where they apply: an idle anonymous connection carries none.
      const session = new NativeSession(
        connection,
        this.#core,
        (this.#nativeLimits ??= this.#sessionLimits()),
        this.#access.authenticates || rateLimits
          ? {
              rateLimits,
              ...(this.#access.authenticates && {
                authenticate: (token: string | undefined) => this.#authenticateRequest(request, token, 'native'),
              }),
              // Credentials not given at the upgrade must come with the hello.
              authenticateHello: this.#access.authenticates && user === undefined,
            }
          : undefined,
      );
      subscriber = session;
      ws.on('message', (data, isBinary) => {
        connection.alive = true;
        session.receive(data, isBinary);
      });
    } else if (surface === 'pusher') {
      const pusher = new PusherSubscriber(connection, app!, {
        core: this.#core,
        access: this.#access,
        maxSubscriptions: this.#maxSubscriptions,
        maxPayloadBytes: this.#maxPayloadBytes,
      });
      subscriber = pusher;
      this.#pusher!.sockets.set(pusher.id, pusher);
      pusher.welcome();
      ws.on('message', (data) => {
        connection.alive = true;
        pusher.receive(String(data));
      });
    } else if (surface === 'broadcasting') {
      const broadcasting = new BroadcastingSubscriber(connection, {
        access: this.#access,
        router: this.#core.router,
        presence: this.#core.presence,
        topicLimits: this.#topicLimits,
        maxSubscriptions: this.#maxSubscriptions,
      });
      subscriber = broadcasting;
      broadcasting.welcome();
      ws.on('message', (data) => {
        connection.alive = true;
        broadcasting.receive(String(data));
      });
    } else {
      const synap = new SynapSubscriber(connection);
      subscriber = synap;
      this.#synapHttp.track(synap);
      for (const topic of topics) this.#core.router.subscribe(synap, topic);
      synap.welcome(topics);
      ws.on('message', (data) => {
        connection.alive = true;
        synap.receive(String(data));
      });
    }
    ws.on('close', (code, reason) => {
      this.#connections.delete(ws);
      const traffic = connection.traffic;
      this.#closedTraffic.received += traffic.received;
      this.#closedTraffic.sent += traffic.sent;
      this.#access.release(ip);
      connection.closed();
      if (subscriber instanceof PusherSubscriber) {
        this.#pusher!.sockets.delete(subscriber.id);
        subscriber.closed();
      } else if (subscriber instanceof NativeSession || subscriber instanceof BroadcastingSubscriber) subscriber.closed();
      else {
        this.#core.router.remove(subscriber);
        this.#synapHttp.untrack(subscriber);
      }
      this.#log(`conn ${connection.id} closed ${code}${reason.length ? ` ${reason.toString()}` : ''}`);
    });
    this.#log(`conn ${connection.id} open ${surface} from ${connection.remote}${topics.length ? ` topics=${topics.join(',')}` : ''}`);
  }

  #startHeartbeat(): void {
    if (!(this.#heartbeatMs > 0)) return;
    this.#heartbeat = setInterval(() => {
      for (const connection of this.#connections.values()) {
        if (!connection.alive) {
          this.#heartbeatTimeouts++;
          this.#log(`conn ${connection.id} dead: no pong within ${this.#heartbeatMs} ms`);
          connection.socket.terminate();
          continue;
        }
        connection.alive = false;
        connection.socket.ping();
      }
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  async #onRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      await this.#route(request, response);
    } catch (error) {
      if (!response.headersSent) sendError(response, error);
      else response.destroy();
    }
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestUrl(request);
    const path = url.pathname;
    const method = request.method ?? 'GET';
    const expect = (wanted: string): void => {
      if (method !== wanted) throw new EventwireError('method_not_allowed', `${path} accepts ${wanted}, not ${method}`);
    };
    if (path === '/' || path === '/ws' || path === '/pubsub/ws' || path === this.#broadcastingPath) {
      // A browser tab, curl or a health probe on a WebSocket path: say how to connect.
      throw upgradeRequired(path, request.headers.host ?? this.#address?.host ?? 'localhost', this.#broadcastingPath);
    }
    if (this.#pusher && /^\/app\/[^/]+$/.test(path)) {
      throw new EventwireError('upgrade_required', `${path} is the Pusher WebSocket endpoint: connect pusher-js with key "${path.slice(5)}", wsHost and wsPort of this broker`);
    }
    // The page and its scripts hold no data: what it shows comes over $sys. subscriptions, which are guarded.
    if (this.#dashboard?.serve(request, response, path)) return;
    if (this.#pusher && (path === this.#pusher.authPath || path === this.#pusher.userAuthPath)) {
      return this.#pusher.http.serveAuthEndpoint(request, response, path === this.#pusher.authPath ? 'channel' : 'user', this.#clientAddress(request));
    }
    // Signed with the app's secret (not the broker's credentials): before authentication below.
    if (this.#pusher && (await this.#pusher.http.handle(request, response, url, this.#clientAddress(request), validTraceparent(request.headers.traceparent)))) return;
    if (path === '/health') {
      expect('GET');
      return sendJson(response, 200, {
        // At the cap the broker is up and serving its clients, only full: 200, so a
        // liveness probe does not restart it; a load balancer reads `status`.
        // A node that lost NATS still serves its own clients: up (200), but `degraded`.
        status: this.#closing
          ? 'shutting_down'
          : this.#access.atCapacity
            ? 'at_capacity'
            : (this.#cluster && this.#cluster.state !== 'open') || (this.#sharedHistory && !this.#sharedHistory.ready)
              ? 'degraded'
              : 'healthy',
        // What Synap's SDKs read in health(): { status, service, version }.
        service: 'eventwire-broker',
        version: brokerVersion,
        uptime_seconds: Math.floor((Date.now() - this.#startedAt) / 1000),
        connections: this.#connections.size,
        max_connections: this.#access.maxConnections,
        ...(this.#cluster && {
          cluster: {
            node: this.#cluster.node,
            state: this.#cluster.state,
            ...(this.#sharedHistory && { history: this.#sharedHistory.ready ? 'ready' : 'unavailable' }),
          },
        }),
      });
    }
    // Everything below /health needs credentials when the broker authenticates.
    const user = this.#access.authenticates ? await this.#authenticateRequest(request, findToken(url, request.headers), 'http') : undefined;
    const socketId = request.headers['x-socket-id'];
    const caller = {
      user,
      ip: this.#clientAddress(request),
      socketId: Array.isArray(socketId) ? socketId[0] : socketId,
      traceparent: validTraceparent(request.headers.traceparent),
    };
    if (path === '/stats') {
      expect('GET');
      return sendJson(response, 200, this.stats());
    }
    if (this.#metrics && path === this.#metrics.path) {
      expect('GET');
      const text = await this.#metrics.registry.scrape();
      response.writeHead(200, { 'content-type': this.#metrics.registry.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      return void response.end(text);
    }
    if (path === '/cluster') {
      expect('GET');
      return sendJson(response, 200, await this.clusterStats());
    }
    const history = /^\/history\/([^/]+)$/.exec(path);
    if (history) {
      expect('GET');
      const pattern = decodePathSegment(history[1]!);
      assertPattern(pattern, this.#topicLimits);
      this.#assertServing();
      this.#access.takeForIp(caller.ip, 'subscribe');
      await this.#access.authorize(user, [pattern], 'subscribe');
      const limit = url.searchParams.get('limit');
      const last = url.searchParams.get('last');
      const page = readHistoryPage(this.#core.history, pattern, {
        since: url.searchParams.get('since') ?? undefined,
        limit: limit === null ? undefined : countParam('limit', limit),
        last: last === null ? undefined : countParam('last', last),
      });
      return sendJson(response, 200, { pattern, ...page });
    }
    const members = /^\/channels\/([^/]+)\/members$/.exec(path);
    if (members) {
      expect('GET');
      const channel = decodePathSegment(members[1]!);
      assertTopic(channel, this.#topicLimits);
      if (channelKind(channel) !== 'presence') throw new EventwireError('not_found', `"${channel}" is not a presence channel (presence-…)`);
      // Who is on a channel is for those who may be on it.
      await this.#access.authorize(user, [channel], 'subscribe');
      const list = this.#core.presence.members(channel);
      return sendJson(response, 200, { channel, count: list.length, members: list });
    }
    if (await this.#synapHttp.handle(request, response, path, method, caller)) return;
    throw new EventwireError('not_found', `No route for ${method} ${path}`);
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
    return this.#pusherHttp().nodeHandler(kind, (request) => this.#clientAddress(request));
  }

  /**
   * The channel auth endpoint as a fetch handler, `(Request) => Response`,
   * for frameworks built on web requests (Hono, Next.js route handlers).
   * Pass the caller's address where the framework knows it: failed
   * authentications are limited per address, and without one every caller
   * shares a single bucket (a forwarded-for header is not trusted here).
   */
  pusherAuthFetch(kind: 'channel' | 'user' = 'channel'): (request: Request, clientAddress?: string) => Promise<Response> {
    return this.#pusherHttp().fetchHandler(kind);
  }

  #pusherHttp(): PusherHttpApi {
    if (!this.#pusher) throw new EventwireError('invalid_payload', 'The Pusher surface is off: set the `pusher` option');
    return this.#pusher.http;
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }
}

/** The Pusher surface's parts, when it is on. */
interface PusherSurface {
  readonly apps: PusherApps;
  /** This broker's Pusher connections by socket id. */
  readonly sockets: Map<string, PusherSubscriber>;
  readonly nextSocketId: () => string;
  readonly authPath: string | undefined;
  readonly userAuthPath: string | undefined;
  readonly http: PusherHttpApi;
  /** Serving the development app (no apps configured). */
  readonly development: boolean;
}

/** A request's `traceparent` header when it is a valid W3C one (the spec says to ignore any other). */
function validTraceparent(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return parseTraceparent(value) ? value : undefined;
}

function countParam(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new EventwireError('invalid_payload', `?${name}= must be a non-negative integer, got "${text.slice(0, 40)}"`);
  return value;
}

/** The configured nesting limit, within what the broker can serialise (see `BrokerOptions.maxPayloadDepth`). */
function payloadDepth(value: number | undefined): number {
  if (value === undefined) return brokerDefaults.maxPayloadDepth;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_PAYLOAD_DEPTH) {
    throw new RangeError(`maxPayloadDepth must be a whole number from 1 to ${MAX_PAYLOAD_DEPTH}, got ${value}`);
  }
  return value;
}

function upgradeRequired(path: string, host: string, broadcastingPath: string | undefined): EventwireError {
  const how =
    path === '/pubsub/ws'
      ? `open a WebSocket to ws://${host}/pubsub/ws?topics=a.b,c.* (Synap pub/sub)`
      : path === broadcastingPath
        ? `open a WebSocket to ws://${host}${path}?token=… and send {"event":"subscribe","channel":"users"} (broadcasting)`
        : `open a WebSocket to ws://${host}${path} (eventwire protocol; EventChannel({ url: 'ws://${host}' }) does this)`;
  return new EventwireError(
    'upgrade_required',
    `${path} is a WebSocket endpoint: ${how}. HTTP endpoints: /health, /stats, /pubsub/stats, /pubsub/topics, POST /pubsub/{topic}/publish, POST /api/v1/command`,
  );
}

/** The `cluster` option as options, with this node's name fixed (the history and the link both need it). */
function clusterOptionsOf(option: string | ClusterOptions): ClusterOptions & { readonly node: string } {
  const options = typeof option === 'string' ? { url: option } : option;
  return { ...options, node: clusterNodeName(options) };
}
