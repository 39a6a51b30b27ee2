// eventwire's own protocol (docs/PROTOCOL.md §6) at `/` and `/ws`: what
// EventChannel speaks. Credentials may come with the upgrade or, when a
// browser cannot set headers, in the hello.
import type { Surface, SurfaceDescription } from '../surface.js';
import type { SurfaceHost } from '../surface-host.js';
import { NativeSession, type NativeSessionLimits } from './native-session.js';

/** The native surface, known without a broker. */
export function describeNativeSurface(): SurfaceDescription {
  return {
    name: 'native',
    websocket: '/',
    aliases: ['/ws'],
    title: 'eventwire native protocol',
    description: "eventwire's own protocol (docs/PROTOCOL.md §6): what EventChannel({ url: 'ws://…' }) speaks. Acknowledged publishes, subscriptions by pattern, history and recovery.",
    credentials: 'optional',
  };
}

export function createNativeSurface(host: SurfaceHost): Surface<undefined> {
  const { access, core, sessions } = host;
  const description = describeNativeSurface();
  const paths = [description.websocket, ...(description.aliases ?? [])];
  // One object for every session.
  const limits: NativeSessionLimits = { ...host.limits, maxReplayBytes: host.limits.maxOutboundBytes, access };
  return {
    name: 'native',
    endpoints: { websocket: description.websocket },
    credentials: description.credentials,
    claims: (url) => paths.includes(url.pathname),
    accept: () => ({ state: undefined }),
    open({ connection, ip, authenticate }) {
      const rateLimits = access.limits(ip);
      // Per-connection parts only where they apply: an idle anonymous connection carries none.
      const own =
        authenticate || rateLimits
          ? {
              rateLimits,
              ...(authenticate && { authenticate }),
              // Credentials not given at the upgrade must come with the hello.
              authenticateHello: authenticate !== undefined && connection.user === undefined,
            }
          : undefined;
      return new NativeSession(connection, core, sessions, limits, own);
    },
    upgradeHint: (path, origin) => `open a WebSocket to ${origin.ws}${path} (eventwire protocol; EventChannel({ url: '${origin.ws}' }) does this)`,
  };
}
