// The engine.io-protocol suite's reference server as a surface of our own:
// an Engine.IO endpoint on `/engine.io/` (our Engine.IO layer, registered
// through `BrokerOptions.surfaces` alone) whose sessions echo every message,
// text as text and binary as binary. It proves the layer and the plug-in
// path for HTTP-born connections; it publishes nothing.
import type { Session, Surface, SurfaceFactory } from '@eventwire/event-broker';
import type { EngineOptions } from '../../src/surfaces/socketio/engine/engine-options.js';
import { EngineServer } from '../../src/surfaces/socketio/engine/engine-server.js';

declare module '@eventwire/event-broker' {
  interface SurfaceRegistry {
    'engine-echo': { publishes: false };
  }
}

/**
 * An echo surface over Engine.IO with `options` (the suite's: pingInterval
 * 300, pingTimeout 200, CORS `*`); `credentials: 'required'` makes the broker
 * authenticate every handshake, polling or WebSocket.
 */
export function engineEchoSurface(options: EngineOptions & { readonly credentials?: Surface['credentials'] } = {}): SurfaceFactory {
  return (host): Surface<undefined> => {
    const engine: EngineServer = new EngineServer(host, () => surface, { path: '/engine.io/', ...options });
    const surface: Surface<undefined> = {
      name: 'engine-echo',
      endpoints: { websocket: engine.path, http: [engine.path] },
      credentials: options.credentials ?? 'none',
      claims: (url) => engine.claims(url),
      adopt: (upgrade) => engine.adopt(upgrade),
      accept: ({ url }) => ({ state: undefined, wire: engine.accept(url) }),
      refuse: (upgrade, error) => engine.refuse(upgrade, error),
      http: { serveTransport: (request, response, url) => engine.serve(request, response, url) },
      open({ connection }): Session {
        return {
          id: connection.id,
          deliver: () => {},
          receive: (data, binary) => (binary ? connection.sendBinary(data) : connection.send(data.toString('utf8'))),
          closed: () => {},
        };
      },
    };
    return surface;
  };
}
