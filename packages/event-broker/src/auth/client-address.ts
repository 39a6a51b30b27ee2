// Whose request it is, for per-address caps and limits: the peer, or — when
// the peer is a proxy the operator trusts — the client it forwarded for.
import type { IncomingMessage } from 'node:http';

/**
 * The address a request counts against. Behind a reverse proxy every
 * connection comes from the proxy, so per-address limits would throttle
 * everyone at once: for a peer in `trustedProxies`, the nearest address in
 * `X-Forwarded-For` that is not itself a trusted proxy is used instead (the
 * right-most untrusted entry: everything left of it the client could forge).
 */
export function clientAddress(request: IncomingMessage, trustedProxies: ReadonlySet<string>): string {
  const peer = normalize(request.socket.remoteAddress ?? '');
  if (trustedProxies.size === 0 || !trustedProxies.has(peer)) return peer;
  const header = request.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map((hop) => normalize(hop.trim())).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) if (!trustedProxies.has(hops[i]!)) return hops[i]!;
  return peer;
}

/** `::ffff:127.0.0.1` (an IPv4 peer on a dual-stack socket) is `127.0.0.1`. */
function normalize(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
