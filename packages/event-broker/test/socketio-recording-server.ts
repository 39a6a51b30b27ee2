// A SocketIoServer (server-api.ts) that records what it is asked, for the
// Redis bridge's tests: namespace, rooms, except, volatile, event, args. It
// declares a namespace on `of` as the contract says, and refuses one event
// name as a hook would.
import { EventwireError } from '@eventwire/event-channel';
import type { BroadcastOperator, Middleware, Namespace, NamespaceMatcher, NamespaceName, ParentNamespace, RemoteSocket, SocketIoServer, Socket } from '../src/surfaces/socketio/server-api.js';

/** One call the bridge made on the server. */
export interface Call {
  readonly op: 'emit' | 'socketsJoin' | 'socketsLeave' | 'disconnectSockets';
  readonly nsp: string;
  readonly rooms: readonly string[];
  readonly except: readonly string[];
  readonly volatile: boolean;
  readonly event?: string;
  readonly args?: readonly unknown[];
  readonly join?: readonly string[];
  readonly leave?: readonly string[];
  readonly close?: boolean;
}

/** An event the recording server refuses as a hook would, to see the bridge count a server's refusal by its code. */
export const REFUSED_EVENT = 'refused-by-a-hook';

class RecordingOperator implements BroadcastOperator {
  constructor(
    protected readonly calls: Call[],
    protected readonly nspName: string,
    private readonly rooms: readonly string[] = [],
    private readonly exceptRooms: readonly string[] = [],
    private readonly isVolatile = false,
  ) {}
  to(room: string | readonly string[]): BroadcastOperator {
    return new RecordingOperator(this.calls, this.nspName, [...this.rooms, ...[room].flat()], this.exceptRooms, this.isVolatile);
  }
  in(room: string | readonly string[]): BroadcastOperator {
    return this.to(room);
  }
  except(room: string | readonly string[]): BroadcastOperator {
    return new RecordingOperator(this.calls, this.nspName, this.rooms, [...this.exceptRooms, ...[room].flat()], this.isVolatile);
  }
  get volatile(): BroadcastOperator {
    return new RecordingOperator(this.calls, this.nspName, this.rooms, this.exceptRooms, true);
  }
  // The bridge never asks for acks or sockets: these are here for the contract.
  timeout(_ms: number): BroadcastOperator {
    return this;
  }
  compress(_compress: boolean): BroadcastOperator {
    return this;
  }
  emitWithAck(): Promise<unknown[]> {
    return Promise.reject(new EventwireError('invalid_payload', 'The recording server takes no acks'));
  }
  fetchSockets(): Promise<RemoteSocket[]> {
    return Promise.resolve([]);
  }
  emit(event: string, ...args: readonly unknown[]): true {
    if (event === REFUSED_EVENT) throw new EventwireError('forbidden', 'A hook refused it');
    this.calls.push({ ...this.#selection(), op: 'emit', event, args });
    return true;
  }
  socketsJoin(room: string | readonly string[]): void {
    this.calls.push({ ...this.#selection(), op: 'socketsJoin', join: [room].flat() });
  }
  socketsLeave(room: string | readonly string[]): void {
    this.calls.push({ ...this.#selection(), op: 'socketsLeave', leave: [room].flat() });
  }
  disconnectSockets(close = false): void {
    this.calls.push({ ...this.#selection(), op: 'disconnectSockets', close });
  }
  #selection() {
    return { nsp: this.nspName, rooms: this.rooms, except: this.exceptRooms, volatile: this.isVolatile };
  }
}

class RecordingNamespace extends RecordingOperator implements Namespace {
  readonly name: NamespaceName;
  constructor(calls: Call[], name: NamespaceName) {
    super(calls, name);
    this.name = name;
  }
  use(_middleware: Middleware): this {
    return this;
  }
  on(_event: 'connection', _listener: (socket: Socket) => void): this {
    return this;
  }
}

export class RecordingServer extends RecordingOperator implements SocketIoServer {
  readonly declared: string[] = [];
  constructor(readonly recorded: Call[]) {
    super(recorded, '/');
  }
  of(name: NamespaceName): Namespace;
  of(matcher: NamespaceMatcher): ParentNamespace;
  of(name: NamespaceName | NamespaceMatcher): Namespace | ParentNamespace {
    if (typeof name !== 'string') throw new EventwireError('invalid_payload', 'The bridge names namespaces; it never makes dynamic ones');
    this.declared.push(name);
    return new RecordingNamespace(this.recorded, name);
  }
  use(_middleware: Middleware): this {
    return this;
  }
  on(_event: 'connection', _listener: (socket: Socket) => void): this {
    return this;
  }
}

