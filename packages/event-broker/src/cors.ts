// Which browser origins may read the broker's answers from another origin
// (CORS), decided in one place for every endpoint that allows it: the
// Engine.IO endpoint (long-polling is plain XHR/fetch) and Pusher's auth
// endpoints. Each keeps its own preflight (the methods and headers it takes).
import type { IncomingMessage } from 'node:http';

/** The origins allowed to read answers from another origin. */
export interface CorsPolicy {
  /** `*` for any origin, or the origins allowed (`https://app.example.com`). */
  readonly origin: '*' | readonly string[];
  /** Whether browsers may send cookies and credentials (the allowed origin is then echoed, never `*`). @default false */
  readonly credentials?: boolean;
}

/** The CORS headers for an answer to `request` (none when there is no policy or its origin is not allowed). */
export function corsHeaders(request: IncomingMessage, policy: CorsPolicy | undefined): Record<string, string> {
  if (!policy) return {};
  const origin = request.headers.origin;
  // Credentials forbid `*` (Fetch standard): the allowed origin is echoed, so caches must key on it.
  if (policy.origin === '*' && !policy.credentials) return { 'access-control-allow-origin': '*' };
  if (origin === undefined) return { vary: 'Origin' };
  if (policy.origin !== '*' && !policy.origin.includes(origin)) return { vary: 'Origin' };
  return { 'access-control-allow-origin': origin, vary: 'Origin', ...(policy.credentials && { 'access-control-allow-credentials': 'true' }) };
}
