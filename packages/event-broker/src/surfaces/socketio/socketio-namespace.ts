// One Socket.IO namespace on this broker: its CONNECT middleware and
// connection listeners (from `setup`), the sockets connected to it here, the
// publish behind its broadcast operators, and the one encoder its sockets
// share for what the router delivers (each event encoded once per namespace,
// however many sockets receive it).
import { randomBytes } from 'node:crypto';
import { EventwireError, toEventwireError, type EventEnvelope } from '@eventwire/event-channel';
import { PreparedTextFrame } from '../../prepared-frame.js';
import type { SurfaceHost } from '../surface-host.js';
import { argumentsOf, envelopeDataOf } from './arguments.js';
import { encodeBinaryPacket } from './binary-packet.js';
import { gatherAcks } from './acks.js';
import { Broadcast, type BroadcastHost, type BroadcastTarget } from './broadcast.js';
import { ConnectionHooks } from './connection-hooks.js';
import { PacketType, RESERVED_EVENTS } from './packet.js';
import { namespaceTopic, roomTopic, socketTopic } from './rooms.js';
import type { BroadcastAck, Middleware, Namespace, NamespaceName, Socket } from './server-api.js';
import { isSocketId } from './socket-id.js';

/** Where the surface's own publishes say they come from. */
export const SOCKETIO_SOURCE = 'urn:eventwire:socketio';

/** What one routed event becomes for the sockets of one namespace: a prepared text frame, or a binary packet's text and attachments. */
export type Outgoing = { readonly frame: PreparedTextFrame } | { readonly text: string; readonly attachments: readonly Buffer[] } | undefined;

/** What a namespace needs of a socket of its own (socketio-socket.ts). */
export interface NamespaceSocket extends Socket {
  readonly rooms: ReadonlySet<string>;
  join(room: string | readonly string[]): Promise<void>;
  leave(room: string): Promise<void>;
  disconnect(close?: boolean): this;
  /** Recovery: the same client came back on a new connection before this one was seen to die; this one is dropped (recoverably). */
  superseded(): void;
}

/** What a child namespace asks of the dynamic namespace it was created under. */
export interface NamespaceParent {
  admit(socket: Socket): Promise<void>;
  connected(socket: Socket): void;
}

export class SocketIoNamespace extends Broadcast implements Namespace {
  readonly name: NamespaceName;
  /** This broker's sockets of the namespace, by id. */
  readonly sockets = new Map<string, NamespaceSocket>();
  readonly #host: SurfaceHost;
  readonly #hooks = new ConnectionHooks();
  readonly #operations: BroadcastHost;
  /** The dynamic namespace (`of(regex | function)`) this one was created under, whose middleware and listeners apply first. */
  readonly parent: NamespaceParent | undefined;
  /** A dynamic namespace's child: how it is forgotten once idle (see #releaseIfIdle). */
  readonly #release: ((namespace: SocketIoNamespace) => void) | undefined;
  /** CONNECTs under way to this namespace (claimed by the server's lookup, settled by the session). */
  #connecting = 0;

  constructor(name: NamespaceName, host: SurfaceHost, parent?: NamespaceParent, release?: (namespace: SocketIoNamespace) => void) {
    // The operators are this namespace's; `this` exists only after super().
    const self: { namespace?: SocketIoNamespace } = {};
    const operations: BroadcastHost = {
      publish: (target, event, args) => self.namespace!.#publish(target, event, args),
      socketsJoin: (target, rooms) => self.namespace!.#each(target, (socket) => socket.join(rooms)),
      socketsLeave: (target, rooms) => self.namespace!.#each(target, (socket) => Promise.all(rooms.map((room) => socket.leave(room)))),
      disconnectSockets: (target, close) => self.namespace!.#each(target, (socket) => void socket.disconnect(close)),
      emitWithAck: (target, timeout, event, args, ack) => self.namespace!.#emitWithAck(target, timeout, event, args, ack),
      fetchSockets: (target) => self.namespace!.matching(target),
    };
    super(operations);
    self.namespace = this;
    this.#operations = operations;
    this.name = name;
    this.#host = host;
    this.parent = parent;
    this.#release = release;
  }

  /** A CONNECT to this namespace has begun: it is not forgotten until `settled`. */
  claim(): void {
    this.#connecting++;
  }

  /** A CONNECT to this namespace is over (answered either way). */
  settled(): void {
    this.#connecting--;
    this.#releaseIfIdle();
  }

  /** A socket left the namespace. */
  remove(socketId: string): void {
    this.sockets.delete(socketId);
    this.#releaseIfIdle();
  }

  /**
   * A dynamic namespace's child with no socket, no CONNECT under way and
   * nothing the application set on it (its own `use` or `on`) is forgotten:
   * clients choose the names a matcher accepts, so children made on demand
   * must not pile up (a CONNECT refused by the middleware still made one).
   * Nothing is lost — rooms are topics, the parent's middleware and
   * listeners are read live — and the next CONNECT makes it again.
   */
  #releaseIfIdle(): void {
    if (!this.#release || this.#connecting > 0 || this.sockets.size > 0 || !this.#hooks.empty) return;
    this.#release(this);
  }

  use(middleware: Middleware): this {
    this.#hooks.use(middleware);
    return this;
  }

  on(event: 'connection', listener: (socket: Socket) => void): this {
    this.#hooks.on(event, listener);
    return this;
  }

  /** Runs the CONNECT middleware in order — a dynamic namespace's parent's first — and rejects with the first refusal (`next(error)` or a throw). */
  async admit(socket: Socket): Promise<void> {
    await this.parent?.admit(socket);
    await this.#hooks.admit(socket);
  }

  /** A socket connected: the `connection` listeners run, a parent's first (a throwing one is logged, the others still run). */
  connected(socket: Socket): void {
    this.parent?.connected(socket);
    this.#hooks.announce(socket, (error) => this.#host.log(`socketio: a "connection" listener of ${this.name} threw: ${toEventwireError(error).message}`));
  }

  /** An operator over exactly `target` (a parent namespace reaches its children's sockets through it). */
  select(target: BroadcastTarget): Broadcast {
    return new Broadcast(this.#operations, target);
  }

  /**
   * The encoder the namespace's sockets hand `RoutedEvent.encoded`: one
   * instance per namespace, so an event is encoded once per namespace. Text
   * events are a `PreparedTextFrame` (the wire adds Engine.IO's `4` once for
   * all); events with binary arguments are a BINARY_EVENT and its
   * attachments. An event named after one of Socket.IO's reserved names
   * (`connect`, `disconnect`, …) is not delivered: the client would take it
   * for its own.
   */
  readonly encode = (envelope: EventEnvelope): Outgoing => this.#encode(envelope, false);

  /**
   * As {@link encode}, for sockets with connection state recovery: an event
   * history keeps (it has an `offset`) and that is not volatile carries its
   * offset as its last argument, exactly as Socket.IO appends its own —
   * socket.io-client records the last string argument as the position to
   * recover from.
   */
  readonly encodeWithOffset = (envelope: EventEnvelope): Outgoing => this.#encode(envelope, true);

  #encode(envelope: EventEnvelope, withOffset: boolean): Outgoing {
    const { event, args } = argumentsOf(envelope);
    if (RESERVED_EVENTS.has(event)) return undefined;
    const offset = withOffset && envelope.offset !== undefined && envelope.metadata?.['volatile'] !== 'true' ? [envelope.offset] : [];
    const encoded = encodeBinaryPacket({ type: PacketType.EVENT, nsp: this.name, data: [event, ...args, ...offset] });
    return encoded.attachments.length === 0 ? { frame: new PreparedTextFrame(encoded.text) } : encoded;
  }

  /** The topic of a target room: a socket id names that socket's own topic. */
  topicOf(room: string): string {
    const limits = this.#host.limits.topicLimits;
    return isSocketId(room) ? socketTopic(this.name, room, limits) : roomTopic(this.name, room, limits);
  }

  /**
   * One event per target topic through the broker's publish (hooks, the
   * event map, history, the cluster), from the broker itself. Several
   * topics share a `metadata.broadcast` id so a socket in more than one of
   * them receives the emit once; `except` rooms travel as
   * `metadata.except` (a JSON array) and each receiving socket checks its
   * own rooms, on whichever broker it is.
   */
  #publish(target: BroadcastTarget, event: string, args: readonly unknown[]): void {
    if (typeof event !== 'string' || RESERVED_EVENTS.has(event)) throw new EventwireError('invalid_payload', `"${String(event).slice(0, 50)}" is not an event name a socket can receive`);
    if (args.some((arg) => typeof arg === 'function')) throw new EventwireError('invalid_payload', 'A broadcast takes an ack callback only last, after timeout(ms)');
    const topics = target.rooms.length === 0 ? [namespaceTopic(this.name, this.#host.limits.topicLimits)] : [...new Set(target.rooms.map((room) => this.topicOf(room)))];
    const { data, metadata } = envelopeDataOf(event, args);
    const tags: Record<string, string> = { ...metadata };
    if (topics.length > 1) tags['broadcast'] = randomBytes(9).toString('base64url');
    if (target.except.length > 0) tags['except'] = JSON.stringify([...new Set(target.except)]);
    if (target.volatile) tags['volatile'] = 'true';
    const { core } = this.#host;
    for (const topic of topics) {
      const result = core.publish(core.createEnvelope(topic, data, { source: SOCKETIO_SOURCE, metadata: tags }), { surface: 'broker' });
      if (result instanceof Promise) {
        result.catch((error: unknown) => {
          const failure = toEventwireError(error);
          this.#host.log(`socketio: emit "${event.slice(0, 100)}" to ${topic} refused: ${failure.code} ${failure.message}`);
        });
      }
    }
  }

  /**
   * A broadcast ack (Socket.IO's `timeout(ms).emit(…, ack)`): the event goes
   * straight to each matched socket of this broker with its own ack request
   * — as Socket.IO's adapter writes it to each socket, not through the
   * broker's publish, so no hook, history or other broker sees it — and
   * `ack` gets their answers, or `timeout` with those that came.
   */
  #emitWithAck(target: BroadcastTarget, timeout: number, event: string, args: readonly unknown[], ack: BroadcastAck): void {
    if (typeof event !== 'string' || RESERVED_EVENTS.has(event)) throw new EventwireError('invalid_payload', `"${String(event).slice(0, 50)}" is not an event name a socket can receive`);
    const sockets = this.matching(target);
    const answered = gatherAcks(sockets.length, timeout, ack);
    for (const socket of sockets) socket.emit(event, ...args, answered);
  }

  /** This broker's sockets the target matches (its rooms, or all; none in an `except` room). */
  matching(target: BroadcastTarget): NamespaceSocket[] {
    const matched: NamespaceSocket[] = [];
    for (const socket of this.sockets.values()) {
      const rooms = socket.rooms;
      if (target.rooms.length > 0 && !target.rooms.some((room) => rooms.has(room))) continue;
      if (target.except.some((room) => rooms.has(room))) continue;
      matched.push(socket);
    }
    return matched;
  }

  /** Runs `act` on this broker's sockets the target matches. */
  #each(target: BroadcastTarget, act: (socket: NamespaceSocket) => Promise<unknown> | void): void {
    for (const socket of this.matching(target)) {
      const pending = act(socket);
      if (pending instanceof Promise) {
        pending.catch((error: unknown) => this.#host.log(`socketio: ${socket.id}: ${toEventwireError(error).code} ${toEventwireError(error).message}`));
      }
    }
  }
}
