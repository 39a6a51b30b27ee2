import {
  EventwireError,
  assertPattern,
  toEventwireError,
  type EventEnvelope,
  type GapReason,
} from '@eventwire/event-channel';
import {
  FrameError,
  PROTOCOL_VERSION,
  closeCodes,
  encodeFrame,
  formatOffset,
  parseClientFrame,
  type ClientFrame,
  type FrameId,
  type ServerFrame,
} from '@eventwire/event-channel/protocol';
import type { Access, ConnectionLimits } from '../../auth/access.js';
import type { BrokerUser } from '../../auth/authenticate.js';
import type { AccessAction } from '../../auth/permissions.js';
import type { MemberInfo } from '../../auth/channels.js';
import type { PresenceMember } from '../../presence.js';
import type { Connection } from '../../connection.js';
import { PreparedTextFrame } from '../../prepared-frame.js';
import type { BrokerCore, PublishResult } from '../../core.js';
import type { PublishOrigin } from '../../hooks.js';
import { planResume, readHistoryPage } from '../../history/replay.js';
import type { RoutedEvent } from '../../router.js';
import { FrameQueue } from '../frame-queue.js';
import type { SessionOps, Subscribed } from '../session-ops.js';
import type { Session } from '../surface.js';
import type { SurfaceLimits } from '../surface-host.js';

/** Limits a native session enforces: every surface's, and the bound on one replay. */
export interface NativeSessionLimits extends SurfaceLimits {
  /**
   * Most bytes one resume writes at once (the connection's outbound bound):
   * a replay bigger than what the client may hold unread would get it cut as
   * a slow consumer, reconnect, and resume into the same wall.
   */
  readonly maxReplayBytes: number;
  /** Who may do what; asked for every guarded name, permission and rate. */
  readonly access: Access;
}

/** What one connection has of its own: present only when the broker authenticates or limits rates. */
export interface NativeSessionAccess {
  /** This connection's rate limits, when any apply. */
  readonly rateLimits: ConnectionLimits | undefined;
  /**
   * Verifies credentials from this connection (its hello, or an `auth`
   * frame), when the broker authenticates.
   */
  readonly authenticate?: (token: string | undefined) => Promise<BrokerUser | undefined>;
  /** The credentials must come with the hello: none were given at the upgrade. */
  readonly authenticateHello: boolean;
}

const encodeEventFrame = (envelope: EventEnvelope): PreparedTextFrame =>
  new PreparedTextFrame(encodeFrame({ type: 'event', event: envelope }));

/**
 * One client speaking the native protocol. Frames are handled strictly in
 * arrival order (an async hook on one publish holds back this client's later
 * frames, never anyone else's), so acks, errors and pongs come back in the
 * order their requests went out, and a ping is a barrier.
 * Bad input gets an error frame; the connection stays up.
 */
export class NativeSession implements Session {
  readonly id: string;
  readonly #connection: Connection;
  readonly #core: BrokerCore;
  readonly #ops: SessionOps;
  readonly #limits: NativeSessionLimits;
  #origin: PublishOrigin | undefined;
  readonly #own: NativeSessionAccess | undefined;
  #greeted = false;
  readonly #frames = new FrameQueue<string>(
    (text) => this.#handle(text),
    () => this.#send({ type: 'error', code: 'rate_limited', message: 'Too many frames waiting; this one was dropped' }),
  );
  // Dropped once cleared: a Timeout object per idle connection adds up.
  #helloTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(connection: Connection, core: BrokerCore, ops: SessionOps, limits: NativeSessionLimits, own?: NativeSessionAccess) {
    this.id = connection.id;
    this.#connection = connection;
    this.#core = core;
    this.#ops = ops;
    this.#limits = limits;
    this.#own = own;
    this.#helloTimer = setTimeout(() => {
      this.#sendError(undefined, new EventwireError('timeout', `No hello within ${limits.helloTimeoutMs} ms`));
      this.#connection.close(closeCodes.protocolError, 'no hello', 1000);
    }, limits.helloTimeoutMs);
    this.#helloTimer.unref();
  }

  deliver(event: RoutedEvent): void {
    this.#connection.sendPrepared(event.encoded(encodeEventFrame));
  }

  /** A live gap (the cluster engine lost its subscription): no `since`, the client knows where it was. */
  gap(pattern: string, reason: GapReason): void {
    this.#send({ type: 'gap', pattern, reason });
  }

  /** Feeds one WebSocket message. */
  receive(data: Buffer, isBinary: boolean): void {
    const size = data.length;
    if (isBinary) {
      this.#send({ type: 'error', code: 'invalid_frame', message: 'Binary frames are not part of the protocol; send JSON text' });
      return;
    }
    if (size > this.#limits.maxPayloadBytes) {
      this.#send({
        type: 'error',
        code: 'payload_too_large',
        message: `Frame of ${size} bytes exceeds the limit of ${this.#limits.maxPayloadBytes}`,
      });
      return;
    }
    this.#frames.push(data.toString('utf8'));
  }

  /** The connection is gone: drop every subscription. */
  closed(): void {
    clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
    this.#ops.leaveAll(this);
    this.#frames.clear();
  }

  memberAdded(channel: string, member: PresenceMember): void {
    this.#send({ type: 'member_added', channel, member });
  }

  memberRemoved(channel: string, member: PresenceMember): void {
    this.#send({ type: 'member_removed', channel, member });
  }


  /** Handles one frame; returns a promise only if it had to wait (async hooks). */
  #handle(text: string): Promise<void> | undefined {
    let frame: ClientFrame;
    try {
      frame = parseClientFrame(text, this.#limits.topicLimits);
    } catch (error) {
      this.#sendError(error instanceof FrameError ? error.frameId : undefined, error);
      return undefined;
    }
    if (!this.#greeted && frame.type !== 'hello') {
      this.#sendError(frameIdOf(frame), new EventwireError('invalid_frame', 'Send a hello frame first'));
      return undefined;
    }
    switch (frame.type) {
      case 'hello':
        return this.#hello(frame.protocol, frame.token);
      case 'auth':
        return this.#reauthenticate(frame.id, frame.token);
      case 'subscribe':
        return this.#subscribe(frame.id, frame.pattern);
      case 'unsubscribe':
        this.#ops.unsubscribe(this, frame.pattern);
        this.#send({ type: 'ack', id: frame.id });
        return undefined;
      case 'resume':
        return this.#guarded(frame.id, frame.patterns, 'subscribe', (granted) => this.#resumeSubscriptions(frame.id, frame.patterns, frame.since, granted));
      case 'history':
        return this.#guarded(frame.id, [frame.pattern], 'subscribe', () => this.#history(frame));
      case 'publish':
        return this.#guarded(frame.id, [frame.event.topic], 'publish', () => this.#publish(frame.id, frame.event, frame.toOthers === true ? this.id : frame.except), frame.event.id);
      case 'ping': {
        const offset = this.#historyOffset();
        this.#send({ type: 'pong', ...(frame.id !== undefined && { id: frame.id }), ...(offset !== undefined && { offset }) });
        return undefined;
      }
    }
  }

  /**
   * Runs `then` once this connection is within its rate for `action` and its
   * user may `action` every name in `names` (permissions, then the rules of
   * private and presence names; public names with no permissions to check
   * cost no tick). A refusal (`rate_limited`, `forbidden`) is answered and
   * nothing else happens.
   */
  #guarded(
    id: FrameId | undefined,
    names: readonly string[],
    action: AccessAction,
    then: (granted?: ReadonlyMap<string, MemberInfo>) => Promise<void> | undefined,
    eventId?: string,
  ): Promise<void> | undefined {
    let pending: Promise<ReadonlyMap<string, MemberInfo>> | undefined;
    try {
      this.#own?.rateLimits?.take(action);
      pending = this.#limits.access.authorize(this.#connection.user, names, action);
    } catch (error) {
      this.#sendError(id, error, eventId);
      return undefined;
    }
    if (!pending) return then();
    return pending.then(
      (granted) => then(granted),
      (error: unknown) => this.#sendError(id, error, eventId),
    );
  }

  /**
   * Fresh credentials on a live connection: the new user must be the same
   * (subscriptions were allowed for it), and its expiry replaces the old one.
   * A refusal leaves the old credentials in force until they expire.
   */
  #reauthenticate(id: FrameId, token: string): Promise<void> | undefined {
    const authenticate = this.#own?.authenticate;
    if (!authenticate) {
      this.#send({ type: 'ack', id });
      return undefined;
    }
    const current = this.#connection.user;
    return authenticate(token)
      .then((user) => {
        if (user?.id !== current?.id) {
          throw this.#limits.access.refuse(
            new EventwireError('forbidden', `These credentials are for ${user ? `"${user.id}"` : 'nobody'}, this connection's for "${current?.id ?? 'anonymous'}"; reconnect to change users`),
          );
        }
        this.#connection.authenticated(user);
        this.#send({ type: 'ack', id, ...expiryOf(user) });
      })
      .catch((error: unknown) => this.#sendError(id, error));
  }

  #hello(protocol: number, token: string | undefined): Promise<void> | undefined {
    if (this.#greeted) {
      this.#sendError(undefined, new EventwireError('invalid_frame', 'hello was already received'));
      return undefined;
    }
    const authenticate = this.#own?.authenticateHello ? this.#own.authenticate : undefined;
    if (authenticate) {
      // Frames that follow wait (the session is busy) until this is decided.
      return authenticate(token).then(
        (user) => {
          this.#connection.authenticated(user);
          this.#welcome(protocol);
        },
        (error: unknown) => {
          this.#sendError(undefined, error);
          this.#connection.close(closeCodes.unauthorized, 'unauthorized', 1000);
        },
      );
    }
    return this.#welcome(protocol);
  }

  #welcome(protocol: number): undefined {
    if (protocol !== PROTOCOL_VERSION) {
      this.#sendError(
        undefined,
        new EventwireError('unsupported_protocol', `Protocol ${protocol} is not supported; this broker speaks ${PROTOCOL_VERSION}`),
      );
      this.#connection.close(closeCodes.unsupportedProtocol, 'unsupported protocol', 1000);
      return undefined;
    }
    this.#greeted = true;
    clearTimeout(this.#helloTimer);
    this.#helloTimer = undefined;
    const store = this.#core.history?.store;
    const user = this.#connection.user;
    this.#send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      connectionId: this.id,
      heartbeatMs: this.#limits.heartbeatMs,
      maxPayloadBytes: this.#limits.maxPayloadBytes,
      // Where history stands now: a client that reconnects later resumes from here at the latest.
      ...(store && { history: { epoch: store.epoch, offset: formatOffset(store.epoch, store.head) } }),
      ...(user && { user: { id: user.id, ...expiryOf(user) } }),
    });
    return undefined;
  }

  /**
   * Subscribes every pattern and replays what they missed after `since`, in
   * one synchronous step: events routed before this frame are in the replay,
   * events routed after it arrive live, none twice.
   */
  #resumeSubscriptions(id: FrameId, patterns: readonly string[], since: string, granted?: ReadonlyMap<string, MemberInfo>): undefined {
    try {
      for (const pattern of patterns) assertPattern(pattern, this.#limits.topicLimits);
      const router = this.#core.router;
      const fresh = router.newPatterns(this, patterns, this.#limits.maxSubscriptions);
      const plan = planResume(this.#core.history, patterns, since, this.#limits.maxReplayEvents);
      const presence = this.#ops.joinPresence(this, this.#connection, fresh, granted);
      const counters = this.#core.counters;
      counters.recoveries++;
      for (const pattern of fresh) router.subscribe(this, pattern);
      this.#send({ type: 'ack', id });
      for (const { channel, members } of presence) this.#send({ type: 'presence', channel, members });
      let bytes = 0;
      let cut = false;
      for (const event of plan.events) {
        const frame = encodeFrame({ type: 'event', event });
        bytes += frame.length;
        if (bytes > this.#limits.maxReplayBytes) {
          cut = true;
          break;
        }
        this.#connection.send(frame);
        counters.replayed++;
      }
      for (const gap of plan.gaps) this.#send({ type: 'gap', pattern: gap.pattern, reason: gap.reason, since });
      counters.gaps += plan.gaps.length;
      if (cut) {
        // What did not fit is not replayed: every pattern with history may miss some of it.
        const told = new Set(plan.gaps.filter((gap) => gap.reason === 'replay_limit' || gap.reason === 'no_history').map((gap) => gap.pattern));
        for (const pattern of patterns) {
          if (told.has(pattern)) continue;
          this.#send({ type: 'gap', pattern, reason: 'replay_limit', since });
          counters.gaps++;
        }
      }
    } catch (error) {
      this.#sendError(id, error);
    }
    return undefined;
  }

  #history(frame: Extract<ClientFrame, { type: 'history' }>): undefined {
    try {
      assertPattern(frame.pattern, this.#limits.topicLimits);
      const page = readHistoryPage(this.#core.history, frame.pattern, frame, this.#core.lastEvents);
      this.#send({ type: 'history', id: frame.id, ...page });
    } catch (error) {
      this.#sendError(frame.id, error);
    }
    return undefined;
  }

  /** The guarded subscribe every surface shares (session-ops.ts), within this connection's rate. */
  #subscribe(id: FrameId, pattern: string): Promise<void> | undefined {
    let outcome: Subscribed | Promise<Subscribed>;
    try {
      this.#own?.rateLimits?.take('subscribe');
      outcome = this.#ops.subscribe(this, this.#connection, pattern);
    } catch (error) {
      this.#sendError(id, error);
      return undefined;
    }
    if (!(outcome instanceof Promise)) return this.#subscribed(id, outcome);
    return outcome.then(
      (settled) => this.#subscribed(id, settled),
      (error: unknown) => this.#sendError(id, error),
    );
  }

  #subscribed(id: FrameId, outcome: Subscribed): undefined {
    if (!outcome.subscribed) return undefined;
    const offset = this.#historyOffset();
    this.#send(offset === undefined ? { type: 'ack', id } : { type: 'ack', id, offset });
    for (const { channel, members } of outcome.presence) this.#send({ type: 'presence', channel, members });
    return undefined;
  }

  /** The history head now, for acks and pongs: everything routed before them was sent before them. */
  #historyOffset(): string | undefined {
    const store = this.#core.history?.store;
    return store && formatOffset(store.epoch, store.head);
  }

  #publish(id: FrameId | undefined, event: EventEnvelope, except: string | undefined): Promise<void> | undefined {
    try {
      // The topic was checked once, by this broker's limits, in parseClientFrame.
      const result = this.#core.publish(event, this.#originOf(except));
      if (result instanceof Promise) {
        const answered = result.then(
          (settled) => this.#published(id, settled),
          (error: unknown) => this.#sendError(id, error, event.id),
        );
        // Already in order (stored by the cluster in the order sent): the next frames need not wait for it.
        return this.#core.isPipelined(result) ? undefined : answered;
      }
      this.#published(id, result);
    } catch (error) {
      this.#sendError(id, error, event.id);
    }
    return undefined;
  }

  /**
   * Who published, as hooks and observers see it. Without `except` it is the
   * same for every publish until the user changes (a re-authentication), so
   * it is built once then, not once per event.
   */
  #originOf(except: string | undefined): PublishOrigin {
    const user = this.#connection.user;
    if (except !== undefined) return { surface: 'native', connectionId: this.id, user, except };
    const origin = this.#origin;
    if (origin !== undefined && origin.user === user) return origin;
    return (this.#origin = { surface: 'native', connectionId: this.id, user });
  }

  #published(id: FrameId | undefined, result: PublishResult): void {
    if (id !== undefined) this.#send({ type: 'ack', id, eventId: result.event.id });
  }

  #sendError(id: FrameId | undefined, error: unknown, eventId?: string): void {
    const failure = toEventwireError(error);
    this.#send({
      type: 'error',
      ...failure.toJSON(),
      ...(id !== undefined && { id }),
      ...(eventId !== undefined && { eventId }),
    });
  }

  #send(frame: ServerFrame): void {
    this.#connection.send(encodeFrame(frame));
  }
}

/** When `user`'s credentials expire, in the broker's clock and from now (what clients schedule by). */
function expiryOf(user: BrokerUser | undefined): { expiresAt?: number; expiresInMs?: number } {
  if (user?.expiresAt === undefined) return {};
  return { expiresAt: user.expiresAt, expiresInMs: Math.max(0, user.expiresAt - Date.now()) };
}

function frameIdOf(frame: ClientFrame): FrameId | undefined {
  return 'id' in frame ? frame.id : undefined;
}
