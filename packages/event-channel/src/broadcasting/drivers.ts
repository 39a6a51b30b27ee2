// Where broadcasts go: the eventwire broker (through an EventChannel, or its
// HTTP API from a service without a socket), a log, or nowhere (tests).
import type { EventChannel } from '../channel.js';
import { EventwireError, errorFromWire } from '../errors.js';
import type { EventMap } from '../events.js';
import { parseWireError } from '../protocol/frames.js';
import type { BroadcastMessage } from './broadcastable.js';

/** Sends resolved broadcasts. */
export interface BroadcastDriver {
  send(message: BroadcastMessage): Promise<void>;
}

/**
 * Through an `EventChannel` (any transport): one acknowledged emit per
 * channel, the name in the envelope's `event` metadata. A typed channel
 * validates the data against each channel's schema, as any emit.
 */
export function channelDriver<TEvents extends EventMap>(channel: EventChannel<TEvents>): BroadcastDriver {
  // The broadcast names its topics at runtime; the channel's own validation is the check.
  const emit = channel.emit.bind(channel) as (topic: string, data: unknown, options: object) => Promise<unknown>;
  return {
    async send({ channels, event, data, except }) {
      await Promise.all(channels.map((topic) => emit(topic, data, { ack: true, metadata: { event }, ...(except !== undefined && { except }) })));
    },
  };
}

/** Options of {@link httpDriver}. */
export interface HttpDriverOptions {
  /** The broker's HTTP address, `http://host:15500`. */
  readonly url: string;
  /** Credentials (an API key or a JWT), sent as `Authorization: Bearer`. */
  readonly token?: string | (() => string | Promise<string>);
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * Through the broker's HTTP API (`POST /pubsub/{channel}/publish`), for a
 * service that holds no socket: the name in `metadata.event`, `socket_id`
 * for `toOthers`. A refusal rejects with the broker's typed error.
 */
export function httpDriver(options: HttpDriverOptions): BroadcastDriver {
  const base = options.url.replace(/\/+$/, '');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  return {
    async send({ channels, event, data, except }) {
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
          const answer = (await response.json().catch(() => undefined)) as { error?: Record<string, unknown> } | undefined;
          if (answer?.error) throw errorFromWire(parseWireError(answer.error));
          throw new EventwireError('internal', `The broker answered HTTP ${response.status} to a broadcast on "${channel}"`);
        }),
      );
    },
  };
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
