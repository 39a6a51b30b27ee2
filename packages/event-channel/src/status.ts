import type { EventwireError } from './errors.js';

/**
 * Where a channel (or its transport) is in its life. A discriminated union on
 * `state`, so `match(status).with({ state: 'reconnecting' }, …).exhaustive()`
 * catches a new state at compile time.
 */
export type ChannelStatus =
  | { readonly state: 'connecting' }
  | { readonly state: 'open' }
  | {
      readonly state: 'reconnecting';
      /** 1 for the first retry after a loss. */
      readonly attempt: number;
      /** How long the transport waits before this attempt. */
      readonly delayMs: number;
      readonly error?: EventwireError;
    }
  | { readonly state: 'closed'; readonly error?: EventwireError };

/** The names of the states, for waiting on one. */
export type ChannelState = ChannelStatus['state'];
