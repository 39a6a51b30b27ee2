// `await broadcast(new OrderShipped(order)).toOthers(socketId)` from any
// Node service, through the driver the broadcaster was made with.
import type { EventMap, UntypedEvents } from '../events.js';
import { resolveBroadcast, type BroadcastCheck, type Broadcastable } from './broadcastable.js';
import type { BroadcastDriver } from './drivers.js';

/**
 * A broadcast about to be sent: await it (or call `toOthers` first). It is
 * sent once, on the first `then`.
 */
export interface PendingBroadcast extends PromiseLike<void> {
  /** Leave out one connection: the browser whose action this is (its `socket_id`). */
  toOthers(socketId: string | undefined): PendingBroadcast;
}

/**
 * `broadcast(event)`: see {@link createBroadcaster}. With a typed driver,
 * an event naming a topic of the map must send data that fits its schema.
 */
export type Broadcast<TEvents extends EventMap = UntypedEvents> = <TEvent extends Broadcastable>(
  event: TEvent & BroadcastCheck<TEvents, TEvent>,
) => PendingBroadcast;

/**
 * A `broadcast` function bound to a driver.
 *
 * @example
 * const broadcast = createBroadcaster(channelDriver(channel));
 * await broadcast(new OrderShipped(order)).toOthers(request.headers['x-socket-id']);
 */
export function createBroadcaster<TEvents extends EventMap = UntypedEvents>(driver: BroadcastDriver<TEvents>): Broadcast<TEvents> {
  return (event: Broadcastable) => {
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
