// One Engine.IO connection speaking Socket.IO: it decodes packets (binary
// ones reassembled from the attachments that follow), multiplexes the
// namespaces the client CONNECTs to — each a SocketIoSocket — and turns the
// client's emits into broker publishes. Packets are handled strictly in
// arrival order (FrameQueue): a CONNECT waiting on authentication or
// middleware holds back the events sent after it. Anything the codecs
// refuse closes the connection, as socket.io does and the conformance suite
// expects.
import type { IncomingHttpHeaders } from 'node:http';
import { EventwireError, toEventwireError } from '@eventwire/event-channel';
import { closeCodes } from '@eventwire/event-channel/protocol';
import type { ConnectionLimits } from '../../auth/access.js';
import type { BrokerUser } from '../../auth/authenticate.js';
import type { Connection } from '../../connection.js';
import { planResume } from '../../history/replay.js';
import { RoutedEvent } from '../../router.js';
import { SmallMap } from '../../small-map.js';
import { FrameQueue } from '../frame-queue.js';
import type { SurfaceHost } from '../surface-host.js';
import type { Session, SessionStart } from '../surface.js';
import { argumentsOf, envelopeDataOf, type SocketIoArguments } from './arguments.js';
import { BinaryReassembler, encodeBinaryPacket, reassembleNow } from './binary-packet.js';
import { SocketIoPacketError } from './packet-error.js';
import { PacketType, decodePacket, isPlainObject, packetLimitDefaults, type PacketLimits, type SocketIoPacket } from './packet.js';
import { emitTopic } from './rooms.js';
import type { Handshake, NamespaceName } from './server-api.js';
import { newPid, type SocketIoSessionStore } from './session-store.js';
import { socketIdOf } from './socket-id.js';
import { SOCKETIO_SOURCE, type SocketIoNamespace } from './socketio-namespace.js';
import { SocketIoSocket, type SocketLink } from './socketio-socket.js';

/** The event a client is sent when the broker refuses one of its emits that asked for no ack. */
export const SOCKETIO_ERROR_EVENT = 'eventwire:error';

/** What the session needs of the surface. */
export interface SocketIoSessionContext {
  readonly host: SurfaceHost;
  /** The namespace a client may CONNECT to (with this auth payload), or undefined (`Invalid namespace`). */
  namespace(name: string, auth: Readonly<Record<string, unknown>>): SocketIoNamespace | undefined | Promise<SocketIoNamespace | undefined>;
  readonly connectTimeout: number;
  readonly clientJoin: string | false;
  readonly packetLimits?: PacketLimits;
  /** Where recovery sessions are kept: `socketio.recovery` is on. */
  readonly recovery?: SocketIoSessionStore;
}

export class SocketIoSession implements Session {
  readonly id: string;
  readonly #connection: Connection;
  // Of the upgrade request, only what the server API's handshake exposes (and
  // the later authentication): the request itself is not kept.
  readonly #verify: SessionStart<undefined>['authenticate'];
  readonly #headers: IncomingHttpHeaders;
  readonly #address: string;
  readonly #context: SocketIoSessionContext;
  readonly #sockets = new SmallMap<string, SocketIoSocket>();
  readonly #frames = new FrameQueue<SocketIoPacket>(
    (packet) => this.#handle(packet),
    () => this.#protocolError(new EventwireError('rate_limited', 'Too many packets waiting')),
  );
  readonly #link: SocketLink;
  readonly #query: Readonly<Record<string, string>>;
  readonly #time = new Date().toISOString();
  /** This connection's publish and subscribe rates (`rateLimits`), as on every surface. */
  readonly #rates: ConnectionLimits | undefined;
  #pending: BinaryReassembler | undefined;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;
  #count = 0;
  /** Whether the connection's user is settled (at the handshake, or by a CONNECT's token). */
  #authenticated: boolean;

  constructor(start: SessionStart<undefined>, context: SocketIoSessionContext) {
    this.id = start.connection.id;
    this.#connection = start.connection;
    this.#verify = start.authenticate;
    this.#headers = start.request.headers;
    this.#address = start.ip;
    this.#context = context;
    this.#rates = context.host.access.limits(start.ip);
    this.#authenticated = start.authenticate === undefined || start.connection.user !== undefined;
    const url = new URL(start.request.url ?? '/', 'http://socket.io');
    this.#query = Object.fromEntries(url.searchParams);
    this.#link = {
      connection: start.connection,
      host: context.host,
      send: (packet) => this.#send(packet),
      sessions: context.recovery,
      left: (socket) => {
        if (this.#sockets.get(socket.nsp.name) === socket) this.#sockets.delete(socket.nsp.name);
        socket.nsp.remove(socket.id);
      },
      disconnectAll: () => {
        for (const socket of [...this.#sockets.values()]) socket.disconnect();
        this.#connection.close(1000, 'server disconnect', 1000);
      },
    };
    // socket.io's connectTimeout: a connection that never CONNECTs a namespace is closed.
    this.#connectTimer = setTimeout(() => {
      this.#connectTimer = undefined;
      if (this.#sockets.size === 0) this.#connection.close(closeCodes.protocolError, 'no CONNECT in time', 1000);
    }, context.connectTimeout);
    this.#connectTimer.unref();
  }

  // The connection itself subscribes nothing: its sockets are the router's subscribers.
  deliver(): void {}

  receive(data: Buffer, binary: boolean): void {
    try {
      if (binary) {
        if (!this.#pending) throw new SocketIoPacketError('unexpected_attachment', 'A binary message arrived that no packet announced');
        const whole = this.#pending.add(data);
        if (whole) {
          this.#pending = undefined;
          this.#frames.push(whole);
        }
        return;
      }
      if (this.#pending) throw new SocketIoPacketError('unexpected_attachment', 'A text message arrived while a binary packet waited for its attachments');
      const packet = decodePacket(data.toString('utf8'), this.#context.packetLimits ?? packetLimitDefaults);
      if (packet.attachments === undefined) return this.#frames.push(packet);
      if (packet.attachments === 0) return this.#frames.push(reassembleNow(packet));
      this.#pending = new BinaryReassembler(packet);
    } catch (error) {
      this.#protocolError(error);
    }
  }

  closed(): void {
    clearTimeout(this.#connectTimer);
    this.#frames.clear();
    this.#pending = undefined;
    for (const socket of [...this.#sockets.values()]) socket.closed('transport close');
    this.#sockets.clear();
  }

  #handle(packet: SocketIoPacket): Promise<void> | void {
    if (!this.#connection.open) return;
    switch (packet.type) {
      case PacketType.CONNECT:
        return this.#connect(packet);
      case PacketType.DISCONNECT:
        return void this.#sockets.get(packet.nsp)?.closed('client namespace disconnect');
      case PacketType.EVENT:
      case PacketType.BINARY_EVENT: {
        // socket.io ignores packets for a namespace the client is not connected to.
        const socket = this.#sockets.get(packet.nsp);
        if (socket) return this.#event(socket, packet);
        return;
      }
      case PacketType.ACK:
      case PacketType.BINARY_ACK:
        return void this.#sockets.get(packet.nsp)?.acknowledged(packet.id!, packet.data as unknown[]);
      case PacketType.CONNECT_ERROR:
        return this.#protocolError(new SocketIoPacketError('invalid_payload', 'A client does not send CONNECT_ERROR'));
    }
  }

  /**
   * CONNECT: the namespace must be one clients may reach; the token in the
   * auth payload (`auth.token`) is checked by the broker's `authenticate`
   * (when the handshake carried none); then the namespace's middleware.
   * Admitted: `40{"sid"}`, then its `connection` listeners. Refused:
   * `44{"message","data":{"code"}}` and the connection stays.
   */
  async #connect(packet: SocketIoPacket): Promise<void> {
    const name = packet.nsp;
    const held = this.#sockets.get(name);
    if (held) return this.#send({ type: PacketType.CONNECT, nsp: name, data: connectAnswer(held) });
    const auth: Record<string, unknown> = {};
    let claim: { pid?: unknown; offset?: unknown } = {};
    if (isPlainObject(packet.data)) {
      claim = { pid: packet.data['pid'], offset: packet.data['offset'] };
      for (const [key, value] of Object.entries(packet.data)) {
        // Recovery fields are socket.io-client's own, not the application's.
        if (key !== 'pid' && key !== 'offset') Object.defineProperty(auth, key, { value, enumerable: true, writable: true, configurable: true });
      }
    }
    // A dynamic namespace's matcher may take its time (it sees the auth payload).
    const namespace = await this.#context.namespace(name, auth);
    if (!namespace) {
      if (this.#connection.open) this.#send({ type: PacketType.CONNECT_ERROR, nsp: name, data: { message: 'Invalid namespace' } });
      return;
    }
    try {
      await this.#connectTo(namespace, auth, claim);
    } finally {
      namespace.settled();
    }
  }

  async #connectTo(namespace: SocketIoNamespace, auth: Record<string, unknown>, claim: { pid?: unknown; offset?: unknown }): Promise<void> {
    const name = namespace.name;
    if (!this.#connection.open) return;
    const recovery = this.#context.recovery;
    let socket: SocketIoSocket;
    try {
      await this.#authenticate(auth['token']);
      if (!this.#connection.open) return;
      if (recovery && claim.pid !== undefined && (await this.#recover(namespace, auth, claim, recovery))) return;
      if (!this.#connection.open || this.#sockets.has(name)) return;
      socket = new SocketIoSocket(socketIdOf(this.#connection.id, this.#count++), namespace, this.#handshake(auth), this.#link, recovery && newPid());
      await namespace.admit(socket);
    } catch (error) {
      if (!this.#connection.open) return;
      return this.#send({ type: PacketType.CONNECT_ERROR, nsp: name, data: connectError(error) });
    }
    if (!this.#connection.open || this.#sockets.has(name)) return;
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#sockets.set(name, socket);
    namespace.sockets.set(socket.id, socket);
    socket.start();
    this.#send({ type: PacketType.CONNECT, nsp: name, data: connectAnswer(socket) });
    // As Socket.IO does: the `connection` listeners run right after the
    // answer, so their handlers are in place before the client's next packet.
    if (socket.connected) namespace.connected(socket);
    socket.save();
  }

  /**
   * Connection state recovery: a CONNECT naming a session (`pid`) and the
   * last offset the client saw gets the same socket back — its id, rooms
   * (joined again through the guarded subscribe), `socket.data` — and every
   * event it missed, once and in order, before the answer, when: the session
   * is known, unexpired and not ended on purpose, is of this namespace and
   * this user (a socket of it still connected here is dropped: a half-open
   * connection), and history holds everything since the offset on every
   * topic the socket is on (its `$nsp`, its own `$sid`, each room). Else
   * false: the client gets a fresh socket (`recovered` false on both sides).
   * The replay is the native `resume`'s (planResume), so the seam between
   * it and live delivery is the same: nothing twice, nothing lost.
   */
  async #recover(namespace: SocketIoNamespace, auth: Record<string, unknown>, claim: { pid?: unknown; offset?: unknown }, store: SocketIoSessionStore): Promise<boolean> {
    const record = store.find(claim.pid, (sid) => namespace.sockets.has(sid));
    const history = store.history;
    if (!record || !history || record.nsp !== namespace.name || record.userId !== this.#connection.user?.id) return false;
    // A client that saw no event yet sends no offset: it saw nothing after it connected.
    const since = typeof claim.offset === 'string' ? claim.offset : `${history.store.epoch}:${record.since}`;
    const position = offsetSeq(since);
    if (position === undefined || position > history.store.head) return false;
    // The same client, back on a new connection before this broker saw the
    // old one die (a network drop is seen by the client first): the old
    // socket goes, as if its connection closed, and this one takes over.
    const live = namespace.sockets.get(record.sid);
    if (live) live.superseded();
    const socket = new SocketIoSocket(record.sid, namespace, this.#handshake(auth), this.#link, record.pid);
    socket.restore(record);
    if (!store.options.skipMiddlewares) await namespace.admit(socket);
    if (!this.#connection.open || this.#sockets.has(namespace.name)) return true;
    // Held from here: what is routed to the socket while it joins waits for the replay.
    socket.start(true);
    try {
      await socket.rejoin(record.rooms);
    } catch {
      socket.abandon();
      return false;
    }
    if (!this.#connection.open || this.#sockets.has(namespace.name)) {
      socket.abandon();
      return true;
    }
    const topics = socket.topics();
    const plan = planResume(history, [...topics.keys()], since, this.#context.host.limits.maxReplayEvents);
    if (plan.gaps.length > 0) {
      socket.abandon();
      return false;
    }
    // Volatile emits are not replayed; nor is what a room had before the socket joined it.
    const missed = plan.events
      .filter((event) => event.metadata?.['volatile'] !== 'true' && (offsetSeq(event.offset) ?? 0) > (topics.get(event.topic) ?? 0))
      .map((event) => new RoutedEvent(event));
    // Bounded in bytes as the native resume is (its maxReplayBytes): a replay
    // past the connection's outbound budget would make it a slow consumer. A
    // Socket.IO client has no gap signal, so none of it is sent: a fresh
    // socket, as Socket.IO answers whatever it cannot restore.
    if (socket.bytesOf(missed) > this.#context.host.limits.maxOutboundBytes) {
      socket.abandon();
      return false;
    }
    clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#sockets.set(namespace.name, socket);
    namespace.sockets.set(socket.id, socket);
    const counters = this.#context.host.core.counters;
    counters.recoveries++;
    counters.replayed += missed.length;
    socket.replayed(missed);
    this.#send({ type: PacketType.CONNECT, nsp: namespace.name, data: connectAnswer(socket) });
    if (socket.connected) namespace.connected(socket);
    socket.save();
    return true;
  }

  /** A token in CONNECT authenticates the connection (a refusal is the CONNECT's); without one, anonymous where allowed. */
  async #authenticate(token: unknown): Promise<void> {
    const authenticate = this.#verify;
    if (!authenticate) return;
    if (typeof token !== 'string' && this.#authenticated) return;
    const user: BrokerUser | undefined = await authenticate(typeof token === 'string' ? token : undefined);
    this.#connection.authenticated(user);
    this.#authenticated = true;
  }

  /**
   * A client emit: the configured join request, or a publish on the
   * namespace's `$emit.<event>` topic (origin `socketio`: permissions,
   * hooks, the event map, history apply), then the socket's handlers with
   * the arguments as the hooks left them. A refusal answers the ack, when
   * one was asked for, with `[{ error: { code, message } }]`; else the
   * client gets an `eventwire:error` event with the same object. Synchronous
   * unless a hook, schema or store waits: the frame queue then holds this
   * client's later frames, and only then.
   */
  #event(socket: SocketIoSocket, packet: SocketIoPacket): Promise<void> | void {
    const [name, ...args] = packet.data as unknown[];
    const event = String(name);
    const clientJoin = this.#context.clientJoin;
    if (clientJoin !== false && event === clientJoin) return this.#clientJoin(socket, args, packet.id);
    let published: SocketIoArguments | Promise<SocketIoArguments>;
    try {
      published = this.#publishEmit(socket, event, args);
    } catch (error) {
      return this.#refuseEmit(socket, packet, error);
    }
    if (!(published instanceof Promise)) return this.#dispatch(socket, event, published.args, packet.id);
    return published.then(
      (delivered) => this.#dispatch(socket, event, delivered.args, packet.id),
      (error: unknown) => this.#refuseEmit(socket, packet, error),
    );
  }

  /**
   * Publishes a client emit; what the socket's handlers get back. An emit
   * nothing would see (no hook, observer, subscriber, history rule, schema
   * or cluster: `core.hasAudience`) is counted, not routed — the handlers
   * get the same arguments either way.
   */
  #publishEmit(socket: SocketIoSocket, event: string, args: readonly unknown[]): SocketIoArguments | Promise<SocketIoArguments> {
    this.#rates?.take('publish');
    const { core, limits } = this.#context.host;
    const topic = emitTopic(socket.nsp.name, event, limits.topicLimits);
    const { data, metadata } = envelopeDataOf(event, args);
    if (!core.hasAudience(topic)) {
      core.countUnheard(topic, data);
      return argumentsOf({ topic, data, metadata });
    }
    const envelope = core.createEnvelope(topic, data, { source: SOCKETIO_SOURCE, metadata: { ...metadata, sid: socket.id } });
    // A `$emit` topic is the surface's own (clients may not publish `$` topics themselves): hooks decide, not permissions.
    const result = core.publish(envelope, { surface: 'socketio', connectionId: this.id, user: this.#connection.user });
    return result instanceof Promise ? result.then((settled) => argumentsOf(settled.event)) : argumentsOf(result.event);
  }

  #dispatch(socket: SocketIoSocket, event: string, args: readonly unknown[], ackId: number | undefined): void {
    if (socket.connected) socket.dispatch(event, args, ackId);
  }

  #refuseEmit(socket: SocketIoSocket, packet: SocketIoPacket, error: unknown): void {
    const failure = toEventwireError(error);
    const refusal = { error: { code: failure.code, message: failure.message } };
    if (packet.id !== undefined) return this.#send({ type: PacketType.ACK, nsp: socket.nsp.name, id: packet.id, data: [refusal] });
    this.#send({ type: PacketType.EVENT, nsp: socket.nsp.name, data: [SOCKETIO_ERROR_EVENT, refusal.error] });
  }

  /** `socket.emit('<clientJoin>', room | rooms, ack?)`: joins through the channel rules; acked `{ ok: true }` or `{ error }`. */
  async #clientJoin(socket: SocketIoSocket, args: readonly unknown[], id: number | undefined): Promise<void> {
    let answer: Record<string, unknown>;
    try {
      const rooms = args[0];
      if (!(typeof rooms === 'string' || (Array.isArray(rooms) && rooms.every((room) => typeof room === 'string')))) {
        throw new EventwireError('invalid_payload', 'Name a room, or an array of rooms, to join');
      }
      this.#rates?.take('subscribe');
      await socket.join(rooms as string | string[]);
      answer = { ok: true };
    } catch (error) {
      const failure = toEventwireError(error);
      answer = { error: { code: failure.code, message: failure.message } };
    }
    if (id !== undefined) this.#send({ type: PacketType.ACK, nsp: socket.nsp.name, id, data: [answer] });
    else if ('error' in answer) this.#send({ type: PacketType.EVENT, nsp: socket.nsp.name, data: [SOCKETIO_ERROR_EVENT, answer['error']] });
  }

  #handshake(auth: Record<string, unknown>): Handshake {
    return { auth, headers: this.#headers, query: this.#query, address: this.#address, time: this.#time };
  }

  #send(packet: SocketIoPacket): void {
    let encoded;
    try {
      encoded = encodeBinaryPacket(packet);
    } catch (error) {
      return this.#context.host.log(`socketio: conn ${this.id}: a packet could not be encoded: ${toEventwireError(error).message}`);
    }
    this.#connection.send(encoded.text);
    for (const attachment of encoded.attachments) this.#connection.sendBinary(attachment);
  }

  /** What the client sent breaks the protocol: the connection is closed (socket.io's behaviour). */
  #protocolError(error: unknown): void {
    const failure = toEventwireError(error);
    this.#context.host.log(`socketio: conn ${this.id} closed: ${failure.code} ${failure.message}`);
    this.#frames.clear();
    this.#connection.close(closeCodes.protocolError, failure.code, 1000);
  }
}

/** The CONNECT answer: the socket id, and the recovery session's id when recovery is on. */
function connectAnswer(socket: SocketIoSocket): { sid: string; pid?: string } {
  return socket.pid === undefined ? { sid: socket.id } : { sid: socket.id, pid: socket.pid };
}

/** The sequence number of an offset (`<epoch>:<seq>`) of this history, or undefined. */
function offsetSeq(offset: string | undefined): number | undefined {
  if (offset === undefined) return undefined;
  const colon = offset.lastIndexOf(':');
  const seq = Number(offset.slice(colon + 1));
  return colon > 0 && Number.isSafeInteger(seq) && seq >= 0 ? seq : undefined;
}

/** A refused CONNECT's payload: the error's message, and its `data` (socket.io's) or else its eventwire code. */
function connectError(error: unknown): { message: string; data: unknown } {
  const data = error instanceof Error && 'data' in error ? (error as Error & { data: unknown }).data : undefined;
  const failure = toEventwireError(error);
  return { message: failure.message, data: data ?? { code: failure.code } };
}

/** A namespace name as the server API types it. */
export function namespaceName(name: string): NamespaceName {
  if (!name.startsWith('/')) throw new EventwireError('invalid_topic', `A namespace starts with "/": "${name.slice(0, 100)}"`);
  return name as NamespaceName;
}
