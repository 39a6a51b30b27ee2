import type { DisconnectReason } from './disconnect-reason.js';
import type { EventwireError } from './errors.js';

/**
 * Where a channel (or its transport) is in its life. A discriminated union on
 * `state`, so `match(status).with({ state: 'reconnecting' }, …).exhaustive()`
 * catches a new state at compile time.
 *
 * A channel that cannot reach its broker says why on every `reconnecting`
 * (and on a `closed` its transport gave up on): `error` is the typed failure,
 * its `cause` the original (Node's socket error, the NATS client's), and
 * `reason` one stable word for it (`refused`, `dns`, `tls`, `unauthorized`…).
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
      /** Why, as one stable word; set by the channel whenever `error` is. */
      readonly reason?: DisconnectReason;
    }
  | {
      readonly state: 'closed';
      /** Only when the transport gave up (refused credentials, an unsupported protocol); absent after `close()`. */
      readonly error?: EventwireError;
      /** Why, as one stable word; set by the channel whenever `error` is. */
      readonly reason?: DisconnectReason;
    };

/** The names of the states, for waiting on one. */
export type ChannelState = ChannelStatus['state'];
