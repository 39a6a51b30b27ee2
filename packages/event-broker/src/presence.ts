// Who is on each presence channel: members by user, each with the info its
// presence rule returned. A user on several connections is one member, there
// until the last of them leaves (unsubscribes, closes, or is dropped). In a
// cluster the other brokers' members count too: a user on two brokers is one
// member, added when the first broker has it and removed after the last.
import { EventwireError } from '@eventwire/event-channel';
import { channelKind, type MemberInfo } from './auth/channels.js';

/** One member as the others see it. */
export interface PresenceMember {
  readonly id: string;
  readonly info: MemberInfo;
}

/** A connection on a presence channel: told when members come and go. */
export interface PresenceListener {
  readonly id: string;
  memberAdded(channel: string, member: PresenceMember): void;
  memberRemoved(channel: string, member: PresenceMember): void;
}

interface Entry {
  readonly member: PresenceMember;
  readonly connections: Set<PresenceListener>;
}

/** A member other brokers have, and which of them. */
interface RemoteEntry {
  member: PresenceMember;
  readonly nodes: Set<string>;
}

/** One channel's members on one broker (what brokers exchange). */
export interface ChannelMembers {
  readonly channel: string;
  readonly members: readonly PresenceMember[];
}

/** A member's presence on this broker began (`present`) or ended. */
export type LocalPresenceChange = (channel: string, member: PresenceMember, present: boolean) => void;

/** A member joined a channel (`present`: on no broker before) or left it (on no broker now). */
export type MemberChange = (channel: string, member: PresenceMember, present: boolean) => void;

export class PresenceRegistry {
  readonly #maxMembers: number;
  /** channel → member id → the member and its connections. */
  readonly #channels = new Map<string, Map<string, Entry>>();
  /** connection → the channels it is a member of, to leave them all when it closes. */
  readonly #joined = new Map<PresenceListener, Map<string, string>>();
  /** channel → member id → a member the other brokers of the cluster have. */
  readonly #remote = new Map<string, Map<string, RemoteEntry>>();
  #onLocalChange: LocalPresenceChange | undefined;
  readonly #onMemberChange: MemberChange[] = [];

  constructor(maxMembers: number) {
    this.#maxMembers = maxMembers;
  }

  /**
   * `listener` joins `channel` as `member`; the others are told when this is
   * the member's first connection there. Returns the members now (itself
   * included). Throws `limit_exceeded` when a new member would pass the limit.
   */
  join(channel: string, member: PresenceMember, listener: PresenceListener): PresenceMember[] {
    let members = this.#channels.get(channel);
    const existing = members?.get(member.id);
    const elsewhere = this.#remote.get(channel);
    if (!existing && !elsewhere?.has(member.id) && this.#count(channel) >= this.#maxMembers) {
      throw new EventwireError('limit_exceeded', `"${channel}" has its maximum of ${this.#maxMembers} members`);
    }
    if (!members) this.#channels.set(channel, (members = new Map()));
    const joined = this.#joined.get(listener) ?? new Map<string, string>();
    this.#joined.set(listener, joined);
    const previous = joined.get(channel);
    if (previous !== undefined && previous !== member.id) this.leave(channel, listener);
    joined.set(channel, member.id);
    if (existing) existing.connections.add(listener);
    else {
      // Already on another broker: not new to anyone.
      const isNew = !elsewhere?.has(member.id);
      if (isNew) for (const other of this.#listeners(members)) other.memberAdded(channel, member);
      members.set(member.id, { member, connections: new Set([listener]) });
      this.#onLocalChange?.(channel, member, true);
      if (isNew) this.#memberChanged(channel, member, true);
    }
    return this.members(channel);
  }

  /**
   * Joins the presence channels among `names` (each allowed by its rule,
   * which may have returned the member's info in `granted`) as `memberId`,
   * all or none: a refusal (the member limit) leaves nothing behind. Call it
   * before subscribing. Returns each joined channel's members, to send.
   */
  joinGranted(
    names: Iterable<string>,
    memberId: string,
    granted: ReadonlyMap<string, MemberInfo> | undefined,
    listener: PresenceListener,
  ): Array<{ channel: string; members: PresenceMember[] }> {
    const joined: Array<{ channel: string; members: PresenceMember[] }> = [];
    try {
      for (const channel of names) {
        if (channelKind(channel) !== 'presence') continue;
        joined.push({ channel, members: this.join(channel, { id: memberId, info: granted?.get(channel) ?? {} }, listener) });
      }
    } catch (error) {
      for (const { channel } of joined) this.leave(channel, listener);
      throw error;
    }
    return joined;
  }

  /** `listener` leaves `channel`; the others are told when that was its member's last connection. */
  leave(channel: string, listener: PresenceListener): void {
    const joined = this.#joined.get(listener);
    const memberId = joined?.get(channel);
    if (memberId === undefined) return;
    joined!.delete(channel);
    if (joined!.size === 0) this.#joined.delete(listener);
    const members = this.#channels.get(channel)!;
    const entry = members.get(memberId)!;
    entry.connections.delete(listener);
    if (entry.connections.size > 0) return;
    members.delete(memberId);
    if (members.size === 0) this.#channels.delete(channel);
    this.#onLocalChange?.(channel, entry.member, false);
    // Still on another broker: still a member.
    if (this.#remote.get(channel)?.has(memberId)) return;
    for (const other of this.#listeners(members)) other.memberRemoved(channel, entry.member);
    this.#memberChanged(channel, entry.member, false);
  }

  /** The connection is gone: it leaves every presence channel it was on. */
  leaveAll(listener: PresenceListener): void {
    for (const channel of [...(this.#joined.get(listener)?.keys() ?? [])]) this.leave(channel, listener);
  }

  /** The members of `channel` now (in a cluster: on every broker). */
  members(channel: string): PresenceMember[] {
    const local = this.#channels.get(channel);
    const found = [...(local?.values() ?? [])].map((entry) => entry.member);
    for (const [id, entry] of this.#remote.get(channel) ?? []) if (!local?.has(id)) found.push(entry.member);
    return found;
  }

  /** Every presence channel with at least one member (in a cluster: on any broker). */
  channels(): string[] {
    return [...new Set([...this.#channels.keys(), ...this.#remote.keys()])];
  }

  // ---------------------------------------------------------------------------
  // The cluster: what this broker's members are, and what the others' are.

  /** Told each time a member's presence on this broker begins or ends (the cluster link publishes it). */
  watchLocal(listener: LocalPresenceChange): void {
    this.#onLocalChange = listener;
  }

  /**
   * Told each time a member joins a channel where no broker had it, or leaves
   * one where no broker has it any more: once per user, whatever its
   * connections and brokers (Pusher's member webhooks). Every broker of a
   * cluster is told of every such change.
   */
  watchMembers(listener: MemberChange): void {
    this.#onMemberChange.push(listener);
  }

  /** Every channel's members on this broker (for another broker's snapshot). */
  localMembers(): ChannelMembers[] {
    return [...this.#channels].map(([channel, members]) => ({ channel, members: [...members.values()].map((entry) => entry.member) }));
  }

  /** Another broker has `member` on `channel` now. */
  remoteJoined(node: string, channel: string, member: PresenceMember): void {
    let remote = this.#remote.get(channel);
    if (!remote) this.#remote.set(channel, (remote = new Map()));
    const entry = remote.get(member.id);
    if (entry) {
      entry.nodes.add(node);
      return;
    }
    remote.set(member.id, { member, nodes: new Set([node]) });
    const local = this.#channels.get(channel);
    if (local?.has(member.id)) return;
    if (local) for (const listener of this.#listeners(local)) listener.memberAdded(channel, member);
    this.#memberChanged(channel, member, true);
  }

  /** Another broker no longer has member `memberId` on `channel`. */
  remoteLeft(node: string, channel: string, memberId: string): void {
    const remote = this.#remote.get(channel);
    const entry = remote?.get(memberId);
    if (!entry || !entry.nodes.delete(node) || entry.nodes.size > 0) return;
    remote!.delete(memberId);
    if (remote!.size === 0) this.#remote.delete(channel);
    const local = this.#channels.get(channel);
    if (local?.has(memberId)) return;
    if (local) for (const listener of this.#listeners(local)) listener.memberRemoved(channel, entry.member);
    this.#memberChanged(channel, entry.member, false);
  }

  /**
   * What broker `node` has, in full (its snapshot): members it no longer has
   * leave, new ones join. `[]` when the broker is gone.
   */
  replaceRemote(node: string, snapshot: readonly ChannelMembers[]): void {
    const now = new Map(snapshot.map(({ channel, members }) => [channel, new Set(members.map((member) => member.id))]));
    for (const [channel, remote] of [...this.#remote]) {
      for (const [id, entry] of [...remote]) if (entry.nodes.has(node) && !now.get(channel)?.has(id)) this.remoteLeft(node, channel, id);
    }
    for (const { channel, members } of snapshot) for (const member of members) this.remoteJoined(node, channel, member);
  }

  /** Local and remote members of `channel`, each once. */
  #count(channel: string): number {
    const local = this.#channels.get(channel);
    let count = local?.size ?? 0;
    for (const id of this.#remote.get(channel)?.keys() ?? []) if (!local?.has(id)) count++;
    return count;
  }

  #memberChanged(channel: string, member: PresenceMember, present: boolean): void {
    for (const listener of this.#onMemberChange) listener(channel, member, present);
  }

  #listeners(members: Map<string, Entry>): Set<PresenceListener> {
    const all = new Set<PresenceListener>();
    for (const entry of members.values()) for (const connection of entry.connections) all.add(connection);
    return all;
  }
}
