// The simple broadcasting WebSocket that FastAPI "Laravel-like broadcasting"
// projects ship a client for (see broadcasting-session.ts for its frames).
import type { Surface, SurfaceDescription } from '../surface.js';
import type { SurfaceHost } from '../surface-host.js';
import { BroadcastingSession } from './broadcasting-session.js';

/** The broadcasting surface at `path`, known without a broker. */
export function describeBroadcastingSurface(path: string): SurfaceDescription {
  return {
    name: 'broadcasting',
    websocket: path,
    title: 'Broadcasting WebSocket',
    description: 'The simple broadcasting socket of FastAPI "Laravel-like broadcasting" clients: subscribe and receive, the token with the upgrade (?token=).',
    // Its clients send no hello: the token comes with the upgrade (`?token=`).
    credentials: 'required',
  };
}

/** The surface at `path` (`broadcastingPath`, whose default is in settings.ts). */
export function createBroadcastingSurface(host: SurfaceHost, path: string): Surface<undefined> {
  const description = describeBroadcastingSurface(path);
  return {
    name: 'broadcasting',
    endpoints: { websocket: description.websocket },
    credentials: description.credentials,
    claims: (url) => url.pathname === path,
    accept: () => ({ state: undefined }),
    open({ connection }) {
      const session = new BroadcastingSession(connection, host.sessions, host.limits.topicLimits);
      session.welcome();
      return session;
    },
    upgradeHint: (_path, origin) => `open a WebSocket to ${origin.ws}${path}?token=… and send {"event":"subscribe","channel":"users"} (broadcasting)`,
  };
}
