// The client side of presence channels: who is on `presence-…` right now, as
// the broker's member list says, kept current by its member_added /
// member_removed frames and replaced whole after every resubscribe (a
// reconnect), so members who came or went while this client was away are
// reported as joins and leaves, not lost.
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { EventwireError, ValidationError } from './errors.js';
import { runSchema, type SchemaOutcome } from './events.js';
import type { PresenceWireMember } from './transport/transport.js';

/** What a presence rule returns when it has no member schema: plain JSON. */
export type MemberInfo = Readonly<Record<string, unknown>>;

/** One member of a presence channel: the user's id, and the info its presence rule returned. */
export interface PresenceMember<TInfo = MemberInfo> {
  readonly id: string;
  readonly info: TInfo;
}

/** Options of `channel.presence(name, options)`. */
export interface PresenceOptions<TSchema extends StandardSchemaV1 | undefined = undefined> {
  /**
   * The schema of a member's info (what the channel's presence rule returns).
   * Members are typed by its output and checked on arrival; one failing it is
   * left out of the list and reported as `invalid_payload`.
   */
  readonly member?: TSchema;
}

/** The member info type of {@link PresenceOptions}: the schema's output, or plain JSON. */
export type PresenceInfo<TSchema extends StandardSchemaV1 | undefined> = TSchema extends StandardSchemaV1
  ? StandardSchemaV1.InferOutput<TSchema>
  : MemberInfo;

/** How the channel feeds a {@link PresenceChannel}; not part of the public surface. */
export interface PresenceFeed {
  sync(members: readonly PresenceWireMember[]): void;
  change(change: 'added' | 'removed', member: PresenceWireMember): void;
  /** The channel closed or the subscription was refused: no more updates. */
  end(error: EventwireError): void;
}

interface PresenceHost {
  /** Ends the subscription this presence holds. */
  release(): void;
  report(error: EventwireError): void;
}

type Listener<TInfo> = (member: PresenceMember<TInfo>) => void;

/**
 * A presence channel seen from one client: `members()` now, `onJoin` /
 * `onLeave` as they change, `onSync` with the whole list on joining and
 * after every reconnect. `ready` resolves once the first list arrived.
 * `leave()` (or `using`) unsubscribes; the broker then tells the others, once
 * this user's last connection has left.
 */
export class PresenceChannel<TInfo = MemberInfo> {
  /** The channel's name (`presence-…`). */
  readonly name: string;
  /** Resolves once the first member list arrived; rejects if the subscription is refused or the channel closes first. */
  readonly ready: Promise<void>;
  readonly #schema: StandardSchemaV1 | undefined;
  readonly #host: PresenceHost;
  #members = new Map<string, PresenceMember<TInfo>>();
  #synced = false;
  #active = true;
  #settleReady: { resolve: () => void; reject: (error: EventwireError) => void };
  /** Updates wait here behind an async member schema, so they apply in arrival order. */
  #tail: Promise<void> | undefined;
  readonly #joined = new Set<Listener<TInfo>>();
  readonly #left = new Set<Listener<TInfo>>();
  readonly #synchronised = new Set<(members: readonly PresenceMember<TInfo>[]) => void>();

  /** @param attach receives the feed the channel drives this presence with. */
  constructor(name: string, schema: StandardSchemaV1 | undefined, host: PresenceHost, attach: (feed: PresenceFeed) => void) {
    this.name = name;
    this.#schema = schema;
    this.#host = host;
    let settle!: { resolve: () => void; reject: (error: EventwireError) => void };
    this.ready = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    // Whoever only uses the listeners need not await `ready`; a refusal is reported anyway.
    this.ready.catch(() => {});
    this.#settleReady = settle;
    attach({
      sync: (members) => this.#enqueue(() => this.#checkAll(members), (checked) => this.#sync(checked)),
      change: (change, member) =>
        this.#enqueue(() => this.#checkAll([member]), (checked) => {
          if (checked[0]) this.#change(change, checked[0]);
        }),
      end: (error) => this.#end(error),
    });
  }

  /** Who is here now (this client's own user included), in the order they joined. */
  members(): readonly PresenceMember<TInfo>[] {
    return [...this.#members.values()];
  }

  /** One member by user id. */
  get(id: string): PresenceMember<TInfo> | undefined {
    return this.#members.get(id);
  }

  /** How many members are here now. */
  get count(): number {
    return this.#members.size;
  }

  /** Calls `listener` when a member arrives (someone else, or this user after a reconnect found it gone). */
  onJoin(listener: Listener<TInfo>): () => void {
    this.#joined.add(listener);
    return () => this.#joined.delete(listener);
  }

  /** Calls `listener` when a member's last connection left (unsubscribed, closed, or dropped). */
  onLeave(listener: Listener<TInfo>): () => void {
    this.#left.add(listener);
    return () => this.#left.delete(listener);
  }

  /** Calls `listener` with the whole list on joining and after every resubscribe (Echo's `here`). */
  onSync(listener: (members: readonly PresenceMember<TInfo>[]) => void): () => void {
    this.#synchronised.add(listener);
    return () => this.#synchronised.delete(listener);
  }

  /** Leaves the channel (unsubscribes). Idempotent. */
  leave(): void {
    if (!this.#active) return;
    this.#end(new EventwireError('aborted', `Left "${this.name}" before its member list arrived`));
    this.#host.release();
  }

  [Symbol.dispose](): void {
    this.leave();
  }

  // -------------------------------------------------------------------------

  #enqueue(
    check: () => Array<PresenceMember<TInfo> | undefined> | Promise<Array<PresenceMember<TInfo> | undefined>>,
    apply: (checked: PresenceMember<TInfo>[]) => void,
  ): void {
    if (!this.#active) return;
    const run = (checked: Array<PresenceMember<TInfo> | undefined>): void => {
      if (this.#active) apply(checked.filter((member): member is PresenceMember<TInfo> => member !== undefined));
    };
    const outcome = this.#tail ? undefined : check();
    if (outcome !== undefined && !(outcome instanceof Promise)) return run(outcome);
    const tail = (this.#tail ?? Promise.resolve()).then(() => outcome ?? check()).then(run);
    this.#tail = tail;
    void tail.finally(() => {
      if (this.#tail === tail) this.#tail = undefined;
    });
  }

  /** Each member checked against the schema; one that fails is reported and left out (undefined). */
  #checkAll(members: readonly PresenceWireMember[]): Array<PresenceMember<TInfo> | undefined> | Promise<Array<PresenceMember<TInfo> | undefined>> {
    if (!this.#schema) return members.map((member) => member as PresenceMember<TInfo>);
    const outcomes = members.map((member) => runSchema(this.#schema!, member.info));
    const finish = (settled: SchemaOutcome[]): Array<PresenceMember<TInfo> | undefined> =>
      settled.map((outcome, index) => {
        if (outcome.ok) return { id: members[index]!.id, info: outcome.value as TInfo };
        this.#host.report(new ValidationError(this.name, 'inbound', outcome.issues, `member ${members[index]!.id}`));
        return undefined;
      });
    if (outcomes.some((outcome) => outcome instanceof Promise)) return Promise.all(outcomes).then(finish);
    return finish(outcomes as SchemaOutcome[]);
  }

  #sync(members: PresenceMember<TInfo>[]): void {
    const before = this.#members;
    this.#members = new Map(members.map((member) => [member.id, member]));
    if (!this.#synced) {
      this.#synced = true;
      this.#settleReady.resolve();
    } else {
      // A resubscribe: report what changed while this client was away.
      for (const [id, member] of before) if (!this.#members.has(id)) this.#notify(this.#left, member);
      for (const [id, member] of this.#members) if (!before.has(id)) this.#notify(this.#joined, member);
    }
    const list = this.members();
    for (const listener of [...this.#synchronised]) this.#call(() => listener(list));
  }

  #change(change: 'added' | 'removed', member: PresenceMember<TInfo>): void {
    if (change === 'added') {
      const known = this.#members.has(member.id);
      this.#members.set(member.id, member);
      if (!known) this.#notify(this.#joined, member);
      return;
    }
    const gone = this.#members.get(member.id);
    if (!gone) return;
    this.#members.delete(member.id);
    this.#notify(this.#left, gone);
  }

  #notify(listeners: Set<Listener<TInfo>>, member: PresenceMember<TInfo>): void {
    for (const listener of [...listeners]) this.#call(() => listener(member));
  }

  #call(run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#host.report(new EventwireError('handler_failed', `A presence listener of "${this.name}" failed`, { cause: error }));
    }
  }

  #end(error: EventwireError): void {
    if (!this.#active) return;
    this.#active = false;
    if (!this.#synced) this.#settleReady.reject(error);
    this.#joined.clear();
    this.#left.clear();
    this.#synchronised.clear();
  }
}
