// What a namespace runs for a CONNECT: its middleware (`use`), then, once the
// socket is connected, its `connection` listeners (`on`). A namespace and a
// dynamic namespace (parent-namespace.ts) each hold one; a child runs its
// parent's first.
import { EventwireError } from '@eventwire/event-channel';
import type { Middleware, Socket } from './server-api.js';

export class ConnectionHooks {
  readonly #middleware: Middleware[] = [];
  readonly #listeners: Array<(socket: Socket) => void> = [];

  /** Whether the application set nothing here. */
  get empty(): boolean {
    return this.#middleware.length === 0 && this.#listeners.length === 0;
  }

  use(middleware: Middleware): void {
    this.#middleware.push(middleware);
  }

  on(event: 'connection', listener: (socket: Socket) => void): void {
    if (event !== 'connection') throw new EventwireError('invalid_payload', `A namespace emits only "connection", not "${String(event).slice(0, 50)}"`);
    this.#listeners.push(listener);
  }

  /** Runs the middleware in order; rejects with the first refusal (`next(error)`, a throw, a rejected promise). */
  admit(socket: Socket): Promise<void> {
    return admitThrough(this.#middleware, socket);
  }

  /** Runs the `connection` listeners; one that throws is reported and the others still run. */
  announce(socket: Socket, threw: (error: unknown) => void): void {
    for (const listener of this.#listeners) {
      try {
        listener(socket);
      } catch (error) {
        threw(error);
      }
    }
  }
}

/** Runs CONNECT middleware in order; rejects with the first refusal (`next(error)`, a throw, a rejected promise). */
async function admitThrough(middleware: readonly Middleware[], socket: Socket): Promise<void> {
  for (const each of middleware) {
    await new Promise<void>((resolve, reject) => {
      const next = (error?: Error): void => (error ? reject(error) : resolve());
      try {
        const pending = each(socket, next);
        if (pending instanceof Promise) pending.catch(reject);
      } catch (error) {
        reject(error);
      }
    });
  }
}
