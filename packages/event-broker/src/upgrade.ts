// Admission of WebSocket upgrades, for every surface alike: find the surface
// that claims the path, admit (caps and the connect rate first: over them,
// nothing else is spent), let the surface read the request, authenticate as
// it says, authorize what it subscribes by connecting, and only then accept
// the socket. A refusal costs the broker one check and no connection state,
// and reaches the client in its surface's terms.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { EventwireError, toEventwireError } from '@eventwire/event-channel';
import { createEventIdGenerator } from '@eventwire/event-channel/protocol';
import { WebSocketServer } from 'ws';
import type { Access } from './auth/access.js';
import { findToken, type BrokerUser } from './auth/authenticate.js';
import { Connection } from './connection.js';
import type { ConnectionRegistry } from './connections.js';
import type { Router } from './router.js';
import { refuseSocket, requestUrl } from './http.js';
import type { OutboundBudget } from './outbound-budget.js';
import type { Accepted, RefusedUpgrade, Session, Surface } from './surfaces/surface.js';
import type { Wire } from './wire/wire.js';
import { TickFlusher, WsWire } from './wire/ws-wire.js';

/** What admission decided for one connection. */
interface Admission {
  readonly accepted: Accepted<unknown>;
  readonly user: BrokerUser | undefined;
}

/**
 * What one upgrade is accepted or refused over: the socket of an HTTP
 * upgrade, or an in-process pipe. Admission is the same for both.
 */
export interface UpgradeCarrier {
  /** The client went away while it was admitted. */
  gone(): boolean;
  /** Completes the upgrade; `open` gets the wire the connection speaks on. */
  accept(open: (wire: Wire) => void): void;
  /** Refuses with a status (an HTTP answer to the upgrade request). */
  refuse(failure: EventwireError): void;
  /** Completes the upgrade only to refuse in the surface's protocol terms (Surface.refuse). */
  readonly acceptToRefuse: RefusedUpgrade['acceptToRefuse'];
}

/** How long a connect refused in its protocol's terms gets to read its close frame before the socket is dropped. */
const REFUSED_CLOSE_GRACE_MS = 1000;

export interface UpgradeOptions {
  readonly surfaces: readonly Surface[];
  readonly access: Access;
  readonly connections: ConnectionRegistry;
  /** Stops routing to a connection cut as a slow consumer at once (its close comes later). */
  readonly router: Router;
  readonly budget: OutboundBudget;
  readonly maxPayloadBytes: number;
  readonly maxOutboundBytes: number;
  readonly slowConsumerMs: number;
  /** The address per-IP caps and limits count a request against. */
  clientAddress(request: IncomingMessage): string;
  /** Throws while the broker cannot serve (closing, or still loading the cluster's history). */
  assertServing(): void;
  log(line: string): void;
}

export class UpgradeAdmission {
  readonly #options: UpgradeOptions;
  readonly #nextConnectionId = createEventIdGenerator();
  /** One end-of-tick flush for every connection written to in that tick. */
  readonly #flusher = new TickFlusher();
  readonly #wss: WebSocketServer;

  constructor(options: UpgradeOptions) {
    this.#options = options;
    // The protocol limit is enforced per message by each surface; this hard
    // cap (4×) only protects memory from absurd frames, closing with 1009.
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayloadBytes * 4, perMessageDeflate: false });
  }

  /** The HTTP server's `upgrade` event. */
  handle(request: IncomingMessage, socket: Socket, head: Buffer): Promise<void> {
    return this.upgrade(request, {
      gone: () => socket.destroyed,
      accept: (open) => this.#wss.handleUpgrade(request, socket, head, (ws) => open(new WsWire(ws, this.#flusher))),
      refuse: (failure) => refuseSocket(socket, failure),
      acceptToRefuse: (refuse) => this.#acceptToRefuse(request, socket, head, refuse),
    });
  }

  /**
   * One upgrade over whatever carries it: a socket (`handle`) or an
   * in-process pipe (the test kit's). Everything an upgrade decides —
   * which surface, admission, authentication, the refusal in the surface's
   * terms — is decided here, once, whatever the carrier.
   */
  async upgrade(request: IncomingMessage, carrier: UpgradeCarrier): Promise<void> {
    const ip = this.#options.clientAddress(request);
    let surface: Surface | undefined;
    let admission: Admission;
    try {
      const url = requestUrl(request);
      // Before admission: even a refusal is then in the surface's own terms.
      surface = this.#options.surfaces.find((each) => each.claims(url));
      // A transport upgrade of a connection the surface holds (Engine.IO's ?sid=): admitted when it was born.
      const adopter = surface?.adopt?.({ request, url, ip });
      if (adopter) {
        if (carrier.gone()) return;
        return carrier.accept(adopter);
      }
      if (!surface) {
        this.#options.assertServing();
        this.#options.access.admit(ip);
        this.#options.access.release(ip);
        throw new EventwireError('not_found', `No WebSocket endpoint at ${url.pathname}`);
      }
      admission = await this.#admit(surface, request, url, ip);
    } catch (error) {
      const failure = toEventwireError(error);
      if (surface?.refuse) return surface.refuse({ request, acceptToRefuse: carrier.acceptToRefuse }, failure);
      return carrier.refuse(failure);
    }
    if (carrier.gone()) return this.#options.access.release(ip);
    const claimed = surface;
    carrier.accept((carried) => {
      this.#open(admission.accepted.wire ? admission.accepted.wire(carried) : carried, request, ip, claimed, admission);
    });
  }

  /**
   * Admits a connection born from a plain HTTP request over a wire the
   * surface built (SurfaceHost.admit): the upgrade's admission, then its
   * session opens on the returned connection.
   */
  async admitHttp(surface: Surface, request: IncomingMessage, url: URL, wire: Wire): Promise<Connection> {
    const ip = this.#options.clientAddress(request);
    const admission = await this.#admit(surface, request, url, ip);
    if (request.socket.destroyed) {
      this.#options.access.release(ip);
      throw new EventwireError('connection_closed', 'The client went away while it was admitted');
    }
    const connection = this.#open(wire, request, ip, surface, admission);
    if (!connection) throw new EventwireError('internal', `The ${surface.name} session failed to open`);
    return connection;
  }

  /** Stops the WebSocket server (the connections are closed by the registry). */
  close(): void {
    this.#wss.close();
  }

  /**
   * Caps and the connect rate first (over them, nothing else is spent), the
   * surface's accept, authentication as it says, authorization of what it
   * subscribes by connecting. Throws the refusal, with the address released.
   */
  async #admit(surface: Surface, request: IncomingMessage, url: URL, ip: string): Promise<Admission> {
    const { access } = this.#options;
    this.#options.assertServing();
    access.admit(ip);
    try {
      const accepted = await surface.accept({ request, url, ip });
      const token = findToken(url, request.headers);
      // Checked before the socket is accepted: wrong credentials cost the
      // broker one verification, no connection state. A surface whose
      // credentials are optional here (a native client) may send them later.
      let user: BrokerUser | undefined;
      if (access.authenticates && (surface.credentials === 'required' || (surface.credentials === 'optional' && token !== undefined))) {
        user = await this.#authenticate(request, token, surface.name);
      }
      if (accepted.subscribes && accepted.subscribes.length > 0) await access.authorize(user, accepted.subscribes, 'subscribe');
      return { accepted, user };
    } catch (error) {
      access.release(ip);
      throw error;
    }
  }

  #open(wire: Wire, request: IncomingMessage, ip: string, surface: Surface, { accepted, user }: Admission): Connection | undefined {
    const { access, connections, log } = this.#options;
    // Assigned below, once the connection it speaks on exists; onSlow only runs later.
    let session: Session | undefined;
    const connection = new Connection({
      id: surface.connectionId?.() ?? this.#nextConnectionId(),
      wire,
      surface: surface.name,
      remote: `${request.socket.remoteAddress}:${request.socket.remotePort}`,
      maxOutboundBytes: this.#options.maxOutboundBytes,
      slowConsumerMs: this.#options.slowConsumerMs,
      budget: this.#options.budget,
      ...(surface.closeCode && { closeCode: surface.closeCode }),
      onSlow: (slow) => {
        connections.slowConsumersCut++;
        if (session) this.#options.router.remove(session);
        log(`conn ${slow.id} cut: slow consumer (${slow.unsentBytes} bytes unsent)`);
      },
    });
    connection.authenticated(user);
    try {
      session = surface.open({
        connection,
        state: accepted.state,
        request,
        ip,
        authenticate: access.authenticates ? this.#authenticator(request, surface.name) : undefined,
      });
    } catch (error) {
      // A surface that cannot open a session must not leave a connection nobody reads.
      log(`conn ${connection.id} ${surface.name} session failed to open: ${toEventwireError(error).message}`);
      access.release(ip);
      wire.terminate();
      return undefined;
    }
    const opened = session;
    connections.add(connection);
    connection.start({
      message: (data, binary) => opened.receive(data, binary),
      error: (error) => log(`conn ${connection.id} socket error: ${error.message}`),
      closed: (code, reason) => {
        connections.delete(connection);
        access.release(ip);
        opened.closed();
        log(`conn ${connection.id} closed ${code}${reason.length ? ` ${reason}` : ''}`);
      },
    });
    const subscribes = accepted.subscribes ?? [];
    log(`conn ${connection.id} open ${surface.name} from ${connection.remote}${subscribes.length ? ` topics=${subscribes.join(',')}` : ''}`);
    return connection;
  }

  /**
   * The session's later authentication (SessionStart.authenticate): it
   * keeps the headers and the address, not the request — a closure over the
   * request would keep the whole IncomingMessage (its raw headers, its
   * streams' state) for the connection's life.
   */
  #authenticator(request: IncomingMessage, surface: Surface['name']): (token: string | undefined) => Promise<BrokerUser | undefined> {
    const { access } = this.#options;
    const headers = request.headers;
    const remoteAddress = this.#options.clientAddress(request);
    return (token) => access.authenticate({ token, headers, remoteAddress, surface });
  }

  /** The broker's authentication for one request (anonymous only where allowed; failures limited per address). */
  #authenticate(request: IncomingMessage, token: string | undefined, surface: Surface['name']): Promise<BrokerUser | undefined> {
    return this.#options.access.authenticate({ token, headers: request.headers, remoteAddress: this.#options.clientAddress(request), surface });
  }

  /**
   * Accepts the WebSocket only to refuse it in its protocol's terms; it is
   * dropped if it has not closed within a second.
   */
  #acceptToRefuse(
    request: IncomingMessage,
    socket: Socket,
    head: Buffer,
    refuse: (socket: { send(text: string): void; close(code: number, reason: string): void }) => void,
  ): void {
    if (socket.destroyed) return;
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      refuse({ send: (text) => ws.send(text), close: (code, reason) => ws.close(code, reason) });
      const timer = setTimeout(() => ws.terminate(), REFUSED_CLOSE_GRACE_MS);
      timer.unref();
      ws.once('close', () => clearTimeout(timer));
    });
  }
}
