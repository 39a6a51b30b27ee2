// A dynamic namespace (Socket.IO's ParentNamespace, `io.of(regex)` or
// `io.of((name, auth, next) => next(null, allow))`): it matches namespace
// names a client CONNECTs to, and each match becomes a child namespace —
// created once, then an ordinary namespace with its own topics (rooms.ts's
// mapping of its name) — whose CONNECT runs the parent's middleware and
// `connection` listeners before its own. Unlike Socket.IO, which copies them
// into the child when it is made, the child asks the parent each time, so a
// `use` or `on` added later applies to children that exist already.
// Broadcasts and socket operations on the parent reach every child's sockets.
import { EventwireError, toEventwireError } from '@eventwire/event-channel';
import { gatherAcks } from './acks.js';
import { Broadcast, type BroadcastTarget } from './broadcast.js';
import type { Middleware, NamespaceMatcher, ParentNamespace, Socket } from './server-api.js';
import { ConnectionHooks } from './connection-hooks.js';
import type { NamespaceParent, SocketIoNamespace } from './socketio-namespace.js';

export class SocketIoParentNamespace extends Broadcast implements ParentNamespace, NamespaceParent {
  readonly children = new Set<SocketIoNamespace>();
  readonly #matches: (name: string, auth: Readonly<Record<string, unknown>>) => Promise<boolean>;
  readonly #hooks = new ConnectionHooks();
  readonly #log: (line: string) => void;

  constructor(matcher: NamespaceMatcher, log: (line: string) => void) {
    const self: { parent?: SocketIoParentNamespace } = {};
    const each = (target: BroadcastTarget): Broadcast[] => [...self.parent!.children].map((child) => child.select(target));
    super({
      publish: (target, event, args) => void each(target).forEach((child) => child.emit(event, ...args)),
      socketsJoin: (target, rooms) => each(target).forEach((child) => child.socketsJoin(rooms)),
      socketsLeave: (target, rooms) => each(target).forEach((child) => child.socketsLeave(rooms)),
      disconnectSockets: (target, close) => each(target).forEach((child) => child.disconnectSockets(close)),
      emitWithAck: (target, timeout, event, args, ack) => {
        const sockets = [...self.parent!.children].flatMap((child) => child.matching(target));
        const answered = gatherAcks(sockets.length, timeout, ack);
        for (const socket of sockets) socket.emit(event, ...args, answered);
      },
      fetchSockets: (target) => [...self.parent!.children].flatMap((child) => child.matching(target)),
    });
    self.parent = this;
    this.#log = log;
    this.#matches = matcherOf(matcher);
  }

  /** Whether a CONNECT to `name` (with its auth payload) creates a child here; a matcher that throws or calls `next(error)` says no. */
  matches(name: string, auth: Readonly<Record<string, unknown>>): Promise<boolean> {
    return this.#matches(name, auth).catch((error: unknown) => {
      this.#log(`socketio: a dynamic namespace's matcher refused ${name.slice(0, 100)}: ${toEventwireError(error).message}`);
      return false;
    });
  }

  use(middleware: Middleware): this {
    this.#hooks.use(middleware);
    return this;
  }

  on(event: 'connection', listener: (socket: Socket) => void): this {
    this.#hooks.on(event, listener);
    return this;
  }

  admit(socket: Socket): Promise<void> {
    return this.#hooks.admit(socket);
  }

  connected(socket: Socket): void {
    this.#hooks.announce(socket, (error) => this.#log(`socketio: a "connection" listener of a dynamic namespace threw: ${toEventwireError(error).message}`));
  }
}

/** A matcher as a promise: a RegExp tests the name; a function answers through `next(error, allow)`. */
function matcherOf(matcher: NamespaceMatcher): (name: string, auth: Readonly<Record<string, unknown>>) => Promise<boolean> {
  if (matcher instanceof RegExp) {
    return (name) => {
      matcher.lastIndex = 0; // a /g or /y RegExp keeps its position between tests
      return Promise.resolve(matcher.test(name));
    };
  }
  if (typeof matcher !== 'function') throw new EventwireError('invalid_payload', 'A dynamic namespace is a RegExp or a function (name, auth, next)');
  return (name, auth) =>
    new Promise<boolean>((resolve, reject) => {
      matcher(name, auth, (error, allow) => (error ? reject(error) : resolve(allow === true)));
    });
}
