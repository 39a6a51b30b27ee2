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
   * Publishes `event` with `args` to the target rooms (no ack: Socket.IO's
   * broadcast acks are not supported). Returns true once accepted, as
   * Socket.IO does; a refusal (a hook, the event map, a bad room name) throws
   * an `EventwireError`.
   */
  emit(event: string, ...args: readonly unknown[]): true;
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
  /** Sends to this socket only; a function as the last argument asks the client for an ack. */
  emit(event: string, ...args: readonly unknown[]): true;
  /** Broadcasts to rooms, leaving this socket out. */
  to(room: string | readonly string[]): BroadcastOperator;
  /** Broadcasts to the whole namespace, leaving this socket out. */
  readonly broadcast: BroadcastOperator;
  /** Handles a client event, after the broker's hooks accepted it; the ack, when asked for, is the last argument. */
  on(event: string, listener: (...args: unknown[]) => void): this;
  on(event: 'disconnect', listener: (reason: string) => void): this;
  /** Leaves the namespace (`close`: drops the whole connection). */
  disconnect(close?: boolean): this;
}

/** `broker.socketio`: the server, its namespaces, and broadcasts to the root namespace. */
export interface SocketIoServer extends BroadcastOperator {
  /** The namespace `name`, declared on first use (a client CONNECT to an undeclared namespace is refused `Invalid namespace`). */
  of(name: NamespaceName): Namespace;
  use(middleware: Middleware): this;
  on(event: 'connection', listener: (socket: Socket) => void): this;
}
