// Presence across the brokers of a cluster. Each broker keeps its own
// members (who is connected to it) and tells the others through the engine:
// a change when a member's presence on it begins or ends, its whole list when it
// joins or comes back (so the others replace what they had of it). It asks
// every other broker for theirs at the same moments, and a broker that goes
// silent (no heartbeat for three intervals: killed, cut off) has its
// members removed, so the channels' member_removed reach everyone. It speaks
// over the engine's ClusterBus, so it works on every engine.
import type { EventwireError } from '@eventwire/event-channel';
import type { ChannelMembers, PresenceMember, PresenceRegistry } from '../presence.js';
import type { ClusterBus, ClusterPart } from './cluster-part.js';

// The subjects of one registry (`presence`, or `occupancy` for the Pusher
// webhooks' occupied channels: the same machinery, a registry of its own):
// a member's presence on one broker began or ended (`change`), a broker's
// whole list, sent when it joins or comes back (`snapshot`), a request every
// broker answers with its whole list (`sync`).
/** Every broker says it is alive, every `heartbeatMs`. */
const NODE_HEARTBEAT = '_EVENTWIRE.cluster.heartbeat';
/** A broker closing on purpose. */
const NODE_BYE = '_EVENTWIRE.cluster.bye';

/** A broker is gone after this many heartbeats missed. */
const MISSED_HEARTBEATS = 3;


export interface ClusterPresenceOptions {
  /** How often this broker says it is alive; another is gone after three missed. @default 2000 */
  readonly heartbeatMs?: number;
  /** How long a sync waits for the other brokers' lists. @default 500 */
  readonly syncTimeoutMs?: number;
  /**
   * Members per message of a broker's whole list: it may be far larger than
   * NATS's max_payload (1 MiB by default), so it travels in parts (~100 bytes
   * a member: ~200 KiB a part; on PostgreSQL each part past NOTIFY's 8,000
   * bytes goes through the large-event table), applied once the last has
   * come. @default 2000
   */
  readonly membersPerPart?: number;
  /** Which registry this is, in its subjects (`_EVENTWIRE.{name}.change`…). @default 'presence' */
  readonly name?: 'presence' | 'occupancy';
}

export const clusterPresenceDefaults = { heartbeatMs: 2000, syncTimeoutMs: 500, membersPerPart: 2000 } as const;

export interface ClusterPresenceHost {
  report(error: EventwireError): void;
  log(message: string): void;
}

export class ClusterPresence implements ClusterPart {
  readonly #registry: PresenceRegistry;
  readonly #node: string;
  readonly #heartbeatMs: number;
  readonly #syncTimeoutMs: number;
  readonly #membersPerPart: number;
  readonly #host: ClusterPresenceHost;
  /** Other brokers, and when each was last heard from. */
  readonly #seen = new Map<string, number>();
  #bus: ClusterBus | undefined;
  #subscriptions: Array<() => void> = [];
  #timer: ReturnType<typeof setInterval> | undefined;
  #open = false;
  #snapshots = 0;
  /** Other brokers' lists whose last part has not come yet. */
  readonly #parts = new Map<string, { snapshot: string; channels: Map<string, PresenceMember[]> }>();
  readonly #changeSubject: string;
  readonly #snapshotSubject: string;
  readonly #syncSubject: string;
  /** What a gone broker's entries are, for the log. */
  readonly #what: string;

  constructor(registry: PresenceRegistry, node: string, options: ClusterPresenceOptions, host: ClusterPresenceHost) {
    this.#registry = registry;
    this.#node = node;
    this.#heartbeatMs = options.heartbeatMs ?? clusterPresenceDefaults.heartbeatMs;
    this.#syncTimeoutMs = options.syncTimeoutMs ?? clusterPresenceDefaults.syncTimeoutMs;
    this.#membersPerPart = Math.max(1, options.membersPerPart ?? clusterPresenceDefaults.membersPerPart);
    this.#host = host;
    const name = options.name ?? 'presence';
    this.#changeSubject = `_EVENTWIRE.${name}.change`;
    this.#snapshotSubject = `_EVENTWIRE.${name}.snapshot`;
    this.#syncSubject = `_EVENTWIRE.${name}.sync`;
    this.#what = name === 'presence' ? 'presence members' : 'occupied channels (Pusher webhooks)';
    registry.watchLocal((channel, member, present) => this.#publish(this.#changeSubject, { node: this.#node, channel, member, present }));
  }

  /** How many other brokers this one hears. */
  get nodes(): number {
    return this.#seen.size;
  }

  /** The other brokers heard within the last three heartbeats (a broker said bye or gone silent is not among them). */
  liveNodes(): IterableIterator<string> {
    return this.#seen.keys();
  }

  opened(bus: ClusterBus, first: boolean): void {
    this.#bus = bus;
    this.#open = true;
    if (first) {
      this.#subscriptions = [
        this.#listen(this.#changeSubject, (message) => {
          const change = asChange(message);
          if (!change) return;
          if (change.present) this.#registry.remoteJoined(change.node, change.channel, change.member);
          else this.#registry.remoteLeft(change.node, change.channel, change.member.id);
        }),
        this.#listen(this.#snapshotSubject, (message) => {
          const part = asSnapshotPart(message);
          if (part) this.#takePart(part);
        }),
        this.#listen(NODE_HEARTBEAT, () => {}),
        this.#listen(NODE_BYE, (message) => {
          const node = nodeOf(message);
          if (node === undefined) return;
          this.#seen.delete(node);
          this.#registry.replaceRemote(node, []);
        }),
        bus.subscribe(this.#syncSubject, (_body, reply) => {
          if (reply) for (const part of this.#snapshotParts()) reply(part);
        }),
      ];
      this.#timer = setInterval(() => this.#tick(), this.#heartbeatMs);
      this.#timer.unref();
    }
    // Joined or back: the others replace what they had of this broker, and this one learns theirs.
    for (const part of this.#snapshotParts()) this.#publish(this.#snapshotSubject, part);
    void this.#sync(bus);
  }

  lost(): void {
    this.#open = false;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#publish(NODE_BYE, { node: this.#node });
    this.#open = false;
    for (const stop of this.#subscriptions) stop();
    this.#subscriptions = [];
  }

  // ---------------------------------------------------------------------------

  /**
   * Every other broker's list; a broker known before that does not answer
   * is gone. The answers are taken in a subscription callback, as the changes
   * are, so each broker's answer and the changes it published after it are
   * taken in the order it sent them (an async iterator, as requestMany's,
   * took an answer after a change that came behind it in the same read, and
   * the older list then undid the change).
   */
  async #sync(bus: ClusterBus): Promise<void> {
    // Only brokers known when it is asked can fail to answer: one that joins meanwhile was never asked
    // (it announced itself with its own list), and one heard from since is alive.
    const started = Date.now();
    const asked = [...this.#seen.keys()];
    const answered = new Set<string>();
    const stop = bus.request(this.#syncSubject, { node: this.#node }, (body) => {
      const part = asSnapshotPart(body);
      if (!part || part.node === this.#node) return;
      answered.add(part.node);
      this.#seen.set(part.node, Date.now());
      this.#takePart(part);
    });
    await new Promise((resolve) => setTimeout(resolve, this.#syncTimeoutMs).unref());
    stop();
    for (const node of asked) {
      const last = this.#seen.get(node);
      if (answered.has(node) || last === undefined || last >= started) continue;
      this.#seen.delete(node);
      this.#registry.replaceRemote(node, []);
    }
  }

  /** This broker's whole list, in parts of at most `membersPerPart` members (a big channel spans several). */
  #snapshotParts(): SnapshotPart[] {
    const id = `${this.#node}:${++this.#snapshots}`;
    const parts: SnapshotPart[] = [];
    let channels: ChannelMembers[] = [];
    let size = 0;
    const flush = (): void => {
      parts.push({ node: this.#node, snapshot: id, channels, last: false });
      channels = [];
      size = 0;
    };
    for (const { channel, members } of this.#registry.localMembers()) {
      for (let from = 0; from < members.length; ) {
        const slice = members.slice(from, from + this.#membersPerPart - size);
        channels.push({ channel, members: slice });
        size += slice.length;
        from += slice.length;
        if (size >= this.#membersPerPart) flush();
      }
    }
    if (channels.length > 0 || parts.length === 0) flush();
    parts[parts.length - 1] = { ...parts[parts.length - 1]!, last: true };
    return parts;
  }

  /** One part of another broker's list; the whole replaces what this broker had of it once the last part is in. */
  #takePart(part: SnapshotPart): void {
    let pending = this.#parts.get(part.node);
    if (!pending || pending.snapshot !== part.snapshot) this.#parts.set(part.node, (pending = { snapshot: part.snapshot, channels: new Map() }));
    for (const { channel, members } of part.channels) pending.channels.set(channel, [...(pending.channels.get(channel) ?? []), ...members]);
    if (!part.last) return;
    this.#parts.delete(part.node);
    this.#registry.replaceRemote(part.node, [...pending.channels].map(([channel, members]) => ({ channel, members })));
  }

  #tick(): void {
    this.#publish(NODE_HEARTBEAT, { node: this.#node });
    const cutoff = Date.now() - this.#heartbeatMs * MISSED_HEARTBEATS;
    for (const [node, last] of [...this.#seen]) {
      if (last >= cutoff) continue;
      this.#seen.delete(node);
      this.#host.log(`cluster: node ${node} silent for ${MISSED_HEARTBEATS} heartbeats; its ${this.#what} are removed`);
      this.#registry.replaceRemote(node, []);
    }
  }

  /** Subscribes to one of the other brokers' subjects; every message also says its sender is alive. */
  #listen(subject: string, handle: (message: unknown) => void): () => void {
    return this.#bus!.subscribe(subject, (body) => {
      const node = nodeOf(body);
      if (node === undefined || node === this.#node) return;
      this.#seen.set(node, Date.now());
      handle(body);
    });
  }

  #publish(subject: string, body: object): void {
    if (!this.#open || !this.#bus) return;
    this.#bus.publish(subject, body);
  }
}

// What comes from the cluster is checked before it touches the registry:
// anyone with access to the server can publish on these subjects.

function nodeOf(value: unknown): string | undefined {
  const node = (value as { node?: unknown } | undefined)?.node;
  return typeof node === 'string' && node.length > 0 ? node : undefined;
}

function asMember(value: unknown): PresenceMember | undefined {
  const member = value as { id?: unknown; info?: unknown } | undefined;
  if (typeof member?.id !== 'string' || typeof member.info !== 'object' || member.info === null) return undefined;
  return { id: member.id, info: member.info as PresenceMember['info'] };
}

function asChange(value: unknown): { node: string; channel: string; member: PresenceMember; present: boolean } | undefined {
  const change = value as { channel?: unknown; member?: unknown; present?: unknown };
  const node = nodeOf(value);
  const member = asMember(change.member);
  if (node === undefined || typeof change.channel !== 'string' || !member || typeof change.present !== 'boolean') return undefined;
  return { node, channel: change.channel, member, present: change.present };
}

/** One part of a broker's list (see `membersPerPart`). */
interface SnapshotPart {
  readonly node: string;
  /** Which list this part belongs to: a newer one replaces an unfinished older one. */
  readonly snapshot: string;
  readonly channels: readonly ChannelMembers[];
  readonly last: boolean;
}

function asSnapshotPart(value: unknown): SnapshotPart | undefined {
  const node = nodeOf(value);
  const { channels, snapshot, last } = (value ?? {}) as { channels?: unknown; snapshot?: unknown; last?: unknown };
  if (node === undefined || !Array.isArray(channels) || typeof snapshot !== 'string' || typeof last !== 'boolean') return undefined;
  const valid: ChannelMembers[] = [];
  for (const entry of channels as Array<{ channel?: unknown; members?: unknown }>) {
    if (typeof entry?.channel !== 'string' || !Array.isArray(entry.members)) continue;
    const members = entry.members.map(asMember).filter((member): member is PresenceMember => member !== undefined);
    valid.push({ channel: entry.channel, members });
  }
  return { node, snapshot, channels: valid, last };
}
