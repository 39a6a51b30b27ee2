// The surfaces every broker offers, registered here and nowhere else: the
// server asks this list, never a surface by name. A new protocol is a folder
// beside these and one entry below (or, outside this package,
// `BrokerOptions.surfaces`).
import type { PusherOptions } from '../options.js';
import type { SocketIoOptions } from './socketio/socketio-options.js';
import { createSocketIoSurface, describeSocketIoSurface, type SocketIoSurface } from './socketio/socketio-surface.js';
import { createBroadcastingSurface, describeBroadcastingSurface } from './broadcasting/broadcasting-surface.js';
import { createNativeSurface, describeNativeSurface } from './native/native-surface.js';
import { createPusherSurface, describePusherSurface, type PusherSurface } from './pusher/pusher-surface.js';
import type { Surface, SurfaceDescription } from './surface.js';
import type { SurfaceHost } from './surface-host.js';
import { createSynapSurface, describeSynapSurface } from './synap/synap-surface.js';

/** Every built-in surface's name, on or off: `/stats` counts connections for each. */
export const builtinSurfaceNames = ['native', 'synap', 'broadcasting', 'pusher', 'socketio'] as const;

/** What turns built-in surfaces on (resolved options). Both functions below read it; test/asyncapi.test.ts checks they list the same surfaces and paths. */
interface BuiltinSurfaceOptions {
  readonly broadcastingPath?: string | undefined;
  readonly pusher?: PusherOptions | undefined;
  readonly socketio?: SocketIoOptions | undefined;
}

/**
 * The built-in surfaces the options turn on, described without a broker
 * (AsyncAPI's servers), in the order {@link createBuiltinSurfaces} creates them.
 */
export function describeBuiltinSurfaces(options: BuiltinSurfaceOptions): SurfaceDescription[] {
  const { broadcastingPath, pusher, socketio } = options;
  return [
    describeNativeSurface(),
    describeSynapSurface(),
    ...(broadcastingPath !== undefined ? [describeBroadcastingSurface(broadcastingPath)] : []),
    ...(pusher ? [describePusherSurface(pusher)] : []),
    ...(socketio ? [describeSocketIoSurface(socketio)] : []),
  ];
}

/** The built-in surfaces the options turn on, the Pusher one for the server's Pusher auth handlers, and the Socket.IO one for `broker.socketio`. */
export function createBuiltinSurfaces(
  host: SurfaceHost,
  options: BuiltinSurfaceOptions,
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
