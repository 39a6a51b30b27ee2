// API keys from config: long-lived credentials for services and HTTP callers
// (Synap's SDKs send one as a Bearer token or Basic's password).
import { createHash, timingSafeEqual } from 'node:crypto';
import { EventwireError } from '@eventwire/event-channel';
import { authDescriptionOf, describeAuthenticator } from './auth-description.js';
import type { Authenticator, BrokerUser } from './authenticate.js';
import { assertPermissions, type Permissions } from './permissions.js';

/** One API key and who it stands for. */
export interface ApiKey {
  /** The secret itself (at least 16 characters). Masked by `--print-config`. */
  readonly key: string;
  /** The user id rules, hooks and logs see. */
  readonly user: string;
  /** What the key may do; everything public when omitted. */
  readonly permissions?: Permissions | undefined;
}

/**
 * An {@link Authenticator} for API keys: a request whose credential is one of
 * `keys` becomes that key's user; any other credential goes to `otherwise`
 * (a JWT authenticator, say) or is refused.
 * Keys are compared as SHA-256 digests in constant time, so neither a
 * lookup nor a comparison leaks how much of a guess was right.
 *
 * @example
 * authenticate: createApiKeyAuthenticator([{ key: process.env.ORDERS_KEY!, user: 'svc-orders', permissions: { publish: ['order.*'] } }],
 *   createJwtAuthenticator({ secret: process.env.JWT_SECRET! }))
 */
export function createApiKeyAuthenticator(keys: readonly ApiKey[], otherwise?: Authenticator): Authenticator {
  const known = keys.map((entry, index) => {
    if (typeof entry.key !== 'string' || entry.key.length < 16) {
      throw new EventwireError('invalid_payload', `apiKeys[${index}]: a key needs at least 16 characters`);
    }
    if (entry.permissions) assertPermissions(entry.permissions, `apiKeys[${index}].permissions`);
    const user: BrokerUser = { id: entry.user, ...(entry.permissions && { permissions: entry.permissions }) };
    return { digest: digestOf(entry.key), user };
  });
  const other = otherwise && authDescriptionOf(otherwise);
  return describeAuthenticator((request) => {
    const token = request.token;
    if (token === undefined) return otherwise?.(request);
    const digest = digestOf(token);
    let found: BrokerUser | undefined;
    // Every key is compared, found or not: the time taken says nothing about which.
    for (const entry of known) if (timingSafeEqual(entry.digest, digest) && !found) found = entry.user;
    if (found) return found;
    if (otherwise) return otherwise(request);
    throw new EventwireError('unauthorized', 'Unknown API key');
  }, { jwt: other?.jwt ?? false, apiKeys: [...keys, ...(other?.apiKeys ?? [])], custom: other?.custom ?? false });
}

function digestOf(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
