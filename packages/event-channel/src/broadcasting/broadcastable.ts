// A broadcastable event, as Laravel and the FastAPI layers that copy it
// declare one: where it goes, under what name, with what data, and whether.
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { EventKey, EventMap } from '../events.js';

/**
 * An event a service broadcasts: a class instance or a plain object.
 *
 * @example
 * class OrderShipped implements Broadcastable {
 *   constructor(readonly order: Order) {}
 *   broadcastOn() { return [`private-user.${this.order.userId}`, 'orders'] }
 *   broadcastWith() { return { id: this.order.id, carrier: this.order.carrier } } // hides the rest
 *   broadcastWhen() { return this.order.status === 'shipped' }
 * }
 */
export interface Broadcastable<TChannel extends string = string, TData = unknown> {
  /** The channel (topic) or channels it is sent to. */
  broadcastOn(): TChannel | readonly TChannel[];
  /** Its name for the clients (`event` on the broadcasting surface). @default the class name, else the first channel */
  broadcastAs?(): string;
  /** The data sent: hide fields here. @default the object's own enumerable fields */
  broadcastWith?(): TData;
  /** Whether to send it at all. @default true */
  broadcastWhen?(): boolean;
}

/** The channels a broadcastable names, as its `broadcastOn()` type says (`string` unless literal or `as const`). */
export type BroadcastChannels<TEvent extends Broadcastable> =
  ReturnType<TEvent['broadcastOn']> extends infer TOn ? (TOn extends readonly (infer TItem)[] ? TItem : TOn) & string : never;

/** The data a broadcastable sends: `broadcastWith()`'s type, else its own fields that are not functions. */
export type BroadcastData<TEvent extends Broadcastable> = 'broadcastWith' extends keyof TEvent
  ? ReturnType<NonNullable<TEvent['broadcastWith']>>
  : { [TKey in keyof TEvent as TEvent[TKey] extends (...args: never[]) => unknown ? never : TKey]: TEvent[TKey] };

/** The channels of `TEvent` that the event map declares and whose schema its data does not fit. */
export type MismatchedChannels<TEvents extends EventMap, TEvent extends Broadcastable> =
  BroadcastChannels<TEvent> extends infer TChannel extends string
    ? TChannel extends unknown
      ? [EventKey<TEvents, TChannel>] extends [never]
        ? never // not in the map: checked at run time (a typed channel refuses unknown topics)
        : [BroadcastData<TEvent>] extends [StandardSchemaV1.InferInput<TEvents[EventKey<TEvents, TChannel>]>]
          ? never
          : TChannel
      : never
    : never;

/**
 * Makes a broadcast whose data does not fit the event map's schema for one
 * of its channels a compile error naming the channel. Channels the map does
 * not declare, or known only at run time (`string`), are left to run time.
 */
export type BroadcastCheck<TEvents extends EventMap, TEvent extends Broadcastable> = [MismatchedChannels<TEvents, TEvent>] extends [never]
  ? unknown
  : { readonly 'the broadcast data does not fit the event map on': MismatchedChannels<TEvents, TEvent> };

/** What a driver is asked to send: the resolved event. */
export interface BroadcastMessage {
  readonly channels: readonly string[];
  /** The event name (`broadcastAs`). */
  readonly event: string;
  readonly data: unknown;
  /** A connection id the broadcast leaves out (`toOthers(socketId)`). */
  readonly except?: string;
}

/**
 * Resolves a broadcastable into what is sent, or undefined when
 * `broadcastWhen` says no. Channels are deduplicated; none is an error.
 */
export function resolveBroadcast(event: Broadcastable, except: string | undefined): BroadcastMessage | undefined {
  if (event.broadcastWhen && event.broadcastWhen() !== true) return undefined;
  const on = event.broadcastOn();
  const channels = [...new Set(typeof on === 'string' ? [on] : on)];
  if (channels.length === 0) throw new TypeError('broadcastOn() named no channel');
  const named = event.broadcastAs?.() ?? className(event) ?? channels[0]!;
  const data = event.broadcastWith ? event.broadcastWith() : ownFields(event);
  return { channels, event: named, data, ...(except !== undefined && { except }) };
}

/** A class instance's class name; undefined for plain objects. */
function className(event: object): string | undefined {
  const name = (Object.getPrototypeOf(event) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : undefined;
}

/** Laravel sends an event's public properties: here, its own enumerable fields that are not functions. */
function ownFields(event: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(event).filter(([, value]) => typeof value !== 'function'));
}
