// The surfaces every broker offers, registered here and nowhere else: the
// server asks this list, never a surface by name. A new protocol is a folder
// beside these and one entry below (or, outside this package,
// `BrokerOptions.surfaces`).
import type { PusherOptions } from '../options.js';
import type { SocketIoOptions } from './socketio/socketio-options.js';
import { createSocketIoSurface, type SocketIoSurface } from './socketio/socketio-surface.js';
import { createBroadcastingSurface } from './broadcasting/broadcasting-surface.js';
import { createNativeSurface } from './native/native-surface.js';
import { createPusherSurface, type PusherSurface } from './pusher/pusher-surface.js';
import type { Surface } from './surface.js';
import type { SurfaceHost } from './surface-host.js';
import { createSynapSurface } from './synap/synap-surface.js';

/** Every built-in surface's name, on or off: `/stats` counts connections for each. */
export const builtinSurfaceNames = ['native', 'synap', 'broadcasting', 'pusher', 'socketio'] as const;

/** The built-in surfaces the options turn on, the Pusher one for the server's Pusher auth handlers, and the Socket.IO one for `broker.socketio`. */
export function createBuiltinSurfaces(
  host: SurfaceHost,
  options: { readonly broadcastingPath?: string | undefined; readonly pusher?: PusherOptions | undefined; readonly socketio?: SocketIoOptions | undefined },
): { readonly surfaces: Surface[]; readonly pusher: PusherSurface | undefined; readonly socketio: SocketIoSurface | undefined } {
  const { broadcastingPath } = options;
  const pusher = options.pusher && createPusherSurface(host, options.pusher);
  const socketio = options.socketio && createSocketIoSurface(host, options.socketio);
  const surfaces: Surface[] = [createNativeSurface(host), createSynapSurface(host)];
  if (broadcastingPath !== undefined) surfaces.push(createBroadcastingSurface(host, broadcastingPath));
  if (pusher) surfaces.push(pusher);
  if (socketio) surfaces.push(socketio);
  return { surfaces, pusher, socketio };
}
