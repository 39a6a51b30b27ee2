// The broker's own HTTP routes, and the surfaces' routes in their place:
// /health, /livez and /readyz (unauthenticated, for probes; HEAD answers as
// GET without the body), the browser build at /eventwire/event-channel.js
// (public code, any origin), then the broker's credentials for
// /stats, /metrics, /cluster, /asyncapi.json (when on), /history/{pattern} and
// /channels/{channel}/members. A plain request to a WebSocket path is told
// how to connect (426).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventwireError, assertPattern, assertTopic, parseTraceparent, type TopicLimits } from '@eventwire/event-channel';
import type { AsyncApiDocument } from './asyncapi/build.js';
import type { Access } from './auth/access.js';
import { findToken, type BrokerUser } from './auth/authenticate.js';
import { channelKind } from './auth/channels.js';
import type { BrokerStats, ClusterStats } from './broker-stats.js';
import { ClientScript, clientScriptPrefix } from './client-script.js';
import type { ClusterEngine } from './cluster/cluster-engine.js';
import type { BrokerCore } from './core.js';
import type { Dashboard } from './dashboard/dashboard.js';
import { readHistoryPage } from './history/replay.js';
import { decodePathSegment, requestUrl, sendError, sendJson } from './http.js';
import type { BrokerMetrics } from './metrics/broker-metrics.js';
import type { BrokerOrigin, Surface } from './surfaces/surface.js';

export interface HttpApiOptions {
  readonly surfaces: readonly Surface[];
  readonly core: BrokerCore;
  readonly access: Access;
  readonly topicLimits: TopicLimits;
  readonly version: string;
  readonly startedAt: number;
  readonly dashboard: Dashboard | undefined;
  /** The browser build, when `serveClient` is on. */
  readonly clientScript: ClientScript | undefined;
  readonly metrics: { readonly path: string; readonly registry: BrokerMetrics } | undefined;
  readonly cluster: ClusterEngine | undefined;
  /** The AsyncAPI document, when `asyncapi` is on. */
  readonly asyncApi: (() => AsyncApiDocument) | undefined;
  /** Whether the cluster's shared history is loaded, when there is one. */
  historyReady(): boolean | undefined;
  closing(): boolean;
  openConnections(): number;
  stats(): BrokerStats;
  clusterStats(): Promise<ClusterStats>;
  clientAddress(request: IncomingMessage): string;
  /** Throws while the broker cannot serve history (its cluster history still loading). */
  assertServing(): void;
  /** The broker's host, for a hint when the request names none. */
  host(): string;
  /** Whether the listener serves TLS: the one place an advertised URL's scheme (wss/https) comes from. */
  secure(): boolean;
  /** Each part /readyz checks: `'ok'` or why it is not ready. */
  readiness(): Readiness;
}

/**
 * What `/readyz` checks, each `'ok'` or why not: the broker listens (not
 * starting, not shutting down), its history store stores (when it keeps
 * history) and its cluster link is open (when it is in a cluster).
 */
export interface Readiness {
  readonly listening: string;
  readonly history?: string;
  readonly cluster?: string;
}

export class HttpApi {
  readonly #options: HttpApiOptions;

  constructor(options: HttpApiOptions) {
    this.#options = options;
  }

  /** The HTTP server's request listener: any failure becomes a JSON error with its code. */
  async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      await this.#route(request, response);
    } catch (error) {
      if (!response.headersSent) sendError(response, error);
      else response.destroy();
    }
  }

  async #route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const options = this.#options;
    const { access, surfaces } = options;
    const url = requestUrl(request);
    const path = url.pathname;
    const method = request.method ?? 'GET';
    const expect = (wanted: string): void => {
      if (method !== wanted) throw new EventwireError('method_not_allowed', `${path} accepts ${wanted}, not ${method}`);
    };
    const claimed = surfaces.find((surface) => surface.claims(url));
    // A transport over plain HTTP on the surface's path (Engine.IO long-polling) answers for itself.
    if (claimed?.http?.serveTransport && (await claimed.http.serveTransport(request, response, url, { ip: options.clientAddress(request) }))) return;
    // A browser tab, curl or a health probe on a WebSocket path: say how to connect.
    if (claimed) throw this.#upgradeRequired(claimed, path, request.headers.host ?? options.host());
    // Public code, no data: before authentication, like the dashboard's page.
    const clientFile = ClientScript.fileOf(path, clientScriptPrefix);
    if (clientFile && options.clientScript) return options.clientScript.serve(request, response, clientFile);
    // The page and its scripts hold no data: what it shows comes over $sys. subscriptions, which are guarded.
    if (options.dashboard?.serve(request, response, path)) return;
    const ip = options.clientAddress(request);
    const traceparent = validTraceparent(request.headers.traceparent);
    for (const surface of surfaces) {
      if (surface.http?.serveSigned && (await surface.http.serveSigned(request, response, url, { ip, traceparent }))) return;
    }
    // Probes: HEAD is what some load balancers send; Node leaves the body out of a HEAD answer.
    const probe = (): void => {
      if (method !== 'GET' && method !== 'HEAD') throw new EventwireError('method_not_allowed', `${path} accepts GET and HEAD, not ${method}`);
    };
    if (path === '/health') {
      probe();
      return sendJson(response, 200, this.#health());
    }
    // Liveness: the process answers HTTP. Nothing else, so a lost cluster link never gets the broker restarted.
    if (path === '/livez') {
      probe();
      return sendJson(response, 200, { status: 'alive' });
    }
    if (path === '/readyz') {
      probe();
      const checks = options.readiness();
      const ready = Object.values(checks).every((check) => check === 'ok');
      return sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready', checks });
    }
    // Everything below /health needs credentials when the broker authenticates.
    const user = access.authenticates ? await this.#authenticate(request, findToken(url, request.headers), ip) : undefined;
    const socketId = request.headers['x-socket-id'];
    const caller = { user, ip, socketId: Array.isArray(socketId) ? socketId[0] : socketId, traceparent };
    if (path === '/stats') {
      expect('GET');
      return sendJson(response, 200, options.stats());
    }
    if (options.metrics && path === options.metrics.path) {
      expect('GET');
      const text = await options.metrics.registry.scrape();
      response.writeHead(200, { 'content-type': options.metrics.registry.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      return void response.end(text);
    }
    if (path === '/cluster') {
      expect('GET');
      return sendJson(response, 200, await options.clusterStats());
    }
    if (options.asyncApi && path === '/asyncapi.json') {
      expect('GET');
      return sendJson(response, 200, options.asyncApi());
    }
    const history = /^\/history\/([^/]+)$/.exec(path);
    if (history) {
      expect('GET');
      const pattern = decodePathSegment(history[1]!);
      assertPattern(pattern, options.topicLimits);
      options.assertServing();
      access.takeForIp(caller.ip, 'subscribe');
      await access.authorize(user, [pattern], 'subscribe');
      const limit = url.searchParams.get('limit');
      const last = url.searchParams.get('last');
      const page = readHistoryPage(options.core.history, pattern, {
        since: url.searchParams.get('since') ?? undefined,
        limit: limit === null ? undefined : countParam('limit', limit),
        last: last === null ? undefined : countParam('last', last),
      }, options.core.lastEvents);
      return sendJson(response, 200, { pattern, ...page });
    }
    const members = /^\/channels\/([^/]+)\/members$/.exec(path);
    if (members) {
      expect('GET');
      const channel = decodePathSegment(members[1]!);
      assertTopic(channel, options.topicLimits);
      if (channelKind(channel) !== 'presence') throw new EventwireError('not_found', `"${channel}" is not a presence channel (presence-…)`);
      // Who is on a channel is for those who may be on it.
      await access.authorize(user, [channel], 'subscribe');
      const list = options.core.presence.members(channel);
      return sendJson(response, 200, { channel, count: list.length, members: list });
    }
    for (const surface of surfaces) {
      if (surface.http?.serve && (await surface.http.serve(request, response, url, caller))) return;
    }
    throw new EventwireError('not_found', `No route for ${method} ${path}`);
  }

  /** What Synap's SDKs read in health() ({ status, service, version }), and the broker's own state. */
  #health(): Record<string, unknown> {
    const { access, cluster } = this.#options;
    const historyReady = this.#options.historyReady();
    return {
      // At the cap the broker is up and serving its clients, only full: 200, so a
      // liveness probe does not restart it; a load balancer reads `status`.
      // A node that lost NATS still serves its own clients: up (200), but `degraded`.
      status: this.#options.closing()
        ? 'shutting_down'
        : access.atCapacity
          ? 'at_capacity'
          : (cluster && cluster.state !== 'open') || historyReady === false
            ? 'degraded'
            : 'healthy',
      service: 'eventwire-broker',
      version: this.#options.version,
      uptime_seconds: Math.floor((Date.now() - this.#options.startedAt) / 1000),
      connections: this.#options.openConnections(),
      max_connections: access.maxConnections,
      ...(cluster && {
        cluster: {
          node: cluster.node,
          state: cluster.state,
          ...(historyReady !== undefined && { history: historyReady ? 'ready' : 'unavailable' }),
        },
      }),
    };
  }

  #authenticate(request: IncomingMessage, token: string | undefined, ip: string): Promise<BrokerUser | undefined> {
    return this.#options.access.authenticate({ token, headers: request.headers, remoteAddress: ip, surface: 'http' });
  }

  #upgradeRequired(surface: Surface, path: string, host: string): EventwireError {
    const origin = originOf(host, this.#options.secure());
    const how = surface.upgradeHint?.(path, origin) ?? `open a WebSocket to ${origin.ws}${path}`;
    const http = ['/health', '/livez', '/readyz', '/stats', ...(this.#options.asyncApi ? ['/asyncapi.json'] : []), ...this.#options.surfaces.flatMap((each) => each.endpoints.http ?? [])];
    return new EventwireError('upgrade_required', `${path} is a WebSocket endpoint: ${how}. HTTP endpoints: ${http.join(', ')}`);
  }
}

/** The URLs a client uses for `host`, in the listener's scheme. */
function originOf(host: string, secure: boolean): BrokerOrigin {
  return { ws: `${secure ? 'wss' : 'ws'}://${host}`, http: `${secure ? 'https' : 'http'}://${host}`, secure };
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
