// One client's socket in one namespace (Socket.IO's `Socket`): the router's
// subscriber for that namespace's topics — its `$nsp` and `$sid.<id>`
// topics and one per room it joins (rooms.ts) — and the handlers `setup`
// gave it. Joining goes through the broker's guarded subscribe (limits,
// permissions, channel rules, presence); what is delivered is encoded once
// per namespace (SocketIoNamespace.encode) and written as it is.
import { EventwireError, toEventwireError } from '@eventwire/event-channel';
import type { BrokerUser } from '../../auth/authenticate.js';
import type { Connection } from '../../connection.js';
import type { RoutedEvent } from '../../router.js';
import type { SessionSubscriber } from '../session-ops.js';
import type { SurfaceHost } from '../surface-host.js';
import { SmallMap } from '../../small-map.js';
import { roomList } from './broadcast.js';
import { PacketType, type SocketIoPacket } from './packet.js';
import { namespaceTopic, socketTopic } from './rooms.js';
import { ackTimeout, plainAck, timedAck, type PendingAck } from './acks.js';
import type { Ack, AckWithError, AnyListener, BroadcastOperator, Handshake, Socket, SocketMiddleware, TimedEmitter } from './server-api.js';
import { jsonData, type SavedRoom, type SessionRecord, type SocketIoSessionStore } from './session-store.js';
import type { NamespaceSocket, SocketIoNamespace } from './socketio-namespace.js';

/** What a socket needs of the connection it lives on (socketio-session.ts). */
export interface SocketLink {
  readonly connection: Connection;
  readonly host: SurfaceHost;
  /** Sends one packet (binary arguments become attachments). */
  send(packet: SocketIoPacket): void;
  /** The socket left its namespace: the connection forgets it. */
  left(socket: SocketIoSocket): void;
  /** `disconnect(true)`: every socket of the connection leaves its namespace (each told with `41`), then the connection closes. */
  disconnectAll(): void;
  /** Where recovery sessions are kept, when `socketio.recovery` is on. */
  readonly sessions: SocketIoSessionStore | undefined;
}

/**
 * How many recent multi-room broadcast ids a socket remembers. The copies of
 * one emit are published back to back, so they arrive close together; a
 * handful covers copies interleaved with other emits' copies.
 */
const RECENT_BROADCASTS = 16;

/** The parsed `metadata.except` of a routed event (computed once per event, shared by every socket). */
function exceptOf(envelope: RoutedEvent['envelope']): readonly string[] | undefined {
  const text = envelope.metadata?.['except'];
  if (text === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((room): room is string => typeof room === 'string') : undefined;
  } catch {
    return undefined;
  }
}

/** Why a socket may be gone that leaves its session recoverable (Socket.IO's RECOVERABLE_DISCONNECT_REASONS, as this surface names them). */
const RECOVERABLE: ReadonlySet<string> = new Set(['transport close', 'transport error', 'ping timeout', 'forced close', 'server shutting down']);
/** The empty list every socket shares until it sets its own. */
const NONE: readonly never[] = Object.freeze([]);

type Listener = (...args: never[]) => void;

export class SocketIoSocket implements NamespaceSocket, SessionSubscriber {
  readonly id: string;
  readonly nsp: SocketIoNamespace;
  readonly handshake: Handshake;
  readonly data: Record<string, unknown> = {};
  recovered = false;
  /** The recovery session's id (`socketio.recovery` on), sent in the CONNECT answer. */
  readonly pid: string | undefined;
  readonly #link: SocketLink;
  /** Room → its topic: the rooms joined (its own id among them, on its `$sid` topic). */
  readonly #rooms = new SmallMap<string, string>();
  /**
   * Room → the history head when it was joined (recovery: nothing older is
   * replayed for it). Only kept with recovery on, created on the first join:
   * without it nothing reads it, and an idle socket should not pay for it.
   */
  #joinedAt: Map<string, number> | undefined;
  /** The history head when the socket connected. */
  #since = 0;
  /** The session's generation (see SessionRecord.generation): 0 until this socket is a recovery. */
  #generation = 0;
  /** While a recovery replays: what the router delivers meanwhile, sent after the replay. */
  #held: RoutedEvent[] | undefined;
  /** Rejoining a recovered session's rooms: not saved until whole. */
  #restoring = false;
  readonly #encode: SocketIoNamespace['encode'];
  readonly #listeners = new SmallMap<string, Listener[]>();
  // Shared empty lists until the application sets one (copied on write): most sockets never do.
  #anyListeners: readonly AnyListener[] = NONE;
  #middleware: readonly SocketMiddleware[] = NONE;
  /** Acks the client owes for the server's emits, by id (created on the first: most sockets never ask). */
  #acks: Map<number, PendingAck> | undefined;
  #nextAck = 0;
  /** The ids of recent multi-room broadcasts delivered (created on the first). */
  #recent: string[] | undefined;
  #connected = false;

  constructor(id: string, nsp: SocketIoNamespace, handshake: Handshake, link: SocketLink, pid?: string) {
    this.id = id;
    this.nsp = nsp;
    this.handshake = handshake;
    this.#link = link;
    this.pid = pid;
    this.#encode = pid === undefined ? nsp.encode : nsp.encodeWithOffset;
  }

  get user(): BrokerUser | undefined {
    return this.#link.connection.user;
  }

  get rooms(): ReadonlySet<string> {
    return new Set(this.#rooms.keys());
  }

  get connected(): boolean {
    return this.#connected;
  }

  /**
   * Connected: on the namespace's topic (namespace-wide emits) and its own
   * (`to(socket.id)`). These are the surface's own topics, not the client's
   * choice, so no permission or rule is asked.
   */
  start(hold = false): void {
    if (hold) this.#held = [];
    this.#since = this.#head();
    const { router } = this.#link.host.core;
    const limits = this.#link.host.limits.topicLimits;
    router.subscribe(this, namespaceTopic(this.nsp.name, limits));
    const own = socketTopic(this.nsp.name, this.id, limits);
    router.subscribe(this, own);
    this.#rooms.set(this.id, own);
    this.#connected = true;
  }

  deliver(event: RoutedEvent): void {
    if (this.#held) return void this.#held.push(event);
    const metadata = event.envelope.metadata;
    if (metadata !== undefined) {
      const broadcast = metadata['broadcast'];
      if (broadcast !== undefined) {
        const recent = (this.#recent ??= []);
        if (recent.includes(broadcast)) return;
        if (recent.push(broadcast) > RECENT_BROADCASTS) recent.shift();
      }
      if (metadata['except'] !== undefined) {
        const except = event.encoded(exceptOf);
        if (except?.some((room) => this.#rooms.has(room))) return;
      }
    }
    const outgoing = event.encoded(this.#encode);
    if (outgoing === undefined) return;
    const { connection } = this.#link;
    if ('frame' in outgoing) return connection.sendPrepared(outgoing.frame);
    connection.send(outgoing.text);
    for (const attachment of outgoing.attachments) connection.sendBinary(attachment);
  }

  // Socket.IO has no presence messages: a presence room's members are the broker's to report (HTTP API, hooks).
  memberAdded(): void {}
  memberRemoved(): void {}

  async join(room: string | readonly string[]): Promise<void> {
    for (const each of roomList(room)) {
      if (this.#rooms.has(each)) continue;
      if (!this.#connected) throw new EventwireError('connection_closed', 'The socket is disconnected');
      const topic = this.nsp.topicOf(each);
      // Read before the subscription is live: an event routed meanwhile is
      // replayed rather than lost (at worst one from just before the join).
      const joinedAt = this.#head();
      const settled = await this.#link.host.sessions.subscribe(this, this.#link.connection, topic);
      // Left meanwhile (a rule took its time): nothing may stay subscribed.
      if (!settled.subscribed || !this.#connected) {
        this.#link.host.sessions.unsubscribe(this, topic);
        throw new EventwireError('connection_closed', 'The socket disconnected while joining');
      }
      this.#rooms.set(each, topic);
      if (this.#link.sessions) (this.#joinedAt ??= new Map()).set(each, joinedAt);
    }
    this.save();
  }

  async leave(room: string): Promise<void> {
    const topic = this.#rooms.get(room);
    if (topic === undefined || room === this.id) return;
    this.#rooms.delete(room);
    this.#joinedAt?.delete(room);
    this.#link.host.sessions.unsubscribe(this, topic);
    this.save();
  }

  emit(event: string, ...args: readonly unknown[]): true {
    const last = args.at(-1);
    return this.#emit(event, typeof last === 'function' ? args.slice(0, -1) : args, typeof last === 'function' ? plainAck(last as Ack) : undefined);
  }

  emitWithAck(event: string, ...args: readonly unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const gone = (): void => reject(new EventwireError('connection_closed', 'The socket disconnected before acknowledging'));
      this.#emit(event, args, { answer: (answer) => resolve(answer[0]), gone });
    });
  }

  timeout(ms: number): TimedEmitter {
    const deadline = ackTimeout(ms);
    const emit = (event: string, args: readonly unknown[]): true => {
      const last = args.at(-1);
      if (typeof last !== 'function') return this.#emit(event, args, undefined);
      const id = this.#nextAck;
      return this.#emit(event, args.slice(0, -1), timedAck(deadline, last as AckWithError, () => this.#acks?.delete(id)));
    };
    return {
      emit: (event, ...args) => emit(event, args),
      emitWithAck: (event, ...args) =>
        new Promise((resolve, reject) => {
          emit(event, [...args, ((error, answer) => (error ? reject(error) : resolve(answer))) satisfies AckWithError]);
        }),
    };
  }

  get volatile(): Pick<Socket, 'emit'> {
    return {
      emit: (event, ...args) => {
        if (this.pid === undefined || typeof args.at(-1) === 'function' || !this.#connected) return this.emit(event, ...args);
        try {
          this.nsp.to(this.id).volatile.emit(event, ...args);
        } catch (error) {
          this.#link.host.log(`socketio: emit "${event.slice(0, 100)}" to ${this.id} refused: ${toEventwireError(error).code}`);
        }
        return true;
      },
    };
  }

  compress(_compress: boolean): this {
    return this;
  }

  /** Sends one event to this socket; with `ack`, under the next ack id (a socket already gone settles it as gone). */
  #emit(event: string, args: readonly unknown[], ack: PendingAck | undefined): true {
    if (!this.#connected) {
      if (ack) queueMicrotask(() => ack.gone());
      return true;
    }
    let id: number | undefined;
    if (ack) {
      id = this.#nextAck++;
      (this.#acks ??= new Map()).set(id, ack);
    }
    if (this.pid !== undefined && id === undefined) {
      // As Socket.IO with recovery on: through the socket's own room, so it
      // is stored, carries an offset and is replayed if the client was away.
      try {
        this.nsp.to(this.id).emit(event, ...args);
      } catch (error) {
        this.#link.host.log(`socketio: emit "${event.slice(0, 100)}" to ${this.id} refused: ${toEventwireError(error).code}`);
      }
      return true;
    }
    this.#link.send({ type: PacketType.EVENT, nsp: this.nsp.name, ...(id !== undefined && { id }), data: [event, ...args] });
    return true;
  }

  to(room: string | readonly string[]): BroadcastOperator {
    return this.nsp.to(room).except(this.id);
  }

  get broadcast(): BroadcastOperator {
    return this.nsp.except(this.id);
  }

  on(event: string, listener: (...args: unknown[]) => void): this;
  on(event: 'disconnect', listener: (reason: string) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: string, listener: Listener): this {
    const listeners = this.#listeners.get(event);
    if (listeners) listeners.push(listener);
    else this.#listeners.set(event, [listener]);
    return this;
  }

  onAny(listener: AnyListener): this {
    this.#anyListeners = [...this.#anyListeners, listener];
    return this;
  }

  prependAny(listener: AnyListener): this {
    this.#anyListeners = [listener, ...this.#anyListeners];
    return this;
  }

  offAny(listener?: AnyListener): this {
    this.#anyListeners = listener === undefined ? NONE : this.#anyListeners.filter((each) => each !== listener);
    return this;
  }

  use(middleware: SocketMiddleware): this {
    this.#middleware = [...this.#middleware, middleware];
    return this;
  }

  /**
   * Leaves the namespace (the client is told with `41`); `close` also closes
   * the whole connection — as socket.io's `client._disconnect()`, every
   * socket of it is told `41` first, so socket.io-client sees `io server
   * disconnect` (no automatic reconnect) and no session stays recoverable.
   */
  disconnect(close = false): this {
    if (!this.#connected) return this;
    if (close) {
      this.#link.disconnectAll();
      return this;
    }
    this.#link.send({ type: PacketType.DISCONNECT, nsp: this.nsp.name });
    this.closed('server namespace disconnect');
    return this;
  }

  /** Whether a handler listens for `event`. */
  handles(event: string): boolean {
    return (this.#listeners.get(event)?.length ?? 0) > 0;
  }

  /**
   * A client event the hooks accepted, as Socket.IO's `onevent`: the `onAny`
   * listeners hear it, then the `use` middleware runs in order, then the
   * handlers get the packet as the middleware left it (the ack, when asked
   * for, last). A middleware's refusal drops the event and goes to the
   * socket's `error` listeners (logged when there are none).
   */
  dispatch(event: string, args: readonly unknown[], ackId: number | undefined): void {
    if (this.#anyListeners.length === 0 && this.#middleware.length === 0) {
      // The common case, on every client emit: no packet array to build.
      const listeners = this.#listeners.get(event);
      if (listeners && listeners.length > 0) this.#run(event, listeners, ackId === undefined ? args : [...args, this.#answerer(ackId)]);
      return;
    }
    const packet: unknown[] = ackId === undefined ? [event, ...args] : [event, ...args, this.#answerer(ackId)];
    for (const listener of this.#anyListeners) this.#guard('onAny', () => listener(event, ...packet.slice(1)));
    const handle = (): void => {
      const name = packet[0];
      const listeners = typeof name === 'string' ? this.#listeners.get(name) : undefined;
      if (listeners && listeners.length > 0 && this.#connected) this.#run(name as string, listeners, packet.slice(1));
    };
    if (this.#middleware.length === 0) return handle();
    this.#through([...this.#middleware], 0, packet, (error) => {
      if (!this.#connected) return;
      if (error === undefined) return handle();
      const listeners = this.#listeners.get('error');
      if (listeners && listeners.length > 0) this.#run('error', listeners, [error]);
      else this.#link.host.log(`socketio: ${this.id}: a socket middleware refused "${event.slice(0, 100)}": ${toEventwireError(error).message}`);
    });
  }

  /** Runs `middleware[i…]` on `packet`, then `done` once: with the first refusal (`next(error)` or a throw), or with nothing. */
  #through(middleware: readonly SocketMiddleware[], i: number, packet: unknown[], done: (error?: Error) => void): void {
    const each = middleware[i];
    if (each === undefined) return done();
    let called = false;
    const next = (error?: Error): void => {
      if (called) return;
      called = true;
      if (error !== undefined && error !== null) return done(error instanceof Error ? error : toEventwireError(error));
      this.#through(middleware, i + 1, packet, done);
    };
    try {
      each(packet, next);
    } catch (error) {
      next(error instanceof Error ? error : toEventwireError(error));
    }
  }

  /** An ACK from the client for one of the server's emits. */
  acknowledged(id: number, args: readonly unknown[]): void {
    const ack = this.#acks?.get(id);
    if (!ack) return;
    this.#acks!.delete(id);
    try {
      ack.answer(args);
    } catch (error) {
      this.#link.host.log(`socketio: an ack handler of ${this.id} threw: ${toEventwireError(error).message}`);
    }
  }

  /** The ack function for a client's event: answers once, later calls are ignored (as Socket.IO does). */
  #answerer(id: number): Ack {
    let sent = false;
    return (...args) => {
      if (sent || !this.#connected) return;
      sent = true;
      this.#link.send({ type: PacketType.ACK, nsp: this.nsp.name, id, data: args });
    };
  }

  /** The socket left its namespace: every topic is left, `disconnect` handlers hear `reason`. */
  closed(reason: string): void {
    if (!this.#connected) return;
    // As Socket.IO: only a lost connection is recoverable; a socket that
    // left its namespace on purpose (the client's `41`, the server's
    // `disconnect()`) ends its session, so a kicked client cannot come back
    // into its rooms past the middleware.
    this.save(Date.now(), !RECOVERABLE.has(reason));
    this.#connected = false;
    this.#held = undefined;
    this.#link.host.sessions.leaveAll(this);
    this.#rooms.clear();
    const acks = this.#acks ? [...this.#acks.values()] : [];
    this.#acks = undefined;
    this.#link.left(this);
    // Every ack with a bound settles: the client can no longer answer.
    for (const ack of acks) this.#guard('ack', () => ack.gone());
    const listeners = this.#listeners.get('disconnect');
    if (listeners) this.#run('disconnect', listeners, [reason]);
  }

  /**
   * Recovery: the rooms of a saved session, joined again through the guarded
   * subscribe (the channel rules still apply; a refusal rejects).
   */
  async rejoin(rooms: readonly SavedRoom[]): Promise<void> {
    // Saved once whole, after the replay: a broker dying halfway must not
    // leave a session with some rooms missing (they would be a silent hole).
    this.#restoring = true;
    try {
      for (const { room, since } of rooms) {
        if (room === this.id) continue;
        await this.join(room);
        (this.#joinedAt ??= new Map()).set(room, since);
      }
    } finally {
      this.#restoring = false;
    }
  }

  /** The topics the socket is on ($nsp, its own, its rooms), with the history head each was joined at. */
  topics(): Map<string, number> {
    const topics = new Map<string, number>([[namespaceTopic(this.nsp.name, this.#link.host.limits.topicLimits), this.#since]]);
    for (const [room, topic] of this.#rooms) topics.set(topic, this.#joinedAt?.get(room) ?? this.#since);
    return topics;
  }

  /**
   * Ends a recovery: `replay` (the missed events, oldest first) is written
   * through the same path as live ones (except rooms, broadcast dedup, the
   * offset), then what arrived live meanwhile, each once.
   */
  /** What sending `events` to this socket would put on its connection, in bytes (each encoded as it will be sent, and kept). */
  bytesOf(events: readonly RoutedEvent[]): number {
    let bytes = 0;
    for (const event of events) {
      const outgoing = event.encoded(this.#encode);
      if (outgoing === undefined) continue;
      if ('frame' in outgoing) bytes += outgoing.frame.bytes.length;
      else {
        bytes += Buffer.byteLength(outgoing.text);
        for (const attachment of outgoing.attachments) bytes += attachment.length;
      }
    }
    return bytes;
  }

  replayed(replay: readonly RoutedEvent[]): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    const sent = new Set<string>();
    for (const event of replay) {
      sent.add(event.envelope.id);
      this.deliver(event);
    }
    for (const event of held) if (!sent.has(event.envelope.id)) this.deliver(event);
  }

  superseded(): void {
    this.closed('transport close');
    this.#link.connection.terminate();
  }

  /** A recovery that cannot go on: every topic is left, quietly (no `disconnect` listener ran, no session is saved). */
  abandon(): void {
    this.#connected = false;
    this.#held = undefined;
    this.#link.host.sessions.leaveAll(this);
    this.#rooms.clear();
    this.#joinedAt = undefined;
  }

  /** Restores what a session kept of the socket (recovery). */
  restore(record: SessionRecord): void {
    this.recovered = true;
    this.#since = record.since;
    this.#generation = (record.generation ?? 0) + 1;
    if (record.data) Object.assign(this.data, record.data);
  }

  /** Saves the recovery session (`socketio.recovery` on); `disconnectedAt` when the socket leaves. */
  save(disconnectedAt?: number, ended = false): void {
    const store = this.#link.sessions;
    if (!store || this.pid === undefined || !this.#connected || this.#restoring) return;
    const rooms: SavedRoom[] = [];
    for (const [room, topic] of this.#rooms) if (room !== this.id) rooms.push({ room, topic, since: this.#joinedAt?.get(room) ?? this.#since });
    const data = jsonData(this.data);
    const userId = this.user?.id;
    store.save({
      pid: this.pid,
      sid: this.id,
      nsp: this.nsp.name,
      rooms,
      since: this.#since,
      ...(userId !== undefined && { userId }),
      ...(data !== undefined && { data }),
      ...(disconnectedAt !== undefined && { disconnectedAt }),
      ...(ended && { ended }),
      ...(this.#generation > 0 && { generation: this.#generation }),
    });
  }

  /** Runs application code (a handler, an ack callback): a throw is logged, not passed on. */
  #guard(what: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.#link.host.log(`socketio: a "${what.slice(0, 100)}" handler of ${this.id} threw: ${toEventwireError(error).message}`);
    }
  }

  #head(): number {
    return this.#link.sessions?.history?.store.head ?? 0;
  }

  #run(event: string, listeners: readonly Listener[], args: readonly unknown[]): void {
    for (const listener of [...listeners]) {
      try {
        (listener as (...args: readonly unknown[]) => void)(...args);
      } catch (error) {
        this.#link.host.log(`socketio: a "${event.slice(0, 100)}" handler of ${this.id} threw: ${toEventwireError(error).message}`);
      }
    }
  }
}
