// The live dashboard: a static page (dashboard/index.html) that uses the
// browser build of @eventwire/event-channel over ws:// like any client (the
// same file as /eventwire/event-channel.js, served under the dashboard's own
// path so it works with `serveClient: false`), and
// two reserved topics the broker publishes itself:
// - `$sys.stats`, once a second while someone is subscribed: connections by
//   surface, rates, top topics, hooks, slow consumers, refusals;
// - `$sys.events`, a redacted preview of each event (bounded: an observer's
//   queue, so a busy broker drops previews, never slows delivery).
// `$`-topics are system channels: clients cannot publish to them, wildcards
// never receive them, and subscribing needs the dashboard's rule.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventwireError, type EventEnvelope } from '@eventwire/event-channel';
import type { BrokerUser } from '../auth/authenticate.js';
import { channelKind } from '../auth/channels.js';
import { ClientScript } from '../client-script.js';
import type { BrokerCore } from '../core.js';
import type { HookStats } from '../hooks.js';

/** The topics the dashboard reads. */
export const dashboardTopics = { stats: '$sys.stats', events: '$sys.events' } as const;

/** Options of the dashboard (`dashboard: true | { … }`). */
export interface DashboardOptions {
  /** @default '/dashboard' */
  readonly path?: string;
  /**
   * Who may watch when the broker authenticates (user ids). Without it, on an
   * authenticating broker nobody may: previews show payloads.
   * Without authentication, anyone who can reach the broker may.
   */
  readonly users?: readonly string[];
  /** Keys whose values previews show as "[redacted]", at any depth (case-insensitive). @default password, token, secret, authorization, apikey, card */
  readonly redact?: readonly string[];
  /** @default 1000 */
  readonly intervalMs?: number;
}

const defaultRedact = ['password', 'passwd', 'token', 'secret', 'authorization', 'apikey', 'api_key', 'card', 'cardnumber'];
const PREVIEW_CHARS = 240;
const TOP_TOPICS = 10;

/** What `$sys.stats` carries. */
export interface DashboardStats {
  readonly time: string;
  readonly uptimeSeconds: number;
  readonly connections: Readonly<Record<string, number>>;
  readonly subscriptions: number;
  readonly publishedPerSecond: number;
  readonly deliveriesPerSecond: number;
  readonly published: number;
  readonly deliveries: number;
  readonly rejected: number;
  readonly slowConsumersCut: number;
  readonly refused: Readonly<Record<string, number>>;
  readonly topTopics: ReadonlyArray<{ readonly topic: string; readonly messages: number }>;
  /** The connections furthest behind now (unsent bytes queued for them), at most five. */
  readonly behind: readonly BehindConnection[];
  readonly hooks: ReadonlyArray<Pick<HookStats, 'kind' | 'name' | 'builtin' | 'calls' | 'failures' | 'queued' | 'dropped'>>;
}

/** A connection with data queued that it has not read yet. */
export interface BehindConnection {
  readonly id: string;
  readonly surface: string;
  readonly remote: string;
  readonly unsentBytes: number;
  /** How long its queue has not been empty. */
  readonly behindMs: number;
}

/** The part of the broker's stats the dashboard shows. */
export interface DashboardSource {
  readonly connections: object;
  readonly subscriptions: number;
  readonly published: number;
  readonly deliveries: number;
  readonly rejected: number;
  readonly slowConsumersCut: number;
  readonly refused: object;
  readonly hooks: readonly HookStats[];
}

export class Dashboard {
  readonly path: string;
  readonly #core: BrokerCore;
  readonly #stats: () => DashboardSource;
  readonly #redact: ReadonlySet<string>;
  readonly #intervalMs: number;
  readonly #startedAt = Date.now();
  readonly #page: string;
  readonly #clientScript: ClientScript;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** What the dashboard's own $sys. events added to the broker's counts (left out of its rates). */
  readonly #own = { published: 0, deliveries: 0 };
  #previous: { at: number; published: number; deliveries: number } | undefined;

  readonly #behind: () => readonly BehindConnection[];

  constructor(
    core: BrokerCore,
    sources: { readonly stats: () => DashboardSource; readonly behind: () => readonly BehindConnection[] },
    options: DashboardOptions,
    authenticates: boolean,
    addRule: (template: string, rule: (user: BrokerUser | undefined) => boolean) => void,
    clientScript: ClientScript,
  ) {
    this.path = options.path ?? '/dashboard';
    this.#core = core;
    this.#stats = sources.stats;
    this.#behind = sources.behind;
    this.#redact = new Set((options.redact ?? defaultRedact).map((key) => key.toLowerCase()));
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#page = readFileSync(new URL('../../dashboard/index.html', import.meta.url), 'utf8').replace('__ASSETS__', `${this.path}/assets`);
    this.#clientScript = clientScript;
    const users = options.users;
    const allowed = (user: BrokerUser | undefined): boolean => (authenticates ? user !== undefined && (users?.includes(user.id) ?? false) : true);
    for (const topic of Object.values(dashboardTopics)) addRule(topic, allowed);
    // Off the publish path, through a bounded queue; previews only while someone watches.
    core.observe(
      '#',
      (event) => {
        if (channelKind(event.topic) === 'system' || core.router.countMatching(dashboardTopics.events) === 0) return;
        this.#publish(dashboardTopics.events, this.#preview(event));
      },
      1000,
      'dashboard previews',
      true,
    );
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#core.router.countMatching(dashboardTopics.stats) === 0) {
        this.#previous = undefined;
        return;
      }
      this.#publish(dashboardTopics.stats, this.snapshot());
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The stats now, with rates since the last snapshot. */
  snapshot(): DashboardStats {
    const raw = this.#stats();
    // The dashboard's own traffic is not the broker's load: left out of every count it shows.
    const stats = { ...raw, published: raw.published - this.#own.published, deliveries: raw.deliveries - this.#own.deliveries };
    const now = Date.now();
    const previous = this.#previous;
    const seconds = previous ? Math.max(0.001, (now - previous.at) / 1000) : 1;
    this.#previous = { at: now, published: stats.published, deliveries: stats.deliveries };
    return {
      time: new Date(now).toISOString(),
      uptimeSeconds: Math.floor((now - this.#startedAt) / 1000),
      connections: stats.connections as Record<string, number>,
      subscriptions: stats.subscriptions,
      publishedPerSecond: previous ? Math.round((stats.published - previous.published) / seconds) : 0,
      deliveriesPerSecond: previous ? Math.round((stats.deliveries - previous.deliveries) / seconds) : 0,
      published: stats.published,
      deliveries: stats.deliveries,
      rejected: stats.rejected,
      slowConsumersCut: stats.slowConsumersCut,
      refused: stats.refused as Record<string, number>,
      topTopics: this.#core.topics
        .list()
        .filter((record) => channelKind(record.topic) !== 'system')
        .sort((a, b) => b.messages - a.messages)
        .slice(0, TOP_TOPICS)
        .map(({ topic, messages }) => ({ topic, messages })),
      behind: this.#behind(),
      hooks: stats.hooks.map(({ kind, name, builtin, calls, failures, queued, dropped }) => ({ kind, name, builtin, calls, failures, queued, dropped })),
    };
  }

  /** Serves the page and its scripts; false when `path` is not the dashboard's. */
  serve(request: IncomingMessage, response: ServerResponse, path: string): boolean {
    if (path === this.path || path === `${this.path}/`) {
      if (request.method !== 'GET') throw new EventwireError('method_not_allowed', `${path} accepts GET`);
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      response.end(this.#page);
      return true;
    }
    const prefix = `${this.path}/assets`;
    if (!path.startsWith(`${prefix}/`)) return false;
    const file = ClientScript.fileOf(path, prefix);
    if (!file) throw new EventwireError('not_found', `No dashboard asset ${path}`);
    this.#clientScript.serve(request, response, file);
    return true;
  }

  #publish(topic: string, data: unknown): void {
    const envelope = this.#core.createEnvelope(topic, data, { source: 'urn:eventwire:broker:dashboard' });
    const counted = (notified: number): void => {
      this.#own.published++;
      this.#own.deliveries += notified;
    };
    try {
      const result = this.#core.publish(envelope, { surface: 'broker' });
      if (result instanceof Promise) result.then((settled) => counted(settled.notified), () => {});
      else counted(result.notified);
    } catch {
      // A stats frame that cannot be routed is not worth reporting every second.
    }
  }

  #preview(event: EventEnvelope): { id: string; topic: string; time: string; source: string; preview: string } {
    let text: string;
    try {
      text = JSON.stringify(redact(event.data, this.#redact, 0)) ?? 'undefined';
    } catch {
      text = '[not JSON]';
    }
    return {
      id: event.id,
      topic: event.topic,
      time: event.time,
      source: event.source,
      preview: text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text,
    };
  }
}

function redact(value: unknown, keys: ReadonlySet<string>, depth: number): unknown {
  if (depth > 6 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.slice(0, 20).map((item) => redact(item, keys, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, keys.has(key.toLowerCase()) ? '[redacted]' : redact(item, keys, depth + 1)]));
}
