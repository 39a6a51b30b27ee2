// Broadcasting through Pusher's HTTP API, to any server that speaks it:
// Pusher itself, Soketi, Laravel Reverb, or the eventwire broker's Pusher
// surface. What Laravel's PusherBroadcaster does (channels in chunks of
// 100, `socket_id` for toOthers), with Pusher's limits checked before
// anything is sent, so a caller gets a typed error instead of a 413 later.
import { EventwireError } from '../errors.js';
import type { EventMap, UntypedEvents } from '../events.js';
import type { BroadcastMessage } from './broadcastable.js';
import { createBroadcastCheck, refusalOf, type BroadcastDriver } from './drivers.js';
import { signPusherRequest } from './pusher-signature.js';

/** Options of {@link pusherDriver}. */
export interface PusherDriverOptions<TEvents extends EventMap = UntypedEvents> {
  /** The app's id (`PUSHER_APP_ID`): the path is `/apps/{appId}/events`. */
  readonly appId: string;
  /** The app's key (`PUSHER_APP_KEY`), sent as `auth_key`. */
  readonly key: string;
  /** The app's secret (`PUSHER_APP_SECRET`): signs each request; never sent. */
  readonly secret: string;
  /** Pusher's cluster (`mt1`, `eu`, …): the host becomes `api-{cluster}.pusher.com`. Ignored when `host` is set. */
  readonly cluster?: string;
  /** The API's host: a Soketi, Reverb or eventwire broker. @default `api-{cluster}.pusher.com`, else `api.pusherapp.com` */
  readonly host?: string;
  /** @default 443 with `useTLS`, else 80 */
  readonly port?: number;
  /** https rather than http. @default true */
  readonly useTLS?: boolean;
  /**
   * The largest `data` (its JSON text, in UTF-8 bytes) sent: larger is
   * refused `payload_too_large` before any request. Pusher answers 413 past
   * 10 KB; raise it for a server that takes more (the eventwire broker's
   * bound is its `maxPayloadBytes`).
   * @default 10240
   */
  readonly maxDataBytes?: number;
  /** How long one request may take before the broadcast fails `timeout`. @default 10000 */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /**
   * The event map: broadcasts are typed by it, and their data validated
   * before anything is sent (`unknown_event`, `invalid_payload`), as a typed
   * channel's emit would.
   */
  readonly events?: TEvents;
}

/** The defaults of {@link PusherDriverOptions}. */
export const pusherDriverDefaults = { useTLS: true, maxDataBytes: 10_240, timeoutMs: 10_000 } as const;

/** Pusher's bounds on one trigger (its server libraries check the same): channels per request, name lengths. */
export const PUSHER_MAX_CHANNELS = 100;
const MAX_NAME = 200;
/** Pusher's channel alphabet; a leading `#` is its `#server-to-user-…` channels. */
const CHANNEL = /^#?[-a-zA-Z0-9_=@,.;]+$/;
/** A Pusher socket id (`123.456`): what `toOthers` takes. */
const SOCKET_ID = /^\d+\.\d+$/;

/**
 * Through Pusher's HTTP API (`POST /apps/{appId}/events`, signed with the
 * app secret): the broadcast's name is Pusher's event name, its data the JSON
 * text Pusher carries (as Laravel sends it), `toOthers(socketId)` its
 * `socket_id`. More than 100 channels go as several requests of at most 100,
 * one after the other; a refusal stops the rest and rejects. Refusals are
 * typed: the eventwire broker's own codes, else 401 `unauthorized`, 403
 * `forbidden`, 413 `payload_too_large`, 5xx and network failures `unavailable`.
 * Node only (it signs with node:crypto).
 *
 * @example
 * const broadcast = createBroadcaster(pusherDriver({ appId: '1', key: 'app-key', secret: 'app-secret', cluster: 'eu' }));
 * await broadcast(new OrderShipped(order)).toOthers(request.headers['x-socket-id']);
 */
export function pusherDriver<TEvents extends EventMap = UntypedEvents>(options: PusherDriverOptions<TEvents>): BroadcastDriver<TEvents> {
  const useTLS = options.useTLS ?? pusherDriverDefaults.useTLS;
  const host = options.host ?? (options.cluster !== undefined ? `api-${options.cluster}.pusher.com` : 'api.pusherapp.com');
  const origin = new URL(`${useTLS ? 'https' : 'http'}://${host}:${options.port ?? (useTLS ? 443 : 80)}`).origin;
  const path = `/apps/${encodeURIComponent(options.appId)}/events`;
  const maxDataBytes = options.maxDataBytes ?? pusherDriverDefaults.maxDataBytes;
  const timeoutMs = options.timeoutMs ?? pusherDriverDefaults.timeoutMs;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const check = createBroadcastCheck(options.events);

  const post = async (body: string, what: string): Promise<void> => {
    const query = new URLSearchParams(signPusherRequest(options, { method: 'POST', path, body }));
    let response: Response;
    try {
      response = await fetchImpl(`${origin}${path}?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        throw new EventwireError('timeout', `${origin} did not answer ${what} within ${timeoutMs} ms`, { cause: error });
      }
      throw new EventwireError('unavailable', `${origin} could not be reached for ${what}`, { cause: error });
    }
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    throw await refusalOf(response, `${origin} answered HTTP ${response.status} to ${what}`, 'internal');
  };

  return {
    async send(message) {
      const { channels, event, except } = message;
      validate(message);
      await check(channels, message.data);
      // Pusher carries data as a string: the JSON text, as Laravel and the server libraries send objects.
      const data = JSON.stringify(message.data ?? null);
      const size = Buffer.byteLength(data, 'utf8');
      if (size > maxDataBytes) {
        throw new EventwireError('payload_too_large', `The data of "${event}" is ${size} bytes; the limit is ${maxDataBytes} (maxDataBytes)`);
      }
      for (let start = 0; start < channels.length; start += PUSHER_MAX_CHANNELS) {
        const chunk = channels.slice(start, start + PUSHER_MAX_CHANNELS);
        const body = JSON.stringify({ name: event, data, channels: chunk, ...(except !== undefined && { socket_id: except }) });
        await post(body, `"${event}" on ${chunk.length === 1 ? `"${chunk[0]}"` : `${chunk.length} channels`}`);
      }
    },
  };
}

/** Pusher's rules on names, checked before anything is sent (Pusher would answer 400). */
function validate({ channels, event, except }: BroadcastMessage): void {
  if (event === '' || event.length > MAX_NAME) throw new EventwireError('invalid_payload', `An event name must be 1 to ${MAX_NAME} characters`);
  for (const channel of channels) {
    if (channel.length > MAX_NAME || !CHANNEL.test(channel)) {
      throw new EventwireError('invalid_topic', `"${channel.slice(0, MAX_NAME)}" is not a Pusher channel name (at most ${MAX_NAME} of A-Z a-z 0-9 _ - = @ , . ;)`);
    }
    // Their data must be end-to-end encrypted for the channel (NaCl secretbox), which this driver does not do.
    if (channel.startsWith('private-encrypted-')) {
      throw new EventwireError('invalid_topic', `The pusher driver cannot broadcast on the encrypted channel "${channel}"`);
    }
  }
  if (except !== undefined && !SOCKET_ID.test(except)) {
    throw new EventwireError('invalid_payload', `toOthers() needs a Pusher socket id like "123.456", not "${except.slice(0, 40)}"`);
  }
}
