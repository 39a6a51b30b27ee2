// Who is connecting: the contract every surface uses to turn a request's
// credentials into a user (the auth room; channel rules build on it).
import type { SurfaceName } from '../surfaces/surface.js';
import type { IncomingHttpHeaders } from 'node:http';
import { EventwireError } from '@eventwire/event-channel';
import type { Permissions } from './permissions.js';

/** A user as the broker knows it after authentication. Rules and hooks see it. */
export interface BrokerUser {
  /** Stable identity: a JWT's `sub`, an API key's owner. */
  readonly id: string;
  /** When the credentials stop being valid (ms since epoch); the connection is closed with 4001 then. */
  readonly expiresAt?: number | undefined;
  /** What this user may publish and subscribe; see `PermissionRules` for declaring them in config instead. */
  readonly permissions?: Permissions | undefined;
}

/** What an authenticator is given. */
export interface AuthRequest {
  /** The credential found: `?token=`, `Authorization: Bearer`, Basic's password, or the hello frame's `token`. */
  readonly token: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The client's address: the peer, or whom a trusted proxy forwarded for (`trustedProxies`). */
  readonly remoteAddress: string;
  /** Which surface asks: a WebSocket one (`native`, `synap`, `broadcasting`, `pusher`, or one registered in `SurfaceRegistry`) or `http`. */
  readonly surface: SurfaceName | 'http';
}

/**
 * Turns a request into a user, or refuses it by throwing (an
 * `EventwireError('unauthorized', …)` or anything else, which becomes one).
 * Returning `undefined` means anonymous, which the broker accepts only when
 * `allowAnonymous` is set. May be async.
 */
export type Authenticator<TUser extends BrokerUser = BrokerUser> = (request: AuthRequest) => TUser | undefined | Promise<TUser | undefined>;

/**
 * The credential of a request: `?token=` on the URL, else an
 * `Authorization: Bearer <token>` header, else Basic credentials' password
 * (how Synap's SDKs send an API key as a user's password).
 */
export function findToken(url: URL, headers: IncomingHttpHeaders): string | undefined {
  const query = url.searchParams.get('token');
  if (query) return query;
  const authorization = headers.authorization;
  if (!authorization) return undefined;
  const [scheme, value = ''] = authorization.split(/\s+/, 2);
  if (/^bearer$/i.test(scheme ?? '')) return value || undefined;
  if (/^basic$/i.test(scheme ?? '')) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return colon >= 0 ? decoded.slice(colon + 1) || undefined : undefined;
  }
  return undefined;
}

/** Runs the authenticator with the broker's rules: refusals become `unauthorized`, anonymous only when allowed. */
export async function authenticateRequest<TUser extends BrokerUser>(
  authenticate: Authenticator<TUser>,
  request: AuthRequest,
  allowAnonymous: boolean,
): Promise<TUser | undefined> {
  if (request.token === undefined) {
    if (allowAnonymous) return undefined;
    throw new EventwireError('unauthorized', 'Credentials required: ?token=, Authorization: Bearer, or the hello frame\'s "token"');
  }
  let user: TUser | undefined;
  try {
    user = await authenticate(request);
  } catch (error) {
    if (error instanceof EventwireError && error.code === 'unauthorized') throw error;
    throw new EventwireError('unauthorized', `Credentials refused: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
  if (user === undefined && !allowAnonymous) throw new EventwireError('unauthorized', 'Credentials refused');
  if (user?.expiresAt !== undefined && user.expiresAt <= Date.now()) throw new EventwireError('unauthorized', 'Credentials expired');
  return user;
}
