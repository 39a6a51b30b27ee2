// What every surface does to a session the same way: the guarded subscribe
// (pattern → limit → rules → presence → router), leaving one pattern and
// leaving everything. Written once here so a surface is only a translation,
// and a fix to the order of these steps reaches every protocol.
import { assertPattern, type TopicLimits } from '@eventwire/event-channel';
import type { Access } from '../auth/access.js';
import type { MemberInfo } from '../auth/channels.js';
import type { Connection } from '../connection.js';
import type { PresenceListener, PresenceMember, PresenceRegistry } from '../presence.js';
import type { Router, Subscriber } from '../router.js';

/** A session the router delivers to and the presence registry tells of members. */
export type SessionSubscriber = Subscriber & PresenceListener;

/** What one subscribe settled: the presence channels it joined, with their members now. */
export interface Subscribed {
  /** False when the connection went away while a rule was deciding: nothing was subscribed. */
  readonly subscribed: boolean;
  readonly presence: ReadonlyArray<{ readonly channel: string; readonly members: PresenceMember[] }>;
}

const gone: Subscribed = { subscribed: false, presence: [] };
const noPresence: Subscribed = { subscribed: true, presence: [] };

export class SessionOps {
  readonly #router: Router;
  readonly #presence: PresenceRegistry;
  readonly #access: Access;
  readonly #topicLimits: TopicLimits;
  readonly #maxSubscriptions: number;

  constructor(options: { router: Router; presence: PresenceRegistry; access: Access; topicLimits: TopicLimits; maxSubscriptions: number }) {
    this.#router = options.router;
    this.#presence = options.presence;
    this.#access = options.access;
    this.#topicLimits = options.topicLimits;
    this.#maxSubscriptions = options.maxSubscriptions;
  }

  /**
   * Subscribes `session` to `pattern` as its connection's user: the pattern
   * must be valid, within the connection's subscription limit (re-subscribing
   * a pattern it holds is idempotent and never hits it), and allowed by the
   * permissions and channel rules; on a presence channel the user joins
   * (a refusal there leaves nothing behind) before the router delivers.
   * Synchronous unless a rule is (a refusal throws, or rejects).
   */
  subscribe(session: SessionSubscriber, connection: Connection, pattern: string): Subscribed | Promise<Subscribed> {
    assertPattern(pattern, this.#topicLimits);
    this.#router.newPatterns(session, [pattern], this.#maxSubscriptions);
    const pending = this.#access.authorize(connection.user, [pattern], 'subscribe');
    if (!pending) return this.#complete(session, connection, pattern, undefined);
    return pending.then((granted) => (connection.open ? this.#complete(session, connection, pattern, granted) : gone));
  }

  #complete(session: SessionSubscriber, connection: Connection, pattern: string, granted: ReadonlyMap<string, MemberInfo> | undefined): Subscribed {
    const presence = this.joinPresence(session, connection, [pattern], granted);
    this.#router.subscribe(session, pattern);
    return presence.length === 0 ? noPresence : { subscribed: true, presence };
  }

  /**
   * Joins the presence channels among `patterns`, all or none; anonymous
   * members (where a rule lets them in) are their connection.
   */
  joinPresence(
    session: SessionSubscriber,
    connection: Connection,
    patterns: Iterable<string>,
    granted: ReadonlyMap<string, MemberInfo> | undefined,
  ): Array<{ channel: string; members: PresenceMember[] }> {
    return this.#presence.joinGranted(patterns, connection.user?.id ?? session.id, granted, session);
  }

  /** Leaves one pattern (and its presence channel). */
  unsubscribe(session: SessionSubscriber, pattern: string): void {
    this.#router.unsubscribe(session, pattern);
    this.#presence.leave(pattern, session);
  }

  /** The session is gone: it leaves every pattern and presence channel it held. */
  leaveAll(session: Subscriber): void {
    this.#router.remove(session);
    // A session that cannot hear of members never joined a presence channel: nothing is found for it.
    this.#presence.leaveAll(session as SessionSubscriber);
  }
}
