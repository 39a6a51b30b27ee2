// The Socket.IO-server-shaped API a broker config uses in `setup(broker)`
// (`broker.socketio`), and what the Redis emitters' bridge drives: the part
// of Socket.IO's server a team already wrote code against, on eventwire's
// topics. Only the contract lives here; the surface implements it.
//
//   setup(broker) {
//     const io = broker.socketio!;
//     io.of('/').use((socket, next) => next());            // CONNECT middleware
//     io.of('/').on('connection', (socket) => {
//       socket.join('chat.7');                              // channel rules apply to private-/presence- rooms
//       socket.on('message', (text, ack) => ack?.('ok'));   // after the broker's hooks accepted it
//     });
//     io.to('chat.7').except(someSocketId).emit('UpdateChat', chat);
//   }
//
// Delivery: `emit` on a broadcast operator publishes one event per target
// room topic (rooms.ts) through the broker — hooks, history, metrics and the
// cluster apply as to any publish — with the event name and arguments laid
// out as arguments.ts says; a socket in several target rooms receives it once,
// and `except` rooms (a socket id is a room) are left out on every broker.
// `socket.emit` goes to that one socket (its `$sid.<id>` room).
import type { EventwireError } from '@eventwire/event-channel';
import type { BrokerUser } from '../../auth/authenticate.js';

/** A Socket.IO namespace name: `/` or `/name`. */
export type NamespaceName = `/${string}`;

/** Who receives an emit: rooms to reach (none: the whole namespace) and rooms to leave out. */
export interface BroadcastOperator {
  /** Adds target rooms (Socket.IO's `to`/`in`); a socket id names that socket's own room. */
  to(room: string | readonly string[]): BroadcastOperator;
  in(room: string | readonly string[]): BroadcastOperator;
  /** Leaves out sockets in these rooms (or with these ids), on every broker. */
  except(room: string | readonly string[]): BroadcastOperator;
  /** Not kept in history and not replayed on recovery (Socket.IO's `volatile`). */
  readonly volatile: BroadcastOperator;
  /**
   * Asks every matched socket of this broker for an ack, within `ms`
   * (Socket.IO's `timeout`): then `emit(event, ...args, (error, responses) => …)`
   * or `emitWithAck`. An emit without a callback is an ordinary broadcast.
   */
  timeout(ms: number): BroadcastOperator;
  /** Accepted for Socket.IO code; the broker compresses per connection (`perMessageDeflate`), not per emit. */
  compress(compress: boolean): BroadcastOperator;
  /**
   * Publishes `event` with `args` to the target rooms. Returns true once
   * accepted, as Socket.IO does; a refusal (a hook, the event map, a bad room
   * name) throws an `EventwireError`.
   *
   * After `timeout(ms)`, a function as the last argument is a broadcast ack
   * ({@link BroadcastAck}): the event is sent straight to each matched socket
   * of this broker with an ack request — not published (no hooks, history or
   * cluster), so sockets on other brokers are not reached. Without
   * `timeout`, a function argument throws `invalid_payload`.
   */
  emit(event: string, ...args: readonly unknown[]): true;
  /** A broadcast ack as a promise: every matched local socket's answer (its first argument); rejects `timeout` (needs `timeout(ms)`, else `invalid_payload`). */
  emitWithAck(event: string, ...args: readonly unknown[]): Promise<unknown[]>;
  /** The sockets matched on this broker (Socket.IO's `fetchSockets`; sockets on other brokers are not included). */
  fetchSockets(): Promise<RemoteSocket[]>;
  /** The sockets matched on this broker join `room` (Socket.IO's `socketsJoin`). */
  socketsJoin(room: string | readonly string[]): void;
  /** The sockets matched on this broker leave `room`. */
  socketsLeave(room: string | readonly string[]): void;
  /** Disconnects the sockets matched on this broker (`close`: their whole connection, every namespace). */
  disconnectSockets(close?: boolean): void;
}

/** CONNECT middleware: call `next()` to admit, `next(error)` to refuse with `44{message, data:{code}}`. */
export type Middleware = (socket: Socket, next: (error?: Error) => void) => void | Promise<void>;

/** One namespace: its middleware, its connection handlers, and broadcasts to its sockets. */
export interface Namespace extends BroadcastOperator {
  readonly name: NamespaceName;
  use(middleware: Middleware): this;
  on(event: 'connection', listener: (socket: Socket) => void): this;
}

/** What the client sent at CONNECT and how it reached the broker. */
export interface Handshake {
  /** The CONNECT packet's auth payload (Socket.IO's recovery fields `pid`/`offset` removed). */
  readonly auth: Readonly<Record<string, unknown>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly query: Readonly<Record<string, string>>;
  /** The client's address (see `trustedProxies`). */
  readonly address: string;
  /** When the connection was made (ISO 8601). */
  readonly time: string;
}

/** An acknowledgement callback handed to a handler as the last argument when the client asked for one. */
export type Ack = (...args: readonly unknown[]) => void;

/**
 * The callback of an emit with a deadline (`socket.timeout(ms).emit(…, ack)`):
 * `error` is null and `answer` the client's ack arguments, or `error` is an
 * `EventwireError` — `timeout` (no answer within `ms`) or `connection_closed`
 * (the socket left first) — and there is no answer. It runs exactly once.
 */
export type AckWithError = (error: EventwireError | null, ...answer: unknown[]) => void;

/** The callback of a broadcast ack: each matched socket's answer (its first ack argument); `error` `timeout` when some did not answer in time (`responses` then holds those that did). */
export type BroadcastAck = (error: EventwireError | null, responses: unknown[]) => void;

/** `socket.timeout(ms)`: the socket's emits with a deadline on their ack. */
export interface TimedEmitter {
  /** As `socket.emit`; a function as the last argument is an {@link AckWithError}. */
  emit(event: string, ...args: readonly unknown[]): true;
  /** Resolves with the client's first ack argument; rejects `timeout` or `connection_closed`. */
  emitWithAck(event: string, ...args: readonly unknown[]): Promise<unknown>;
}

/** An `onAny` listener: the event's name, its arguments, and the ack function last when the client asked for one. */
export type AnyListener = (event: string, ...args: unknown[]) => void;

/**
 * Per-socket middleware (`socket.use`): `packet` is `[event, ...args, ack?]`
 * and may be changed in place for the handlers; `next()` passes it on,
 * `next(error)` drops it and the socket's `error` listeners hear `error`.
 */
export type SocketMiddleware = (packet: unknown[], next: (error?: Error) => void) => void;

/** What `fetchSockets()` hands back: a socket of this broker (Socket.IO's RemoteSocket, which a local socket also is). */
export type RemoteSocket = Pick<Socket, 'id' | 'handshake' | 'rooms' | 'data' | 'user' | 'emit' | 'timeout' | 'join' | 'leave' | 'disconnect'>;

/** One client's socket in one namespace. */
export interface Socket {
  readonly id: string;
  readonly nsp: Namespace;
  readonly handshake: Handshake;
  /** The authenticated user (the broker's `authenticate`), if any. */
  readonly user: BrokerUser | undefined;
  /** Free for the application, as Socket.IO's `socket.data`. */
  readonly data: Record<string, unknown>;
  /** Whether this connection resumed a session and was sent what it missed. */
  readonly recovered: boolean;
  /** The rooms the socket is in (its own id among them). */
  readonly rooms: ReadonlySet<string>;
  readonly connected: boolean;
  /** Joins rooms; a `private-`/`presence-` room needs the channel rule's consent (rejects `forbidden`). */
  join(room: string | readonly string[]): Promise<void>;
  leave(room: string): Promise<void>;
  /** Sends to this socket only; a function as the last argument asks the client for an ack (it is dropped if the socket leaves first, as in Socket.IO: use `timeout` for a bound). */
  emit(event: string, ...args: readonly unknown[]): true;
  /** Resolves with the client's first ack argument; rejects `connection_closed` if the socket leaves first (Socket.IO's would wait forever). */
  emitWithAck(event: string, ...args: readonly unknown[]): Promise<unknown>;
  /** Emits whose ack must come within `ms` ({@link TimedEmitter}); `ms` is a whole number of milliseconds up to 2^31-1, else `invalid_payload`. */
  timeout(ms: number): TimedEmitter;
  /** Emits not replayed on recovery (Socket.IO's `volatile`; with recovery off it is `emit`). Not dropped for a slow reader: the broker's slow-consumer bound applies to every emit alike. */
  readonly volatile: Pick<Socket, 'emit'>;
  /** Accepted for Socket.IO code; the broker compresses per connection (`perMessageDeflate`), not per emit. */
  compress(compress: boolean): this;
  /** Broadcasts to rooms, leaving this socket out. */
  to(room: string | readonly string[]): BroadcastOperator;
  /** Broadcasts to the whole namespace, leaving this socket out. */
  readonly broadcast: BroadcastOperator;
  /** Handles a client event, after the broker's hooks accepted it; the ack, when asked for, is the last argument. */
  on(event: string, listener: (...args: unknown[]) => void): this;
  on(event: 'disconnect', listener: (reason: string) => void): this;
  /** What a {@link SocketMiddleware} refused (`next(error)` or a throw); the client is told nothing, as in Socket.IO. */
  on(event: 'error', listener: (error: Error) => void): this;
  /** Hears every client event the hooks accepted, before `use` middleware and handlers: `(event, ...args, ack?)`. */
  onAny(listener: AnyListener): this;
  /** As `onAny`, first in line. */
  prependAny(listener: AnyListener): this;
  /** Removes one `onAny` listener, or all of them. */
  offAny(listener?: AnyListener): this;
  /** Per-socket middleware on the client's events, in order, before the handlers (Socket.IO's `socket.use`). */
  use(middleware: SocketMiddleware): this;
  /** Leaves the namespace (`close`: drops the whole connection). */
  disconnect(close?: boolean): this;
}

/**
 * What a dynamic namespace matches (Socket.IO's `io.of(regex)` and
 * `io.of((name, auth, next) => next(null, allow))`): the namespace name a
 * client CONNECTs to, with its auth payload; `next(error)` or a throw refuses.
 */
export type NamespaceMatcher =
  | RegExp
  | ((name: string, auth: Readonly<Record<string, unknown>>, next: (error: Error | null, allow?: boolean) => void) => void);

/**
 * A dynamic namespace (Socket.IO's ParentNamespace): every name it matches
 * becomes a child namespace on its first CONNECT; the parent's middleware and
 * `connection` listeners run for each child's sockets before the child's own
 * (`socket.nsp` is the child), and its broadcasts and socket operations reach
 * every child.
 */
export interface ParentNamespace extends BroadcastOperator {
  /** The child namespaces created so far. */
  readonly children: ReadonlySet<Namespace>;
  use(middleware: Middleware): this;
  on(event: 'connection', listener: (socket: Socket) => void): this;
}

/** `broker.socketio`: the server, its namespaces, and broadcasts to the root namespace. */
export interface SocketIoServer extends BroadcastOperator {
  /** The namespace `name`, declared on first use (a client CONNECT to an undeclared namespace is refused `Invalid namespace`). */
  of(name: NamespaceName): Namespace;
  /** A dynamic namespace: names it matches are created on a client's CONNECT (declared namespaces and `namespaces` are asked first, then matchers in the order given). */
  of(matcher: NamespaceMatcher): ParentNamespace;
  use(middleware: Middleware): this;
  on(event: 'connection', listener: (socket: Socket) => void): this;
}
