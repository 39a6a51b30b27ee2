// What the broker hands a surface's factory: the one publish/subscribe API
// (the core and the session operations), the access rules, the limits every
// protocol enforces, and the few broker-wide views a protocol's HTTP API
// reports. Nothing here names a surface.
import type { IncomingMessage } from 'node:http';
import type { TopicLimits } from '@eventwire/event-channel';
import type { Access } from '../auth/access.js';
import type { BrokerStats } from '../broker-stats.js';
import type { Connection } from '../connection.js';
import type { BrokerCore } from '../core.js';
import type { SessionOps } from './session-ops.js';
import type { Surface } from './surface.js';
import type { Wire } from '../wire/wire.js';
import type { BrokerLogRecord } from '../log-record.js';

/** Limits every surface enforces, from the broker's options (defaults applied). */
export interface SurfaceLimits {
  readonly maxPayloadBytes: number;
  readonly maxSubscriptions: number;
  readonly topicLimits: TopicLimits;
  readonly heartbeatMs: number;
  readonly helloTimeoutMs: number;
  /** Most missed events one resume replays; past it the client is told of a `replay_limit` gap. */
  readonly maxReplayEvents: number;
  /** What one connection may have queued unread (a replay bigger than this would get it cut). */
  readonly maxOutboundBytes: number;
}

export interface SurfaceHost {
  readonly core: BrokerCore;
  readonly access: Access;
  readonly sessions: SessionOps;
  readonly limits: SurfaceLimits;
  /**
   * Admits a connection born from a plain HTTP request (an Engine.IO
   * long-polling handshake) over `wire`, which the surface built: the same
   * caps, connect rate, `surface.accept`, authentication and authorization
   * as a WebSocket upgrade, then `surface.open` — the session speaks on the
   * returned connection. Rejects with an `EventwireError` when refused (the
   * surface answers the request in its own terms); the wire is then unused.
   */
  admit(surface: Surface, request: IncomingMessage, url: URL, wire: Wire): Promise<Connection>;
  /** An open connection by id (a protocol's HTTP API may close one: Pusher's `terminate_connections`). */
  connection(id: string): Connection | undefined;
  /** The broker's counters now. */
  stats(): BrokerStats;
  log(line: string): void;
  /** A record for the broker's log (its `logger`, else `log` as a line): what has a level and a code of its own. */
  logRecord(record: BrokerLogRecord): void;
}

/** Makes a surface from what the broker offers; what `BrokerOptions.surfaces` lists. */
export type SurfaceFactory = (host: SurfaceHost) => Surface;
