// Who is on each presence channel: members by user, each with the info its
// presence rule returned. A user on several connections is one member, there
// until the last of them leaves (unsubscribes, closes, or is dropped).
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

export class PresenceRegistry {
  readonly #maxMembers: number;
  /** channel → member id → the member and its connections. */
  readonly #channels = new Map<string, Map<string, Entry>>();
  /** connection → the channels it is a member of, to leave them all when it closes. */
  readonly #joined = new Map<PresenceListener, Map<string, string>>();

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
    if (!existing && (members?.size ?? 0) >= this.#maxMembers) {
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
      for (const other of this.#listeners(members)) other.memberAdded(channel, member);
      members.set(member.id, { member, connections: new Set([listener]) });
    }
    return [...members.values()].map((entry) => entry.member);
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
    for (const other of this.#listeners(members)) other.memberRemoved(channel, entry.member);
  }

  /** The connection is gone: it leaves every presence channel it was on. */
  leaveAll(listener: PresenceListener): void {
    for (const channel of [...(this.#joined.get(listener)?.keys() ?? [])]) this.leave(channel, listener);
  }

  /** The members of `channel` now. */
  members(channel: string): PresenceMember[] {
    return [...(this.#channels.get(channel)?.values() ?? [])].map((entry) => entry.member);
  }

  #listeners(members: Map<string, Entry>): Set<PresenceListener> {
    const all = new Set<PresenceListener>();
    for (const entry of members.values()) for (const connection of entry.connections) all.add(connection);
    return all;
  }
}
