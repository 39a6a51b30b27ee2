// Why a channel is not connected, as one stable word. A transport keeps the
// original failure as the `cause` of its EventwireError (Node's socket error,
// the NATS client's, postgres.js's); this reads that chain once, here, for
// every transport, so a status says "refused" or "dns" without each transport
// learning Node's error codes.
import type { EventwireError } from './errors.js';

/**
 * Why the last connection attempt failed or the connection was lost:
 * - `refused`: nothing listens at that address (`ECONNREFUSED`);
 * - `dns`: the host name does not resolve (`ENOTFOUND`, `EAI_AGAIN`);
 * - `tls`: the TLS handshake failed (a certificate not trusted, TLS against a plain port);
 * - `timeout`: the peer did not answer in time (`ETIMEDOUT`, no welcome, missed heartbeats);
 * - `reset`: the connection was cut (`ECONNRESET`, `EPIPE`, an abnormal close);
 * - `unauthorized`, `forbidden`, `rate_limited`, `unavailable`: the broker said so (401, 403, 429, 503 or their close codes);
 * - `protocol`: the broker speaks another protocol version, or is not an eventwire broker;
 * - `slow_consumer`: the broker cut this reader;
 * - `closed`: the peer closed the connection, without saying more.
 */
export type DisconnectReason =
  | 'refused'
  | 'dns'
  | 'tls'
  | 'timeout'
  | 'reset'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'unavailable'
  | 'protocol'
  | 'slow_consumer'
  | 'closed';

/** Every {@link DisconnectReason}. */
export const disconnectReasons: readonly DisconnectReason[] = [
  'refused',
  'dns',
  'tls',
  'timeout',
  'reset',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'unavailable',
  'protocol',
  'slow_consumer',
  'closed',
];

// Node's system and OpenSSL error codes, by what they mean to someone connecting.
const byNodeCode: Readonly<Record<string, DisconnectReason>> = {
  ECONNREFUSED: 'refused',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EAI_NONAME: 'dns',
  ETIMEDOUT: 'timeout',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  EHOSTUNREACH: 'refused',
  ENETUNREACH: 'refused',
  EPROTO: 'tls',
};

/** True for the codes Node and OpenSSL give a failed TLS handshake. */
function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_SSL_') ||
    code.startsWith('ERR_TLS_') ||
    code.startsWith('CERT_') ||
    code.includes('_CERT') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'
  );
}

/** The Node error code (`ECONNREFUSED`, `ERR_SSL_…`) somewhere in `error`'s cause chain (an AggregateError's too). */
export function nodeErrorCode(error: unknown, depth = 0): string | undefined {
  if (depth > 8 || typeof error !== 'object' || error === null) return undefined;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (code in byNodeCode || isTlsCode(code))) return code;
  if (Array.isArray(errors)) {
    for (const inner of errors) {
      const found = nodeErrorCode(inner, depth + 1);
      if (found) return found;
    }
  }
  return nodeErrorCode(cause, depth + 1);
}

/** The {@link DisconnectReason} for a transport's failure: what the broker said, else what the socket said, else `closed`. */
export function disconnectReasonOf(error: EventwireError): DisconnectReason {
  switch (error.code) {
    case 'unauthorized':
    case 'forbidden':
    case 'rate_limited':
    case 'unavailable':
    case 'slow_consumer':
    case 'timeout':
      return error.code;
    case 'unsupported_protocol':
    case 'invalid_frame':
      return 'protocol';
  }
  const code = nodeErrorCode(error.cause);
  if (code) return byNodeCode[code] ?? 'tls';
  return 'closed';
}
