import type { EventEnvelope } from '../envelope.js';
import type { EventwireError } from '../errors.js';
import type { HistoryGap } from '../gap.js';
import type { ChannelStatus } from '../status.js';

/** Per-publish options. */
export interface PublishOptions {
  /**
   * Wait for the peer to acknowledge (or refuse) the event, where the
   * transport has a peer that can. Without it, `publish` resolves once the
   * event is handed to the connection. Either way a transport with a
   * connection settles it within its bound from the `publish` call (a
   * `timeout` past it: see `PendingEmit` and PROTOCOL.md §3).
   * @default false
   */
  readonly ack?: boolean;
  /** Deliver to every subscriber but this connection (its own handlers included). @default false */
  readonly toOthers?: boolean;
  /** Deliver to every subscriber but the connection with this id. */
  readonly except?: string;
}

/**
 * What a transport reports back to its channel. The channel implements it; a
 * transport never calls user code directly.
 */
export interface TransportSink {
  /**
   * An event arrived for this transport's subscriptions. Called once per event
   * even when several subscribed patterns match it, in arrival order.
   * Hand over what the wire carried, decoded but unchecked: the channel parses
   * the envelope (`parseEnvelope`) and validates its data, in one place for
   * every transport; a malformed one is reported as `invalid_envelope`.
   */
  deliver(envelope: unknown): void;
  /** The connection changed state (`connecting`, `open`, `reconnecting`, `closed`). */
  status(status: ChannelStatus): void;
  /** A failure not tied to a call the channel made (a bad inbound frame, say). */
  error(error: EventwireError): void;
  /** A subscription may have missed events that could not be recovered (after a reconnect, say). */
  gap(gap: HistoryGap): void;
  /**
   * Who is on a presence channel this connection subscribed to, in full:
   * after the subscribe (and again after every resubscribe, which replaces
   * the list). Members are unchecked, like `deliver`'s envelopes.
   */
  presence(channel: string, members: readonly PresenceWireMember[]): void;
  /** One member came to (`added`) or left (`removed`) a presence channel this connection is on. */
  member(channel: string, change: 'added' | 'removed', member: PresenceWireMember): void;
}

/** A presence member as the wire carries it: the user id and what its presence rule returned. */
export interface PresenceWireMember {
  readonly id: string;
  readonly info: unknown;
}

/** What a transport that can read history is asked for (see `Transport.readHistory`). */
export interface HistoryQuery {
  /** After this offset, or `'earliest'`. */
  readonly since?: string;
  /** Instead of `since`: the newest n. */
  readonly last?: number;
  /** Page size. */
  readonly limit?: number;
}

/** One page of history, oldest first; envelopes unchecked, like `sink.deliver`'s. */
export interface HistoryPage {
  readonly events: readonly unknown[];
  /** More follow the last one: ask again with its offset. */
  readonly more: boolean;
  readonly gap?: HistoryGap['reason'];
}

/**
 * Moves envelopes between a channel and everyone else. Small on purpose: a new
 * transport (ws://, nats://, a custom one) implements these five members and
 * gets the whole typed channel on top.
 *
 * The channel guarantees: `connect` is called once, before anything else;
 * `subscribe`/`unsubscribe` are called once per distinct pattern (it reference-
 * counts its handlers); nothing is called after `close`.
 */
export interface Transport {
  /** A short name for logs and errors (`'memory'`, `'ws'`…). */
  readonly kind: string;
  /**
   * Starts the connection and reports progress through `sink.status`. Must not
   * throw; failures are statuses or `sink.error`.
   */
  connect(sink: TransportSink): void;
  /**
   * Sends one validated envelope. Resolves when the transport accepted it (or
   * the peer acknowledged it, where the transport supports that); rejects with
   * an `EventwireError`.
   */
  publish(envelope: EventEnvelope, options?: PublishOptions): Promise<void>;
  /**
   * The peer keeps member lists of presence channels (`presence-…`) and
   * reports them through `sink.presence` / `sink.member`. Without it,
   * `channel.presence()` is refused.
   */
  readonly tracksPresence?: boolean;
  /** The broker's id for the current connection, where there is one (what HTTP `socket_id` names). */
  readonly connectionId?: string | undefined;
  /** Starts delivery for a valid pattern; resolves once it is live. */
  subscribe(pattern: string): Promise<void>;
  /**
   * Stops delivery for a pattern previously subscribed. Resolves once no more
   * events will be delivered for it; events already on their way when it was
   * called are delivered first (the channel's graceful close relies on this).
   */
  unsubscribe(pattern: string): Promise<void>;
  /**
   * Delivers what was already in flight to this transport, releases every
   * resource and reports `closed`. Idempotent.
   */
  close(): Promise<void>;
  /**
   * Reads stored events for `pattern` (transports whose peer keeps history).
   * Without it, `on(pattern, handler, { since })` reports a `no_history` gap.
   */
  readHistory?(pattern: string, query: HistoryQuery): Promise<HistoryPage>;
}
