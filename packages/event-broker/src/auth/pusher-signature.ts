// The Pusher Channels signatures, both kinds, for the Pusher surface:
// - channel auth: what an auth endpoint answers for a private or presence
//   channel, `key:HMAC-SHA256(secret, "socket_id:channel[:channel_data]")`,
//   and what the broker checks when a pusher-js client subscribes with it;
// - HTTP API requests: what Pusher's server libraries send (auth_key,
//   auth_timestamp, auth_version=1.0, body_md5, auth_signature over
//   "METHOD\npath\nsorted query").
// Comparisons are constant-time; a stale timestamp is refused.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { EventwireError } from '@eventwire/event-channel';

/** How far an HTTP API request's auth_timestamp may be from the broker's clock (Pusher's own bound). */
export const PUSHER_TIMESTAMP_WINDOW_S = 600;

/** `key:signature` for `socket_id` on `channel` (with a presence channel's `channel_data`, as sent). */
export function signChannel(key: string, secret: string, socketId: string, channel: string, channelData?: string): string {
  const subject = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return `${key}:${hmacHex(secret, subject)}`;
}

/** True when `auth` is the signature of `key`/`secret` for this socket and channel. */
export function verifyChannelAuth(auth: string, key: string, secret: string, socketId: string, channel: string, channelData?: string): boolean {
  return sameText(auth, signChannel(key, secret, socketId, channel, channelData));
}

/**
 * `key:signature` for signing `socket_id` in as the user `userData` (a JSON
 * object with an `id`): what a user-auth endpoint answers for `pusher:signin`.
 */
export function signUser(key: string, secret: string, socketId: string, userData: string): string {
  return `${key}:${hmacHex(secret, `${socketId}::user::${userData}`)}`;
}

/** True when `auth` is the signin signature of `key`/`secret` for this socket and user data. */
export function verifyUserAuth(auth: string, key: string, secret: string, socketId: string, userData: string): boolean {
  return sameText(auth, signUser(key, secret, socketId, userData));
}

/** A request to the HTTP API, as the server sees it. */
export interface SignedRequest {
  readonly method: string;
  /** The path alone (`/apps/1/events`). */
  readonly path: string;
  /** The query parameters, decoded. */
  readonly query: Readonly<Record<string, string>>;
  /** The raw body ('' for none). */
  readonly body: string;
}

/** The string a request's auth_signature signs: method, path, and every parameter but auth_signature, sorted by name. */
export function requestStringToSign(method: string, path: string, query: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(query)
    .filter((name) => name !== 'auth_signature')
    .sort()
    .map((name) => `${name.toLowerCase()}=${query[name]}`)
    .join('&');
  return `${method.toUpperCase()}\n${path}\n${sorted}`;
}

/** The auth_signature for a request (what Pusher's server libraries compute). */
export function signRequest(secret: string, method: string, path: string, query: Readonly<Record<string, string>>): string {
  return hmacHex(secret, requestStringToSign(method, path, query));
}

/**
 * Checks a signed HTTP API request for the app whose key is `key`: the key,
 * version, timestamp (within the window), body_md5 (when there is a body)
 * and signature. Throws `unauthorized` saying which part failed.
 */
export function verifyRequest(request: SignedRequest, key: string, secret: string, nowSeconds: number = Date.now() / 1000): void {
  const { query } = request;
  if (query['auth_key'] !== key) throw new EventwireError('unauthorized', 'Unknown auth_key');
  if (query['auth_version'] !== '1.0') throw new EventwireError('unauthorized', 'auth_version must be 1.0');
  const timestamp = Number(query['auth_timestamp']);
  if (!Number.isFinite(timestamp) || Math.abs(nowSeconds - timestamp) > PUSHER_TIMESTAMP_WINDOW_S) {
    throw new EventwireError('unauthorized', `auth_timestamp must be within ${PUSHER_TIMESTAMP_WINDOW_S} s of the server's clock`);
  }
  if (request.body.length > 0 && !sameText(query['body_md5'] ?? '', createHash('md5').update(request.body).digest('hex'))) {
    throw new EventwireError('unauthorized', 'body_md5 does not match the body');
  }
  if (!sameText(query['auth_signature'] ?? '', signRequest(secret, request.method, request.path, query))) {
    throw new EventwireError('unauthorized', 'Invalid auth_signature');
  }
}

function hmacHex(secret: string, subject: string): string {
  return createHmac('sha256', secret).update(subject).digest('hex');
}

/** Constant-time for equal lengths; a length mismatch is no secret (the expected length is public). */
function sameText(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
