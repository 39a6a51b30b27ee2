// What an Engine.IO server is configured with; the defaults are engine.io's,
// so a client that was told nothing else finds what it expects.
import type { CorsPolicy } from '../../../cors.js';

/** Which browser origins may reach the Engine.IO endpoint from another origin (CORS). */
export type EngineCors = CorsPolicy;

export interface EngineOptions {
  /** Where the endpoint is reached, with its trailing slash. @default '/socket.io/' */
  readonly path?: string;
  /** Milliseconds between the server's pings (`2`). @default 25000 */
  readonly pingInterval?: number;
  /** Milliseconds a client has to answer a ping (`3`) before its session is closed. @default 20000 */
  readonly pingTimeout?: number;
  /** Most bytes one long-polling POST may carry (advertised as `maxPayload`; over it: 413 and the session closes). @default 1000000 */
  readonly maxPayload?: number;
  /** Milliseconds a WebSocket upgrade may take from its probe to `5`; then it is dropped and polling goes on. @default 10000 */
  readonly upgradeTimeout?: number;
  /** Cross-origin browsers allowed; absent, no CORS headers are sent (same-origin pages only). @default undefined */
  readonly cors?: EngineCors;
}

export const engineDefaults = {
  path: '/socket.io/',
  pingInterval: 25_000,
  pingTimeout: 20_000,
  maxPayload: 1_000_000,
  upgradeTimeout: 10_000,
} as const satisfies Required<Omit<EngineOptions, 'cors'>>;
