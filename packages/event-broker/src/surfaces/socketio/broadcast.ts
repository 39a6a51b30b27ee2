// Socket.IO's broadcast operators (`to`/`in`/`except`/`volatile`, then
// `emit`) over eventwire's publish: immutable, each call a new operator, as
// socket.io's BroadcastOperator is. What they select is a `BroadcastTarget`;
// the namespace publishes it (one event per target room topic) and finds the
// sockets of this broker it matches (`socketsJoin`, `disconnectSockets`).
import type { BroadcastOperator } from './server-api.js';

/** Who an emit reaches: rooms (none: the whole namespace), rooms left out, and whether it skips history. */
export interface BroadcastTarget {
  readonly rooms: readonly string[];
  readonly except: readonly string[];
  readonly volatile: boolean;
}

/** What a namespace does for its operators. */
export interface BroadcastHost {
  publish(target: BroadcastTarget, event: string, args: readonly unknown[]): void;
  socketsJoin(target: BroadcastTarget, rooms: readonly string[]): void;
  socketsLeave(target: BroadcastTarget, rooms: readonly string[]): void;
  disconnectSockets(target: BroadcastTarget, close: boolean): void;
}

export const everyone: BroadcastTarget = { rooms: [], except: [], volatile: false };

/** One room or several, as the operators take them. */
export function roomList(room: string | readonly string[]): readonly string[] {
  return typeof room === 'string' ? [room] : room;
}

export class Broadcast implements BroadcastOperator {
  readonly #host: BroadcastHost;
  readonly #target: BroadcastTarget;

  constructor(host: BroadcastHost, target: BroadcastTarget = everyone) {
    this.#host = host;
    this.#target = target;
  }

  to(room: string | readonly string[]): BroadcastOperator {
    return new Broadcast(this.#host, { ...this.#target, rooms: [...this.#target.rooms, ...roomList(room)] });
  }

  in(room: string | readonly string[]): BroadcastOperator {
    return this.to(room);
  }

  except(room: string | readonly string[]): BroadcastOperator {
    return new Broadcast(this.#host, { ...this.#target, except: [...this.#target.except, ...roomList(room)] });
  }

  get volatile(): BroadcastOperator {
    return new Broadcast(this.#host, { ...this.#target, volatile: true });
  }

  emit(event: string, ...args: readonly unknown[]): true {
    this.#host.publish(this.#target, event, args);
    return true;
  }

  socketsJoin(room: string | readonly string[]): void {
    this.#host.socketsJoin(this.#target, roomList(room));
  }

  socketsLeave(room: string | readonly string[]): void {
    this.#host.socketsLeave(this.#target, roomList(room));
  }

  disconnectSockets(close = false): void {
    this.#host.disconnectSockets(this.#target, close);
  }
}
