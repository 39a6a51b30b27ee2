// What the browser build has in place of the `ws` package (ws.ts imports it
// lazily, and only where there is no global WebSocket). The file must be
// self-contained, so the bare specifier `ws` cannot stay in it: this module
// answers with the runtime's own WebSocket, and where there is none (an old
// runtime) a typed error at connect instead of a failed module resolution.
import { EventwireError } from '../errors.js';
import type { WebSocketConstructor, WebSocketLike } from './ws.js';

function missing(): WebSocketConstructor {
  return class {
    constructor() {
      throw new EventwireError('unsupported_transport', 'ws:// needs a WebSocket global, and this runtime has none');
    }
  } as unknown as WebSocketConstructor;
}

export const WebSocket: WebSocketConstructor =
  typeof globalThis.WebSocket === 'function' ? (globalThis.WebSocket as unknown as new (url: string) => WebSocketLike) : missing();
