// The Engine.IO v4 endpoint a surface builds on (Socket.IO's, or a test's
// echo): it reads handshakes, long-polling requests and WebSocket upgrades on
// its path, keeps the sessions by sid and hands each new one to the broker's
// admission (SurfaceHost.admit for a polling handshake, the upgrade's own for
// a WebSocket one). What a session says is the surface's business: it sees a
// Connection whose wire is the session's EngineWire.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventwireError, toEventwireError } from '@eventwire/event-channel';
import { corsHeaders } from '../../../cors.js';
import { httpStatusFor } from '../../../http.js';
import { EngineWire, type EngineSessionOptions } from '../../../wire/engine-wire.js';
import type { Wire } from '../../../wire/wire.js';
import type { SurfaceHost } from '../../surface-host.js';
import type { AdoptedUpgrade, RefusedUpgrade, Surface } from '../../surface.js';
import { answerPreflight } from './cors.js';
import { engineDefaults, type EngineCors, type EngineOptions } from './engine-options.js';

/** engine.io's error codes for a refused request (its server.ts `errors`), by eventwire code. */
const engineErrors: Partial<Record<EventwireError['code'], { code: number; message: string }>> = {
  unsupported_transport: { code: 0, message: 'Transport unknown' },
  not_found: { code: 1, message: 'Session ID unknown' },
  method_not_allowed: { code: 2, message: 'Bad handshake method' },
  invalid_payload: { code: 3, message: 'Bad request' },
  unsupported_protocol: { code: 5, message: 'Unsupported protocol version' },
};

type Transport = 'polling' | 'websocket';

export class EngineServer {
  readonly path: string;
  readonly #host: SurfaceHost;
  readonly #surface: () => Surface;
  /** What every session of this endpoint shares (its timings, CORS headers, forgetting its sid). */
  readonly #sessionOptions: EngineSessionOptions;
  readonly #cors: EngineCors | undefined;
  readonly #sessions = new Map<string, EngineWire>();
  readonly #headers = (request: IncomingMessage): Record<string, string> => corsHeaders(request, this.#cors);

  /** `surface` is the surface this endpoint serves (what the broker admits its connections for). */
  constructor(host: SurfaceHost, surface: () => Surface, options: EngineOptions = {}) {
    this.#host = host;
    this.#surface = surface;
    this.path = options.path ?? engineDefaults.path;
    this.#cors = options.cors;
    this.#sessionOptions = {
      pingInterval: options.pingInterval ?? engineDefaults.pingInterval,
      pingTimeout: options.pingTimeout ?? engineDefaults.pingTimeout,
      maxPayload: options.maxPayload ?? engineDefaults.maxPayload,
      upgradeTimeout: options.upgradeTimeout ?? engineDefaults.upgradeTimeout,
      headers: this.#headers,
      gone: (wire) => {
        if (this.#sessions.get(wire.sid) === wire) this.#sessions.delete(wire.sid);
      },
    };
  }

  /** Sessions open now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** Whether `url` is this endpoint (with or without its trailing slash). */
  claims(url: URL): boolean {
    return url.pathname === this.path || `${url.pathname}/` === this.path;
  }

  /**
   * For the surface's `accept`: checks a handshake (`EIO=4`, a known
   * transport) and gives the wire a new WebSocket session speaks on. A
   * polling handshake is admitted through the same `accept`; it has its wire.
   */
  accept(url: URL): (socket: Wire) => Wire {
    this.#check(url);
    return (socket) => this.#open(socket);
  }

  /** For the surface's `adopt`: a WebSocket with `?sid=` upgrades that polling session. */
  adopt(upgrade: AdoptedUpgrade): ((socket: Wire) => void) | undefined {
    if (!this.claims(upgrade.url) || !upgrade.url.searchParams.has('sid')) return undefined;
    const transport = this.#check(upgrade.url);
    const session = this.#sessions.get(upgrade.url.searchParams.get('sid')!);
    if (!session) throw new EventwireError('not_found', 'Session ID unknown');
    if (transport !== 'websocket' || !session.upgradable) throw new EventwireError('invalid_payload', 'This session cannot be upgraded');
    return (socket) => session.upgrade(socket);
  }

  /** For the surface's `refuse`: the WebSocket is accepted and closed (engine.io closes an upgrade it will not take). */
  refuse(upgrade: RefusedUpgrade, error: EventwireError): void {
    upgrade.acceptToRefuse((socket) => socket.close(1008, error.code));
  }

  /** For the surface's `http.serveTransport`: handshakes, polls, posts and preflights on the path. */
  async serve(request: IncomingMessage, response: ServerResponse, url: URL): Promise<boolean> {
    if (!this.claims(url)) return false;
    if (request.method === 'OPTIONS') {
      answerPreflight(request, response, this.#cors);
      return true;
    }
    try {
      const transport = this.#check(url, request.method);
      const sid = url.searchParams.get('sid');
      if (sid !== null) {
        const session = this.#sessions.get(sid)!;
        if (transport !== 'polling' || session.transport !== 'polling') throw new EventwireError('invalid_payload', 'The session is not on long-polling');
        if (request.method === 'GET') session.poll(request, response);
        else if (request.method === 'POST') session.post(request, response);
        else throw new EventwireError('invalid_payload', `Long-polling takes GET and POST, not ${request.method}`);
        return true;
      }
      if (transport !== 'polling') throw new EventwireError('invalid_payload', 'A WebSocket handshake must be an upgrade');
      const session = new EngineWire(this.#sessionOptions, newSid());
      try {
        await this.#host.admit(this.#surface(), request, url, session);
      } catch (error) {
        session.terminate();
        throw error;
      }
      this.#sessions.set(session.sid, session);
      // The handshake is the session's first poll: it is answered with the open packet.
      session.poll(request, response);
    } catch (error) {
      this.#answerError(request, response, toEventwireError(error));
    }
    return true;
  }

  #open(socket: Wire): EngineWire {
    const session = new EngineWire(this.#sessionOptions, newSid(), socket);
    this.#sessions.set(session.sid, session);
    return session;
  }


  /**
   * engine.io's checks, in its order: the protocol version, the transport,
   * then a known sid, or a handshake made with GET.
   */
  #check(url: URL, method = 'GET'): Transport {
    if (url.searchParams.get('EIO') !== '4') throw new EventwireError('unsupported_protocol', 'Engine.IO v4 only (EIO=4)');
    const transport = url.searchParams.get('transport');
    if (transport !== 'polling' && transport !== 'websocket') throw new EventwireError('unsupported_transport', 'Transport unknown');
    const sid = url.searchParams.get('sid');
    if (sid !== null) {
      if (this.#sessions.get(sid)?.expireIfOverdue() ?? true) throw new EventwireError('not_found', 'Session ID unknown');
    } else if (method !== 'GET') throw new EventwireError('method_not_allowed', 'Bad handshake method');
    return transport;
  }

  /** A refusal as engine.io answers it (`{code, message}`), with the broker's status for its own refusals (caps, credentials). */
  #answerError(request: IncomingMessage, response: ServerResponse, failure: EventwireError): void {
    if (response.headersSent) return void response.end();
    const known = engineErrors[failure.code];
    const status = known ? 400 : httpStatusFor(failure.code);
    const body = JSON.stringify(known ?? { code: 4, message: failure.message, error: failure.toJSON() });
    response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...this.#headers(request) });
    response.end(body);
  }
}

/** A new session's id: 120 random bits. */
function newSid(): string {
  return randomBytes(15).toString('base64url');
}
