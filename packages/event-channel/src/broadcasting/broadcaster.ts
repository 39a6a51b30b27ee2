// `await broadcast(new OrderShipped(order)).toOthers(socketId)` from any
// Node service, through the driver the broadcaster was made with.
import { resolveBroadcast, type Broadcastable } from './broadcastable.js';
import type { BroadcastDriver } from './drivers.js';

/**
 * A broadcast about to be sent: await it (or call `toOthers` first). It is
 * sent once, on the first `then`.
 */
export interface PendingBroadcast extends PromiseLike<void> {
  /** Leave out one connection: the browser whose action this is (its `socket_id`). */
  toOthers(socketId: string | undefined): PendingBroadcast;
}

/** `broadcast(event)`: see {@link createBroadcaster}. */
export type Broadcast = <TChannel extends string, TData>(event: Broadcastable<TChannel, TData>) => PendingBroadcast;

/**
 * A `broadcast` function bound to a driver.
 *
 * @example
 * const broadcast = createBroadcaster(channelDriver(channel));
 * await broadcast(new OrderShipped(order)).toOthers(request.headers['x-socket-id']);
 */
export function createBroadcaster(driver: BroadcastDriver): Broadcast {
  return (event) => {
    let except: string | undefined;
    let sent: Promise<void> | undefined;
    const send = (): Promise<void> => {
      sent ??= Promise.resolve().then(() => {
        const message = resolveBroadcast(event, except);
        return message ? driver.send(message) : undefined;
      });
      return sent;
    };
    const pending: PendingBroadcast = {
      toOthers(socketId) {
        if (socketId !== undefined && socketId !== '') except = socketId;
        return pending;
      },
      then(onFulfilled, onRejected) {
        return send().then(onFulfilled, onRejected);
      },
    };
    return pending;
  };
}
