// Where broadcasts go: the eventwire broker (through an EventChannel, or its
// HTTP API from a service without a socket), Redis or Kafka (every broker of a
// redis:// or kafka:// cluster), a log, or nowhere (tests).
import { EventChannel } from '../channel.js';
import { EventwireError, UnknownEventError, ValidationError, errorFromWire, isErrorCode, type ErrorCode } from '../errors.js';
import { createSchemaLookup, runSchema, type EventMap, type UntypedEvents } from '../events.js';
import { parseWireError } from '../protocol/frames.js';
import type { KafkaTransportOptions } from '../transport/kafka-transport.js';
import type { BroadcastMessage } from './broadcastable.js';

/** Sends resolved broadcasts; `TEvents` types the broadcasts of a broadcaster made with it. */
export interface BroadcastDriver<TEvents extends EventMap = UntypedEvents> {
  send(message: BroadcastMessage): Promise<void>;
  /** The event map broadcasts are checked against (types only). */
  readonly '~events'?: TEvents;
}

/**
 * Through an `EventChannel` (any transport): one acknowledged emit per
 * channel, the name in the envelope's `event` metadata. A typed channel
 * validates the data against each channel's schema, as any emit.
 */
export function channelDriver<TEvents extends EventMap>(channel: EventChannel<TEvents>): BroadcastDriver<TEvents> {
  // The broadcast names its topics at runtime; the channel's own validation is the check.
  const emit = channel.emit.bind(channel) as (topic: string, data: unknown, options: object) => Promise<unknown>;
  return {
    async send({ channels, event, data, except }) {
      await Promise.all(channels.map((topic) => emit(topic, data, { ack: true, metadata: { event }, ...(except !== undefined && { except }) })));
    },
  };
}

/** Options of {@link httpDriver}. */
export interface HttpDriverOptions<TEvents extends EventMap = UntypedEvents> {
  /** The broker's HTTP address, `http://host:15500`. */
  readonly url: string;
  /** Credentials (an API key or a JWT), sent as `Authorization: Bearer`. */
  readonly token?: string | (() => string | Promise<string>);
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /**
   * The event map: broadcasts are typed by it, and their data validated
   * before anything is sent (`unknown_event`, `invalid_payload`), as a typed
   * channel's emit would.
   */
  readonly events?: TEvents;
}

/**
 * Through the broker's HTTP API (`POST /pubsub/{channel}/publish`), for a
 * service that holds no socket: the name in `metadata.event`, `socket_id`
 * for `toOthers`. A refusal rejects with the broker's typed error.
 */
export function httpDriver<TEvents extends EventMap = UntypedEvents>(options: HttpDriverOptions<TEvents>): BroadcastDriver<TEvents> {
  const base = options.url.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const check = createBroadcastCheck(options.events);
  return {
    async send({ channels, event, data, except }) {
      await check(channels, data);
      const token = typeof options.token === 'function' ? await options.token() : options.token;
      const body = JSON.stringify({ payload: data, metadata: { event }, ...(except !== undefined && { socket_id: except }) });
      await Promise.all(
        channels.map(async (channel) => {
          const response = await fetchImpl(`${base}/pubsub/${encodeURIComponent(channel)}/publish`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
            body,
          });
          if (response.ok) return;
          throw await refusalOf(response, `The broker answered HTTP ${response.status} to a broadcast on "${channel}"`, 'internal');
        }),
      );
    },
  };
}

/**
 * What every driver with an `events` option checks before sending: each
 * channel is declared (`unknown_event`) and the data fits its schema
 * (`invalid_payload`), as a typed channel's emit would. Without a map, nothing.
 */
export function createBroadcastCheck(events: EventMap | undefined): (channels: readonly string[], data: unknown) => Promise<void> {
  const lookup = events && createSchemaLookup(events);
  return async (channels, data) => {
    if (!lookup) return;
    for (const channel of channels) {
      const schema = lookup(channel);
      if (!schema) throw new UnknownEventError(channel, 'outbound');
      const outcome = await runSchema(schema, data);
      if (!outcome.ok) throw new ValidationError(channel, 'outbound', outcome.issues);
    }
  };
}

/** HTTP statuses a server without eventwire's error body answers, as codes (Pusher's REST API documents 400, 401, 403, 413). */
const STATUS_CODES: ReadonlyMap<number, ErrorCode> = new Map([
  [400, 'invalid_payload'],
  [401, 'unauthorized'],
  [403, 'forbidden'],
  [404, 'not_found'],
  [413, 'payload_too_large'],
  [429, 'rate_limited'],
]);

/**
 * The typed error for a non-2xx answer: the eventwire broker's own
 * `{"error": {code, message}}` when the body is one, else the status mapped
 * (5xx → `unavailable`: worth a retry later), else `fallback`.
 */
export async function refusalOf(response: Response, message: string, fallback: ErrorCode): Promise<EventwireError> {
  const text = await response.text().catch(() => '');
  let error: unknown;
  try {
    error = (JSON.parse(text) as { error?: unknown } | null)?.error;
  } catch {
    // Not JSON (Pusher answers plain text): the status decides.
  }
  if (typeof error === 'object' && error !== null && isErrorCode((error as Record<string, unknown>)['code'])) {
    try {
      return errorFromWire(parseWireError(error as Record<string, unknown>));
    } catch {
      // Not the broker's error shape after all.
    }
  }
  const code = STATUS_CODES.get(response.status) ?? (response.status >= 500 ? 'unavailable' : fallback);
  const detail = text.trim().slice(0, 200);
  return new EventwireError(code, detail === '' ? message : `${message}: ${detail}`);
}

/** Options of {@link redisDriver}. */
export interface RedisDriverOptions<TEvents extends EventMap = UntypedEvents> {
  /** The Redis the brokers share (`event-broker --cluster redis://…`): `redis://[:password@]host:6379`. */
  readonly url: string;
  /** The brokers' channel-name prefix (their `cluster.redis.prefix`), if any. */
  readonly prefix?: string;
  /** The event map: broadcasts are typed by it and their data validated before anything is sent. */
  readonly events?: TEvents;
}

/**
 * Into Redis, for a service next to a broker cluster on Redis: every broker
 * delivers the broadcast to its own clients (interest-based: those with a
 * subscriber get it), as Laravel's Redis broadcaster feeds an Echo server.
 * One Redis connection pair per driver; `close()` when done. The events
 * enter no broker, so broker hooks do not run on them (as for any event
 * published straight into the cluster's server).
 */
export function redisDriver<TEvents extends EventMap = UntypedEvents>(options: RedisDriverOptions<TEvents>): BroadcastDriver<TEvents> & { close(): Promise<void> } {
  const channel = new EventChannel({
    url: options.url,
    source: 'urn:eventwire:broadcasting:redis',
    ...(options.events && { events: options.events }),
    ...(options.prefix !== undefined && { redis: { prefix: options.prefix } }),
  }) as EventChannel<TEvents>;
  return { ...channelDriver(channel), close: () => channel.close() };
}

/** Options of {@link kafkaDriver}. */
export interface KafkaDriverOptions<TEvents extends EventMap = UntypedEvents> {
  /** The Kafka the brokers share (`event-broker --cluster kafka://…`): `kafka://host:9092[,host:9092]`. */
  readonly url: string;
  /**
   * The channel's `kafka://` options, as the brokers' `cluster.kafka`: the
   * same `prefix` (the brokers read only the Kafka topics under theirs) and
   * the same `partitions`/`ensureTopic`, so topics are made the same way.
   */
  readonly kafka?: Omit<KafkaTransportOptions, 'url'>;
  /** The event map: broadcasts are typed by it and their data validated before anything is sent. */
  readonly events?: TEvents;
}

/**
 * Into Kafka, for a service next to a broker cluster on Kafka: one record per
 * channel, acknowledged by Kafka (acks from every in-sync replica) before the
 * broadcast resolves; every broker reading that Kafka topic delivers it to its
 * own clients, and any other kafka:// channel or plain Kafka consumer reads it
 * too. kafkajs is loaded on the first broadcast; `close()` when done. As with
 * {@link redisDriver}, the events enter no broker, so broker hooks do not run.
 */
export function kafkaDriver<TEvents extends EventMap = UntypedEvents>(options: KafkaDriverOptions<TEvents>): BroadcastDriver<TEvents> & { close(): Promise<void> } {
  const channel = new EventChannel({
    url: options.url,
    source: 'urn:eventwire:broadcasting:kafka',
    ...(options.events && { events: options.events }),
    ...(options.kafka && { kafka: options.kafka }),
  }) as EventChannel<TEvents>;
  return { ...channelDriver(channel), close: () => channel.close() };
}

/** Writes what would be sent, one line per broadcast (development). */
export function logDriver(write: (line: string) => void = (line) => console.log(line)): BroadcastDriver {
  return {
    async send({ channels, event, data, except }) {
      write(`broadcast ${event} on ${channels.join(', ')}${except !== undefined ? ` (to others than ${except})` : ''}: ${JSON.stringify(data)}`);
    },
  };
}

/** Sends nothing (tests of code that broadcasts). */
export function nullDriver(): BroadcastDriver {
  return { send: async () => {} };
}
