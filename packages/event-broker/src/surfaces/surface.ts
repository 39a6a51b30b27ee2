// The contract of a wire surface: one protocol clients speak to the broker
// (eventwire's own, Synap's, Pusher's, the broadcasting socket, next
// Socket.IO). A surface only translates: it decodes its frames into the one
// publish/subscribe API below it (session-ops.ts, the core) and encodes what
// is routed to its sessions. The server holds a list of surfaces and knows
// none by name; the built-in ones are registered in surfaces/builtin.ts, and
// `BrokerOptions.surfaces` adds your own.
//
// A surface is asked, in this order:
//   claims(url)      — is this WebSocket upgrade mine? (before admission, so
//                      even a refusal is in the surface's own terms)
//   accept(upgrade)  — after admission: read the request, throw to refuse
//   (the broker authenticates as `credentials` says and authorizes `subscribe`)
//   open(connection) — the upgrade is accepted: a session speaks on it
// and, for plain HTTP, `http.serveSigned` / `http.serve`.
//
// A connection may also be born from plain HTTP (Engine.IO long-polling):
// `http.serveTransport` answers requests on a path the surface claims, and
// asks `host.admit(…)` for a connection over a wire it built — the same
// admission, accept, authentication and authorization as an upgrade, ending
// in `open`. A WebSocket upgrade that belongs to such a connection (Engine.IO's
// `?sid=`) is handed to it by `adopt`, before admission: it is no new connection.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventwireError } from '@eventwire/event-channel';
import type { Caller } from '../auth/access.js';
import type { BrokerUser } from '../auth/authenticate.js';
import type { Connection } from '../connection.js';
import type { PresenceListener } from '../presence.js';
import type { Subscriber } from '../router.js';
import type { Wire } from '../wire/wire.js';

/**
 * The surfaces a broker may run, by name, and whether clients publish
 * through them. Types that name surfaces (publish origins, authentication
 * requests, connection counts) follow it; a surface of your own adds itself:
 *
 * @example
 * declare module '@eventwire/event-broker' {
 *   interface SurfaceRegistry { echo: { publishes: true } }
 * }
 */
/**
 * Where a client reaches this broker, in the scheme its listener serves:
 * decided once (by the HTTP API, from the listener), so a surface's hint
 * never says `ws://` to a broker serving TLS.
 */
export interface BrokerOrigin {
  /** `ws://host:port` or, under TLS, `wss://host:port` (the request's Host when it named one). */
  readonly ws: string;
  /** `http://host:port` or, under TLS, `https://host:port`. */
  readonly http: string;
  /** Whether the listener serves TLS (pusher-js then needs `forceTLS: true`). */
  readonly secure: boolean;
}

export interface SurfaceRegistry {
  native: { publishes: true };
  synap: { publishes: false };
  broadcasting: { publishes: false };
  pusher: { publishes: true };
  socketio: { publishes: true };
}

/** A registered surface's name. */
export type SurfaceName = Extract<keyof SurfaceRegistry, string>;

/** The surfaces clients publish through (the `surface` of a publish's origin, besides `http` and `broker`). */
export type PublishingSurfaceName = {
  [K in SurfaceName]: SurfaceRegistry[K] extends { publishes: true } ? K : never;
}[SurfaceName];

/**
 * What a surface is, known without a running broker: each factory's
 * `describe…Surface` beside it gives it, the factory takes its paths from it,
 * and generated documents (AsyncAPI's servers) read the same object, so a
 * path is written once.
 */
export interface SurfaceDescription {
  readonly name: SurfaceName;
  /** The WebSocket path clients open; `{name}` parts are `variables` (Pusher's `/app/{key}`). */
  readonly websocket: string;
  /** Other paths reaching the same protocol (the native `/ws`). */
  readonly aliases?: readonly string[];
  /** The values a `{variable}` of the path takes (Pusher's app keys). */
  readonly variables?: { readonly [name: string]: { readonly description: string; readonly values: readonly string[] } };
  /** The protocol, in a few words. */
  readonly title: string;
  /** Who speaks it and where its protocol is described. */
  readonly description: string;
  /** How clients of this surface show credentials: `none` when the protocol has its own (Pusher's app key and signatures). */
  readonly credentials: 'required' | 'optional' | 'none';
}

/** A WebSocket upgrade the surface claimed, after the broker admitted it. */
export interface UpgradeRequest {
  readonly request: IncomingMessage;
  readonly url: URL;
  /** The client's address, as per-address limits count it (see `trustedProxies`). */
  readonly ip: string;
}

/** What `accept` decided. */
export interface Accepted<TState> {
  /** Handed to `open` with the connection. */
  readonly state: TState;
  /** Names the client subscribes by connecting (Synap's `?topics=`): each must be allowed before the upgrade is accepted. */
  readonly subscribes?: readonly string[];
  /**
   * The wire the connection speaks on, built around the accepted WebSocket's
   * (Engine.IO frames every message as a packet and owns its liveness).
   * Absent: the WebSocket's wire itself. Not asked for a connection born
   * from HTTP, whose wire the surface built already.
   */
  readonly wire?: (socket: Wire) => Wire;
}

/** A WebSocket upgrade that belongs to a connection the surface already holds (Engine.IO's transport upgrade). */
export interface AdoptedUpgrade {
  readonly request: IncomingMessage;
  readonly url: URL;
  readonly ip: string;
}

/** An upgrade being refused: the surface may answer in its own protocol (a Pusher close code) instead of an HTTP status. */
export interface RefusedUpgrade {
  readonly request: IncomingMessage;
  /**
   * Accepts the WebSocket only to refuse it in the protocol's terms; the
   * broker drops it if it does not close within a second.
   */
  acceptToRefuse(refuse: (socket: { send(text: string): void; close(code: number, reason: string): void }) => void): void;
}

/** What a session is told when its connection opens. */
export interface SessionStart<TState> {
  readonly connection: Connection;
  readonly state: TState;
  readonly request: IncomingMessage;
  readonly ip: string;
  /**
   * Verifies credentials sent later on this connection (a hello, a refresh),
   * as at the upgrade: the broker's `authenticate`, limited per address.
   * Undefined when the broker does not authenticate.
   */
  readonly authenticate: ((token: string | undefined) => Promise<BrokerUser | undefined>) | undefined;
}

/**
 * One client speaking a surface's protocol on one connection: it receives
 * the client's messages and is the router's subscriber (and presence
 * listener) for that client.
 */
export interface Session extends Subscriber, Partial<Omit<PresenceListener, 'id'>> {
  /** One whole message from the client. */
  receive(data: Buffer, binary: boolean): void;
  /** The connection is gone: drop whatever the session holds (subscriptions, presence, timers). */
  closed(): void;
}

/** The HTTP API of a surface, when it has one. */
export interface SurfaceHttp {
  /**
   * Routes checking credentials of their own (Pusher's app signatures),
   * asked before the broker authenticates the caller. Returns true when it answered.
   */
  serveSigned?(request: IncomingMessage, response: ServerResponse, url: URL, context: { readonly ip: string; readonly traceparent: string | undefined }): Promise<boolean> | boolean;
  /**
   * Plain HTTP requests to a path the surface claims for upgrades, asked
   * before the broker answers 426 (Engine.IO long-polling: handshakes, polls,
   * posts, CORS preflights). A connection born here is admitted through
   * `SurfaceHost.admit`. Returns true when it answered.
   */
  serveTransport?(request: IncomingMessage, response: ServerResponse, url: URL, context: { readonly ip: string }): Promise<boolean> | boolean;
  /** Routes behind the broker's credentials. Returns true when it answered. */
  serve?(request: IncomingMessage, response: ServerResponse, url: URL, caller: Caller): Promise<boolean> | boolean;
}

/**
 * A wire protocol the broker speaks. Implementations live in
 * `surfaces/<name>/` and export a factory; see the header of this file for
 * the order in which the broker asks.
 */
export interface Surface<TState = unknown> {
  readonly name: SurfaceName;
  /** Where it is reached, for the start-up line (`/pubsub/ws`, HTTP routes after `http:`). */
  readonly endpoints: { readonly websocket: string; readonly http?: readonly string[] };
  /**
   * Which credentials a connection must show at the upgrade when the broker
   * authenticates: `required` (checked there: a missing token is anonymous,
   * where allowed), `optional` (checked when given; else the session asks
   * later, a native hello), `none` (the protocol has its own: Pusher's app key).
   */
  readonly credentials: 'required' | 'optional' | 'none';
  /** Whether an upgrade to `url` is this surface's. */
  claims(url: URL): boolean;
  /**
   * An upgrade for a connection the surface already holds (Engine.IO's
   * `?sid=`): returns what takes the accepted WebSocket's wire, and the
   * broker neither admits nor opens a new connection for it; undefined when
   * the upgrade is a new connection. Throws an `EventwireError` to refuse it
   * (an unknown session). Asked after `claims`, before admission.
   */
  adopt?(upgrade: AdoptedUpgrade): ((socket: Wire) => void) | undefined;
  /** Reads an admitted upgrade; throws an `EventwireError` to refuse it. */
  accept(upgrade: UpgradeRequest): Accepted<TState> | Promise<Accepted<TState>>;
  /** Refuses in the protocol's own terms; without it, an HTTP status and a JSON body. */
  refuse?(upgrade: RefusedUpgrade, error: EventwireError): void;
  /** A connection id of the surface's own making (Pusher's `N.N` socket ids); else the broker's. */
  connectionId?(): string;
  /** This protocol's close code for one of eventwire's (see connection.ts). */
  closeCode?(code: number): number;
  /** Starts the session of an accepted connection. */
  open(start: SessionStart<TState>): Session;
  /** Its HTTP routes. */
  readonly http?: SurfaceHttp;
  /**
   * How to connect, when a plain HTTP request reaches a path it claims
   * (answered 426 `upgrade_required`): "open a WebSocket to wss://…".
   * Build URLs from `origin`, never a literal `ws://`: the broker decides
   * the scheme from its listener (wss/https under TLS).
   */
  upgradeHint?(path: string, origin: BrokerOrigin): string;
  /** Lines for the start-up log (a development credential, say). */
  warnings?(): readonly string[];
  /** The broker listens: start what the surface runs beside its sessions (a bridge reading another system). */
  listening?(): void;
  /** The broker is closing: release what the surface holds beside its sessions; the broker waits for it. */
  close?(): void | Promise<void>;
}
