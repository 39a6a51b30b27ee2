// JWT out of the box: HS256 with a secret, RS256/ES256 with a public key or
// a JWKS URL (jose does the cryptography; `alg: none` is never accepted).
import { EventwireError } from '@eventwire/event-channel';
import { createRemoteJWKSet, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthRequest, Authenticator, BrokerUser } from './authenticate.js';
import { describeAuthenticator } from './auth-description.js';
import { assertPermissions, type Permissions } from './permissions.js';

/** Options of {@link createJwtAuthenticator}: one of `secret`, `publicKey`, `jwksUrl`. */
export interface JwtAuthenticatorOptions<TUser extends BrokerUser = JwtUser> {
  /** HS256/384/512 shared secret. */
  readonly secret?: string;
  /** An SPKI PEM public key (RS256 or ES256 by default, see `algorithms`). */
  readonly publicKey?: string;
  /** A JWKS endpoint; keys are fetched and cached by `kid`. */
  readonly jwksUrl?: string;
  /** Accepted algorithms. @default ['HS256'] with a secret, ['RS256', 'ES256'] with a key or JWKS */
  readonly algorithms?: readonly string[];
  /** Required `aud`. */
  readonly audience?: string | readonly string[];
  /** Required `iss`. */
  readonly issuer?: string | readonly string[];
  /** Tolerated clock difference for `exp` and `nbf`, in seconds. @default 5 */
  readonly clockToleranceSec?: number;
  /**
   * The user the broker keeps, from the verified claims.
   * @default { id: sub, expiresAt: exp, permissions: the `permissions` claim ({ publish?, subscribe? } pattern lists), claims }
   */
  readonly user?: (claims: JWTPayload, request: AuthRequest) => TUser;
}

/** The default user of a JWT: its subject, expiry and claims. */
export interface JwtUser extends BrokerUser {
  readonly claims: JWTPayload;
}

/**
 * An {@link Authenticator} verifying JWTs: signature, `exp`, `nbf`, `aud`,
 * `iss`; a token without `sub` is refused.
 *
 * @example
 * new EventBrokerServer({ authenticate: createJwtAuthenticator({ secret: process.env.JWT_SECRET!, audience: 'shop' }) });
 */
export function createJwtAuthenticator<TUser extends BrokerUser = JwtUser>(options: JwtAuthenticatorOptions<TUser>): Authenticator<TUser> {
  const sources = [options.secret, options.publicKey, options.jwksUrl].filter((source) => source !== undefined);
  if (sources.length !== 1) throw new EventwireError('invalid_payload', 'createJwtAuthenticator needs exactly one of secret, publicKey, jwksUrl');
  const algorithms = [...(options.algorithms ?? (options.secret !== undefined ? ['HS256'] : ['RS256', 'ES256']))];
  if (algorithms.some((algorithm) => algorithm.toLowerCase() === 'none')) {
    throw new EventwireError('invalid_payload', 'The "none" algorithm is never accepted');
  }
  let key: Promise<Uint8Array | CryptoKey> | JWTVerifyGetKey;
  if (options.secret !== undefined) key = hmacKeys(options.secret, algorithms);
  else if (options.publicKey !== undefined) key = importSPKI(options.publicKey, algorithms[0]!);
  else key = createRemoteJWKSet(new URL(options.jwksUrl!));
  const toUser = options.user ?? ((claims: JWTPayload) => defaultUser(claims) as unknown as TUser);
  const verify: Authenticator<TUser> = async (request) => {
    const token = request.token;
    if (token === undefined) return undefined;
    const verifyOptions = {
      algorithms,
      clockTolerance: options.clockToleranceSec ?? 5,
      ...(options.audience !== undefined && { audience: options.audience as string | string[] }),
      ...(options.issuer !== undefined && { issuer: options.issuer as string | string[] }),
    };
    let payload: JWTPayload;
    try {
      ({ payload } = typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, await key, verifyOptions));
    } catch (error) {
      throw new EventwireError('unauthorized', `Token refused: ${(error as { code?: string }).code ?? (error as Error).message}`, { cause: error });
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new EventwireError('unauthorized', 'Token refused: no "sub"');
    return toUser(payload, request);
  };
  return describeAuthenticator(verify, { jwt: true, apiKeys: [], custom: false });
}

/** `sub`, `exp` and an optional `permissions` claim; a malformed `permissions` claim refuses the token. */
function defaultUser(claims: JWTPayload): JwtUser {
  const permissions = claims['permissions'];
  if (permissions !== undefined) {
    const valid =
      typeof permissions === 'object' &&
      permissions !== null &&
      Object.entries(permissions).every(([action, patterns]) => (action === 'publish' || action === 'subscribe') && Array.isArray(patterns) && patterns.every((p) => typeof p === 'string'));
    if (!valid) throw new EventwireError('unauthorized', 'Token refused: "permissions" must be { publish?: string[], subscribe?: string[] }');
    try {
      assertPermissions(permissions as Permissions, 'permissions');
    } catch (error) {
      throw new EventwireError('unauthorized', `Token refused: ${(error as Error).message}`);
    }
  }
  return {
    id: claims.sub!,
    expiresAt: claims.exp === undefined ? undefined : claims.exp * 1000,
    ...(permissions !== undefined && { permissions: permissions as Permissions }),
    claims,
  };
}

/**
 * The secret imported once as a WebCrypto HMAC key per accepted algorithm:
 * verifying with a ready CryptoKey costs ~70 µs where handing jose the raw
 * bytes (imported again on every verify) costs ~120 µs (bench/RESULTS.md).
 */
function hmacKeys(secret: string, algorithms: readonly string[]): JWTVerifyGetKey {
  const bytes = new TextEncoder().encode(secret);
  const keys = new Map<string, Promise<CryptoKey>>();
  for (const algorithm of algorithms) {
    const hash = /^HS(256|384|512)$/.exec(algorithm)?.[1];
    if (!hash) throw new EventwireError('invalid_payload', `A secret verifies HS256/HS384/HS512 tokens, not ${algorithm}`);
    keys.set(algorithm, crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: `SHA-${hash}` }, false, ['verify']));
  }
  // jose has checked the header's alg against `algorithms` before it asks for the key.
  return (header) => keys.get(header.alg ?? '')!;
}
