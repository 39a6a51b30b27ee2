// Pusher's webhooks: what happens on an app's channels, told to the app's
// server as Pusher tells it (`{ time_ms, events }`, signed with the app's
// secret). The events come from the broker's shared state, not from the
// Pusher sessions alone, so native and other surfaces' subscribers occupy a
// channel too (one event space):
// - channel_occupied / channel_vacated: the router's interest in an exact
//   topic of an app (its first subscriber, its last leaving), merged across
//   the cluster in a registry of its own (one "member" per channel: the
//   presence machinery, so a channel is occupied once whichever brokers hold it);
// - member_added / member_removed: the presence registry's cluster-wide
//   member changes (a user, not a connection);
// - client_event and cache_miss: told by the session that saw them (so on
//   one broker only).
// A removal waits `webhookRemovalDelayMs` and is forgotten when the channel
// or member comes back meanwhile: a page reload sends nothing. In a cluster
// every broker sees every occupancy and member change, and only the
// channel's owner (rendezvous hash of the channel over the live brokers)
// sends them.
import { EventwireError } from '@eventwire/event-channel';
import type { BrokerLogRecord } from '../../log-record.js';
import { PresenceRegistry, type PresenceListener, type PresenceMember } from '../../presence.js';
import type { Router } from '../../router.js';
import type { PusherApp } from './pusher-apps.js';
import {
  PusherWebhookSender,
  pusherWebhookEventTypes,
  type PusherWebhookEvent,
  type PusherWebhookEventType,
  type PusherWebhookStats,
} from './pusher-webhook-sender.js';

export { pusherWebhookEventTypes, type PusherWebhookEvent, type PusherWebhookEventType, type PusherWebhookStats };

/** One webhook of a Pusher app (`pusher.apps[].webhooks[]`). */
export interface PusherWebhookOptions {
  /** Where the app's server receives them (http or https). */
  readonly url: string;
  /**
   * The events this webhook wants; others are never sent to it.
   * @default every type: channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss
   */
  readonly eventTypes?: readonly PusherWebhookEventType[];
  /** Only channels whose name starts and ends so (both when both are set). @default every channel */
  readonly filter?: { readonly channelPrefix?: string; readonly channelSuffix?: string };
  /** Extra request headers; `Content-Type`, `X-Pusher-Key` and `X-Pusher-Signature` cannot be replaced. @default none */
  readonly headers?: Readonly<Record<string, string>>;
  /** How long the first event of a batch waits for others (Pusher's window). @default 250 */
  readonly batchMs?: number;
  /** Events per request at most; a full batch leaves at once (Pusher's size). @default 20 */
  readonly maxBatch?: number;
  /** Events waiting at most (a receiver down or slow); past it the oldest are dropped and counted. @default 10000 */
  readonly maxQueued?: number;
  /** Time limit of one request (Pusher wants an answer within 4 s). @default 5000 */
  readonly timeoutMs?: number;
  /** How long a failing batch is retried, from its first attempt (Pusher: 5 minutes). @default 300000 */
  readonly retryForMs?: number;
  /** Backoff before retry n: a random wait up to min(retryMaxDelayMs, retryBaseMs × 2^(n-1)). @default 500 */
  readonly retryBaseMs?: number;
  /** @default 30000 */
  readonly retryMaxDelayMs?: number;
}

/** The defaults of {@link PusherWebhookOptions}, and of `pusher.webhookRemovalDelayMs`. */
export const pusherWebhookDefaults = {
  batchMs: 250,
  maxBatch: 20,
  maxQueued: 10_000,
  timeoutMs: 5000,
  retryForMs: 300_000,
  retryBaseMs: 500,
  retryMaxDelayMs: 30_000,
  removalDelayMs: 3000,
} as const;

/** Where a broker stands in its cluster: its name and the other brokers alive now. */
export interface WebhookCluster {
  readonly node: string;
  liveNodes(): Iterable<string>;
}

interface AppWebhook {
  readonly types: ReadonlySet<PusherWebhookEventType>;
  readonly prefix: string;
  readonly suffix: string;
  readonly sender: PusherWebhookSender;
}

/** The one "member" of a channel in the occupancy registry: it is there while some broker has a subscriber. */
const OCCUPIED: PresenceMember = { id: 'occupied', info: {} };

/** Checks one app's webhooks (the settings' schema says the same for the config file). */
export function assertPusherWebhooks(webhooks: readonly PusherWebhookOptions[], where: string): void {
  webhooks.forEach((webhook, index) => {
    const at = `${where}.webhooks[${index}]`;
    let url: URL | undefined;
    try {
      url = new URL(webhook.url);
    } catch {
      // refused below
    }
    if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new EventwireError('invalid_config', `${at}.url must be an http(s) URL`);
    for (const type of webhook.eventTypes ?? []) {
      if (!(pusherWebhookEventTypes as readonly string[]).includes(type)) throw new EventwireError('invalid_config', `${at}.eventTypes: "${String(type)}" is not one of ${pusherWebhookEventTypes.join(', ')}`);
    }
    for (const field of ['batchMs', 'maxBatch', 'maxQueued', 'timeoutMs', 'retryForMs', 'retryBaseMs', 'retryMaxDelayMs'] as const) {
      const value = webhook[field];
      if (value !== undefined && !(Number.isFinite(value) && value >= (field === 'maxBatch' || field === 'maxQueued' ? 1 : 0))) {
        throw new EventwireError('invalid_config', `${at}.${field} must be a number ≥ ${field === 'maxBatch' || field === 'maxQueued' ? 1 : 0}`);
      }
    }
  });
}

export class PusherWebhooks {
  /** Channels occupied on this broker, and (in a cluster) on the others. */
  readonly occupancy = new PresenceRegistry(Number.MAX_SAFE_INTEGER);
  readonly #apps: ReadonlyArray<{ readonly app: PusherApp; readonly webhooks: readonly AppWebhook[] }>;
  readonly #removalDelayMs: number;
  /** Removals waiting for their delay, by app, channel and user: a return cancels them. */
  readonly #pending = new Map<string, { readonly timer: NodeJS.Timeout; readonly event: PusherWebhookEvent }>();
  /** This broker in the occupancy registry: the one connection of every channel it occupies. */
  readonly #here: PresenceListener = { id: 'occupancy', memberAdded() {}, memberRemoved() {} };
  #cluster: WebhookCluster | undefined;
  #closed = false;
  #stopping = false;

  constructor(
    apps: readonly PusherApp[],
    options: ReadonlyMap<PusherApp, readonly PusherWebhookOptions[]>,
    state: { readonly router: Router; readonly presence: PresenceRegistry },
    removalDelayMs: number,
    log: (record: BrokerLogRecord) => void,
  ) {
    this.#removalDelayMs = removalDelayMs;
    this.#apps = apps
      .filter((app) => (options.get(app)?.length ?? 0) > 0)
      .map((app) => ({
        app,
        webhooks: options.get(app)!.map((webhook) => ({
          types: new Set(webhook.eventTypes ?? pusherWebhookEventTypes),
          prefix: webhook.filter?.channelPrefix ?? '',
          suffix: webhook.filter?.channelSuffix ?? '',
          sender: new PusherWebhookSender(
            { url: webhook.url, ...(webhook.headers && { headers: webhook.headers }) },
            app,
            {
              batchMs: webhook.batchMs ?? pusherWebhookDefaults.batchMs,
              maxBatch: webhook.maxBatch ?? pusherWebhookDefaults.maxBatch,
              maxQueued: webhook.maxQueued ?? pusherWebhookDefaults.maxQueued,
              timeoutMs: webhook.timeoutMs ?? pusherWebhookDefaults.timeoutMs,
              retryForMs: webhook.retryForMs ?? pusherWebhookDefaults.retryForMs,
              retryBaseMs: webhook.retryBaseMs ?? pusherWebhookDefaults.retryBaseMs,
              retryMaxDelayMs: webhook.retryMaxDelayMs ?? pusherWebhookDefaults.retryMaxDelayMs,
            },
            log,
          ),
        })),
      }));
    // Exact topics only: a wildcard subscription (`orders.*`) occupies no channel, and no Pusher name holds `*` or `#`.
    state.router.watchInterest((topic, interested) => {
      if (!this.#channelOf(topic)) return;
      if (interested) this.occupancy.join(topic, OCCUPIED, this.#here);
      else this.occupancy.leave(topic, this.#here);
    });
    this.occupancy.watchMembers((topic, _member, present) => this.#changed(topic, undefined, present));
    state.presence.watchMembers((topic, member, present) => this.#changed(topic, member.id, present));
  }

  /** In a cluster: occupancy and member webhooks are then sent by each channel's owner among the live brokers. */
  clustered(cluster: WebhookCluster): void {
    this.#cluster = cluster;
  }

  /** A client event was relayed (`data` as the client sent it: a JSON string); `userId` on presence channels. */
  clientEvent(app: PusherApp, channel: string, event: string, data: string, socketId: string, userId: string | undefined): void {
    this.#send(app, { name: 'client_event', channel, event, data, socket_id: socketId, ...(userId !== undefined && { user_id: userId }) });
  }

  /** A subscriber of a cache channel found nothing cached (the cache channels' code calls this). */
  cacheMiss(app: PusherApp, channel: string): void {
    this.#send(app, { name: 'cache_miss', channel });
  }

  stats(): PusherWebhookStats[] {
    return this.#apps.flatMap(({ webhooks }) => webhooks.map((webhook) => webhook.sender.stats()));
  }

  /**
   * The broker is leaving its cluster (its connections are closed): from now
   * on the other brokers own every channel and send what is still pending
   * (they saw the same changes); alone, the pending removals are dropped.
   * What is queued still goes.
   */
  stopping(): void {
    this.#stopping = true;
    for (const { timer } of this.#pending.values()) clearTimeout(timer);
    this.#pending.clear();
  }

  /** After {@link stopping}: queues get one last attempt, then nothing is sent. */
  async close(): Promise<void> {
    this.stopping();
    this.#closed = true;
    await Promise.all(this.#apps.flatMap(({ webhooks }) => webhooks.map((webhook) => webhook.sender.close())));
  }

  /** The app and channel of a topic, when one of the apps with webhooks has it (never a user's `#server-to-user-` channel). */
  #channelOf(topic: string): { app: PusherApp; channel: string } | undefined {
    for (const { app } of this.#apps) {
      const channel = app.channelOf(topic);
      if (channel !== undefined) return channel.startsWith('#') ? undefined : { app, channel };
    }
    return undefined;
  }

  /** A channel's occupancy (`userId` undefined) or one of its members came or went, cluster-wide. */
  #changed(topic: string, userId: string | undefined, present: boolean): void {
    if (this.#stopping) return;
    const found = this.#channelOf(topic);
    if (!found) return;
    const { app, channel } = found;
    const key = `${app.id}\0${channel}\0${userId ?? ''}`;
    const event: PusherWebhookEvent =
      userId === undefined
        ? { name: present ? 'channel_occupied' : 'channel_vacated', channel }
        : { name: present ? 'member_added' : 'member_removed', channel, user_id: userId };
    if (present) {
      const pending = this.#pending.get(key);
      if (pending) {
        // Back within the delay (a reload): the removal never happened for the app.
        clearTimeout(pending.timer);
        this.#pending.delete(key);
        return;
      }
      // A member joins before its connection subscribes (a refusal must leave nothing behind):
      // told after the turn, so the channel's occupied comes first.
      if (userId === undefined) this.#sendOwned(app, event);
      else queueMicrotask(() => this.#sendOwned(app, event));
      return;
    }
    const timer = setTimeout(() => {
      if (userId === undefined) {
        // The channel's members left before it was empty: their removals go first.
        const members = `${app.id}\0${channel}\0`;
        for (const [each, pending] of [...this.#pending]) {
          if (each.startsWith(members) && each !== key) {
            clearTimeout(pending.timer);
            this.#pending.delete(each);
            this.#sendOwned(app, pending.event);
          }
        }
      }
      this.#pending.delete(key);
      // The owner is asked now: a broker gone meanwhile has left the live ones.
      this.#sendOwned(app, event);
    }, this.#removalDelayMs);
    this.#pending.set(key, { timer, event });
  }

  #sendOwned(app: PusherApp, event: PusherWebhookEvent): void {
    if (this.#owns(app, event.channel)) this.#send(app, event);
  }

  /** Whether this broker sends the channel's occupancy and member webhooks (alone: always). */
  #owns(app: PusherApp, channel: string): boolean {
    const cluster = this.#cluster;
    if (!cluster) return true;
    const key = `${app.id}\0${channel}`;
    let best = cluster.node;
    let bestScore = score(cluster.node, key);
    for (const node of cluster.liveNodes()) {
      const each = score(node, key);
      if (each > bestScore || (each === bestScore && node > best)) {
        best = node;
        bestScore = each;
      }
    }
    return best === cluster.node;
  }

  #send(app: PusherApp, event: PusherWebhookEvent): void {
    if (this.#closed) return;
    for (const entry of this.#apps) {
      if (entry.app !== app) continue;
      for (const webhook of entry.webhooks) {
        if (webhook.types.has(event.name) && event.channel.startsWith(webhook.prefix) && event.channel.endsWith(webhook.suffix)) webhook.sender.add(event);
      }
    }
  }
}

/** Rendezvous score of a node for a channel: FNV-1a (32 bits) of both, so every broker computes the same owner. */
function score(node: string, key: string): number {
  let hash = 0x811c9dc5;
  const text = `${node}\0${key}`;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  // Mixed once more: FNV's last characters move only its low bits.
  hash ^= hash >>> 15;
  hash = Math.imul(hash, 0x2c1b3c6d);
  hash ^= hash >>> 12;
  return hash >>> 0;
}
