// How a request to Pusher's HTTP API is signed (auth_version 1.0), for the
// pusher driver: the query carries auth_key, auth_timestamp, auth_version,
// body_md5 (of the exact body bytes sent) and auth_signature, an HMAC-SHA256
// with the app secret over "METHOD\npath\nsorted params". It mirrors the
// broker's verifier (event-broker/src/auth/pusher-signature.ts), which this
// package cannot import (the broker depends on it, not the other way).
//
// node:crypto, not WebCrypto: the body_md5 Pusher requires is MD5, which
// WebCrypto does not offer, and a synchronous signature keeps the driver
// simple. The broadcasting entry is server-side already (never part of the
// browser build); Deno and Bun provide node:crypto too.
import { createHash, createHmac } from 'node:crypto';

/** An app's credentials, as Pusher's dashboard (or the broker's `--pusher id:key:secret`) gives them. */
export interface PusherCredentials {
  readonly key: string;
  readonly secret: string;
}

/** The string `auth_signature` signs: the method, the path, and every parameter but the signature, sorted by name, not URL-encoded. */
export function pusherStringToSign(method: string, path: string, params: Readonly<Record<string, string>>): string {
  const sorted = Object.keys(params)
    .filter((name) => name !== 'auth_signature')
    .sort()
    .map((name) => `${name}=${params[name]}`)
    .join('&');
  return `${method.toUpperCase()}\n${path}\n${sorted}`;
}

/**
 * The query parameters of a signed request, `auth_signature` last: `params`
 * (extra ones, unencoded), the auth fields, and `body_md5` when there is a
 * body. `nowSeconds` is the request's `auth_timestamp` (Pusher accepts 600 s of skew).
 */
export function signPusherRequest(
  credentials: PusherCredentials,
  request: { readonly method: string; readonly path: string; readonly body?: string; readonly params?: Readonly<Record<string, string>> },
  nowSeconds: number = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const params: Record<string, string> = {
    ...request.params,
    auth_key: credentials.key,
    auth_timestamp: String(Math.floor(nowSeconds)),
    auth_version: '1.0',
    ...(request.body !== undefined && request.body !== '' && { body_md5: createHash('md5').update(request.body, 'utf8').digest('hex') }),
  };
  const signature = createHmac('sha256', credentials.secret).update(pusherStringToSign(request.method, request.path, params), 'utf8').digest('hex');
  return { ...params, auth_signature: signature };
}
