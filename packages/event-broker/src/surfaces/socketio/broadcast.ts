// Socket.IO's broadcast operators (`to`/`in`/`except`/`volatile`, then
// `emit`) over eventwire's publish: immutable, each call a new operator, as
// socket.io's BroadcastOperator is. What they select is a `BroadcastTarget`;
// the namespace publishes it (one event per target room topic) and finds the
// sockets of this broker it matches (`socketsJoin`, `disconnectSockets`).
import { EventwireError } from '@eventwire/event-channel';
import { ackTimeout } from './acks.js';
import type { BroadcastAck, BroadcastOperator, RemoteSocket } from './server-api.js';

/** Who an emit reaches: rooms (none: the whole namespace), rooms left out, whether it skips history, and the ack deadline (`timeout`). */
export interface BroadcastTarget {
  readonly rooms: readonly string[];
  readonly except: readonly string[];
  readonly volatile: boolean;
  readonly timeout?: number;
}

/** What a namespace does for its operators. */
export interface BroadcastHost {
  publish(target: BroadcastTarget, event: string, args: readonly unknown[]): void;
  /** Sends to each matched socket of this broker with an ack request; `ack` settles within `timeout`. */
  emitWithAck(target: BroadcastTarget, timeout: number, event: string, args: readonly unknown[], ack: BroadcastAck): void;
  fetchSockets(target: BroadcastTarget): RemoteSocket[];
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

  timeout(ms: number): BroadcastOperator {
    return new Broadcast(this.#host, { ...this.#target, timeout: ackTimeout(ms) });
  }

  compress(_compress: boolean): BroadcastOperator {
    return this;
  }

  emit(event: string, ...args: readonly unknown[]): true {
    const ack = args.at(-1);
    if (typeof ack !== 'function') {
      this.#host.publish(this.#target, event, args);
      return true;
    }
    const { timeout } = this.#target;
    if (timeout === undefined) throw new EventwireError('invalid_payload', 'A broadcast ack needs a deadline: timeout(ms).emit(event, ...args, ack)');
    this.#host.emitWithAck(this.#target, timeout, event, args.slice(0, -1), ack as BroadcastAck);
    return true;
  }

  emitWithAck(event: string, ...args: readonly unknown[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      this.emit(event, ...args, ((error, responses) => (error ? reject(error) : resolve(responses))) satisfies BroadcastAck);
    });
  }

  fetchSockets(): Promise<RemoteSocket[]> {
    return Promise.resolve(this.#host.fetchSockets(this.#target));
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
