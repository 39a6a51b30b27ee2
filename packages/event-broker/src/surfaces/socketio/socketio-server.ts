// `broker.socketio`: the namespaces `setup` declares (`of`), and the root
// namespace's middleware, connection listeners and broadcasts on the server
// itself, as on socket.io's Server.
import { EventwireError } from '@eventwire/event-channel';
import type { SurfaceHost } from '../surface-host.js';
import { SocketIoParentNamespace } from './parent-namespace.js';
import type { BroadcastOperator, Middleware, NamespaceMatcher, NamespaceName, RemoteSocket, Socket, SocketIoServer } from './server-api.js';
import { SocketIoNamespace } from './socketio-namespace.js';

export class SocketIoServerImpl implements SocketIoServer {
  readonly #host: SurfaceHost;
  readonly #namespaces = new Map<string, SocketIoNamespace>();
  /** Dynamic namespaces (`of(regex | function)`), asked in order for a name nothing declared. */
  readonly #parents: SocketIoParentNamespace[] = [];
  /** Namespaces clients may reach without `of` (the `namespaces` option). */
  readonly #open: ReadonlySet<string>;

  constructor(host: SurfaceHost, open: readonly string[]) {
    this.#host = host;
    this.#open = new Set(open);
    this.of('/');
  }

  of(name: NamespaceName): SocketIoNamespace;
  of(matcher: NamespaceMatcher): SocketIoParentNamespace;
  of(name: NamespaceName | NamespaceMatcher): SocketIoNamespace | SocketIoParentNamespace {
    if (typeof name !== 'string') {
      const parent = new SocketIoParentNamespace(name, (line) => this.#host.log(line));
      this.#parents.push(parent);
      return parent;
    }
    if (typeof name !== 'string' || !name.startsWith('/') || name.includes(',')) {
      throw new EventwireError('invalid_payload', `A namespace is "/" or "/name" without ",": ${JSON.stringify(String(name).slice(0, 100))}`);
    }
    let namespace = this.#namespaces.get(name);
    if (!namespace) {
      namespace = new SocketIoNamespace(name, this.#host);
      this.#namespaces.set(name, namespace);
    }
    return namespace;
  }

  /**
   * The namespace a client's CONNECT names, if it may reach it: declared by
   * `of`, open by configuration, or matched by a dynamic namespace (its
   * child, created on the first match). The namespace is claimed for the
   * CONNECT: the caller calls its `settled()` once the CONNECT is answered.
   */
  async namespace(name: string, auth: Readonly<Record<string, unknown>>): Promise<SocketIoNamespace | undefined> {
    const known = this.#namespaces.get(name) ?? (this.#open.has(name) ? this.of(name as NamespaceName) : undefined);
    if (known) {
      known.claim();
      return known;
    }
    if (this.#parents.length === 0 || !name.startsWith('/') || name.includes(',')) return undefined;
    for (const parent of this.#parents) {
      if (!(await parent.matches(name, auth))) continue;
      // Another CONNECT may have made it while the matcher ran.
      let child = this.#namespaces.get(name);
      if (!child) {
        child = new SocketIoNamespace(name as NamespaceName, this.#host, parent, (idle) => {
          if (this.#namespaces.get(idle.name) === idle) this.#namespaces.delete(idle.name);
          parent.children.delete(idle);
        });
        this.#namespaces.set(name, child);
        parent.children.add(child);
      }
      child.claim();
      return child;
    }
    return undefined;
  }

  /** Whether a client or an emitter may reach namespace `name` now: declared by `of`, or open by configuration (nothing is declared by asking). */
  accepts(name: string): boolean {
    return this.#namespaces.has(name) || this.#open.has(name);
  }

  /** Every namespace declared so far. */
  get namespaces(): Iterable<SocketIoNamespace> {
    return this.#namespaces.values();
  }

  #root(): SocketIoNamespace {
    return this.of('/');
  }

  use(middleware: Middleware): this {
    this.#root().use(middleware);
    return this;
  }

  on(event: 'connection', listener: (socket: Socket) => void): this {
    this.#root().on(event, listener);
    return this;
  }

  to(room: string | readonly string[]): BroadcastOperator {
    return this.#root().to(room);
  }

  in(room: string | readonly string[]): BroadcastOperator {
    return this.#root().in(room);
  }

  except(room: string | readonly string[]): BroadcastOperator {
    return this.#root().except(room);
  }

  get volatile(): BroadcastOperator {
    return this.#root().volatile;
  }

  timeout(ms: number): BroadcastOperator {
    return this.#root().timeout(ms);
  }

  compress(compress: boolean): BroadcastOperator {
    return this.#root().compress(compress);
  }

  emit(event: string, ...args: readonly unknown[]): true {
    return this.#root().emit(event, ...args);
  }

  emitWithAck(event: string, ...args: readonly unknown[]): Promise<unknown[]> {
    return this.#root().emitWithAck(event, ...args);
  }

  fetchSockets(): Promise<RemoteSocket[]> {
    return this.#root().fetchSockets();
  }

  socketsJoin(room: string | readonly string[]): void {
    this.#root().socketsJoin(room);
  }

  socketsLeave(room: string | readonly string[]): void {
    this.#root().socketsLeave(room);
  }

  disconnectSockets(close?: boolean): void {
    this.#root().disconnectSockets(close);
  }
}


