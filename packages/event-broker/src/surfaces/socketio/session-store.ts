// Socket.IO's connection state recovery, made durable: what a socket was
// (its id, namespace, rooms, `socket.data`, user) is kept under a private
// session id (`pid`) so a client that comes back within
// `maxDisconnectionDuration` gets the same socket and what it missed.
//
// Where sessions live: in the broker's history store itself, as the last
// event of the reserved topic `$sio-session.<pid>`, appended with its own
// retention (one event, kept `maxDisconnectionDuration`) whatever the history
// rules say. That store is already what makes recovery possible at all (the
// missed events are read from it), so a session lives exactly as long and as
// durably as the events it points into: in memory with the memory store,
// across a `kill -9` with the `--data-dir` log store (its records carry their
// own retention and are restored at start), on every broker of a cluster
// with the shared (JetStream) store. A file of our own beside the log would
// have a second format, a second crash story and no cluster story. `$` topics
// are the broker's own: wildcards never deliver, replay or page them and no
// client may subscribe to one without a channel rule naming it, so a pid is
// not readable by clients.
import { randomBytes } from 'node:crypto';
import { toEventwireError } from '@eventwire/event-channel';
import type { HistoryRule } from '@eventwire/event-channel/protocol';
import type { BrokerHistory } from '../../core.js';
import { isSharedStore } from '../../history/shared-store.js';
import type { SurfaceHost } from '../surface-host.js';
import { SOCKETIO_SOURCE } from './socketio-namespace.js';

/** `socketio.recovery`: Socket.IO's `connectionStateRecovery`, kept in the broker's history. */
export interface SocketIoRecoveryOptions {
  /** Longest a client may stay away and still get its session back, in milliseconds. @default 120000 (Socket.IO's) */
  readonly maxDisconnectionDuration?: number;
  /** A recovered socket skips the namespace's CONNECT middleware (the broker's `authenticate` still runs). @default true */
  readonly skipMiddlewares?: boolean;
  /** Most sessions this broker writes within one `maxDisconnectionDuration`; past it new sockets are not recoverable (logged). @default 10000 */
  readonly maxSessions?: number;
}

export const socketIoRecoveryDefaults = {
  maxDisconnectionDuration: 120_000,
  skipMiddlewares: true,
  maxSessions: 10_000,
} as const satisfies Required<SocketIoRecoveryOptions>;

/** One room of a saved session: its topic, and the history head when it was joined (nothing older is replayed for it). */
export interface SavedRoom {
  readonly room: string;
  readonly topic: string;
  readonly since: number;
}

/** What a session keeps of its socket. */
export interface SessionRecord {
  readonly pid: string;
  readonly sid: string;
  readonly nsp: string;
  readonly rooms: readonly SavedRoom[];
  /** The history head when the socket connected: where a client that saw no event yet resumes from. */
  readonly since: number;
  readonly userId?: string;
  /** `socket.data`, when JSON can hold it. */
  readonly data?: Record<string, unknown>;
  /** When the socket disconnected (ms since the epoch); absent while connected, or when the broker died under it. */
  readonly disconnectedAt?: number;
  /** The socket left on purpose (its client's `41`, the server's `disconnect()`): not recoverable. */
  readonly ended?: boolean;
  /**
   * How many times the session was recovered (absent: never). A broker still
   * holding an older socket of the session — a connection it has not yet
   * seen die while its client recovered on another broker — never replaces
   * a newer generation's record with its stale rooms (see save).
   */
  readonly generation?: number;
}

/**
 * The history rule sessions are kept under, first among the broker's rules
 * (server.ts) so no application rule decides their retention: one event per
 * session, `maxDisconnectionDuration`. A store of this broker's own is handed
 * that retention with each append anyway; a cluster's shared history
 * (JetStream) keeps only the subjects its rules name and mirrors an event with
 * its rule's retention, so without this rule a session saved on one broker
 * never reaches another (JetStream refuses a subject no stream captures).
 */
export function sessionHistoryRule(recovery: boolean | SocketIoRecoveryOptions | undefined): HistoryRule | undefined {
  if (!recovery) return undefined;
  const { maxDisconnectionDuration } = { ...socketIoRecoveryDefaults, ...(recovery === true ? {} : recovery) };
  return { pattern: `${SESSION_TOPIC}.*`, maxEvents: 1, maxAgeMs: maxDisconnectionDuration };
}

const SESSION_TOPIC = '$sio-session';

/** The reserved topic a session is kept on. */
export function sessionTopic(pid: string): string {
  return `${SESSION_TOPIC}.${pid}`;
}

/** A new private session id: 128 random bits, as unguessable as a token (it names rooms a recovery may skip middleware for). */
export function newPid(): string {
  return randomBytes(16).toString('base64url');
}

const PID = /^[A-Za-z0-9_-]{22}$/;

export class SocketIoSessionStore {
  readonly options: Required<SocketIoRecoveryOptions>;
  readonly #host: SurfaceHost;
  /** When this broker process started: the disconnect time of a session whose broker died under it. */
  readonly #startedAt = Date.now();
  /** Sessions this broker wrote, by pid → when they stop counting against `maxSessions`. */
  readonly #written = new Map<string, number>();
  #capLogged = 0;

  constructor(host: SurfaceHost, options: SocketIoRecoveryOptions) {
    this.#host = host;
    this.options = { ...socketIoRecoveryDefaults, ...options };
  }

  /** The history sessions are kept in; undefined when the broker keeps none (recovery then never succeeds). */
  get history(): BrokerHistory | undefined {
    return this.#host.core.history;
  }

  /**
   * Saves (replaces) a session. Never throws: a session that cannot be
   * written only means the client gets a fresh one later (logged).
   */
  save(record: SessionRecord): void {
    const history = this.history;
    if (!history) return;
    if (!this.#admit(record.pid)) return;
    // A newer generation owns the session (it was recovered elsewhere, or
    // here on another connection): this socket's record is stale. Read from
    // this broker's copy of the history, so in a cluster it holds once the
    // newer record has reached this broker — the recovery itself and every
    // join after it are written well before a dead connection is noticed.
    const current = history.store.readLast(sessionTopic(record.pid), 1)[0]?.envelope.data as SessionRecord | undefined;
    if ((current?.generation ?? 0) > (record.generation ?? 0)) return;
    const { core } = this.#host;
    const envelope = core.createEnvelope(sessionTopic(record.pid), record, { source: SOCKETIO_SOURCE });
    const retention = { maxEvents: 1, maxAgeMs: this.options.maxDisconnectionDuration };
    try {
      const store = history.store;
      if (isSharedStore(store)) {
        store.share(envelope, undefined).catch((error: unknown) => this.#failed(error));
      } else store.append(envelope, retention);
    } catch (error) {
      this.#failed(error);
    }
  }

  /**
   * The session `pid` names, if it is known and not expired: disconnected at
   * most `maxDisconnectionDuration` ago (a session written by a broker that
   * died counts as disconnected when this one started; one whose socket is
   * `live` here, as disconnected now).
   */
  find(pid: unknown, live: (sid: string) => boolean): SessionRecord | undefined {
    if (typeof pid !== 'string' || !PID.test(pid)) return undefined;
    const found = this.history?.store.readLast(sessionTopic(pid), 1)[0];
    if (!found) return undefined;
    const record = found.envelope.data as SessionRecord;
    if (typeof record !== 'object' || record === null || record.pid !== pid || record.ended === true) return undefined;
    const away = record.disconnectedAt ?? (live(record.sid) ? Date.now() : this.#startedAt);
    if (Date.now() - away > this.options.maxDisconnectionDuration) return undefined;
    return record;
  }

  /** Within `maxSessions` sessions per `maxDisconnectionDuration` (a pid already written always is). */
  #admit(pid: string): boolean {
    const now = Date.now();
    if (this.#written.has(pid)) {
      this.#written.set(pid, now + this.options.maxDisconnectionDuration);
      return true;
    }
    if (this.#written.size >= this.options.maxSessions) {
      for (const [each, until] of this.#written) if (until < now) this.#written.delete(each);
    }
    if (this.#written.size >= this.options.maxSessions) {
      if (now - this.#capLogged > 60_000) {
        this.#capLogged = now;
        this.#host.log(`socketio: ${this.options.maxSessions} recovery sessions kept (recovery.maxSessions): new sockets are not recoverable until some expire`);
      }
      return false;
    }
    this.#written.set(pid, now + this.options.maxDisconnectionDuration);
    return true;
  }

  #failed(error: unknown): void {
    const failure = toEventwireError(error, 'unavailable');
    this.#host.log(`socketio: a recovery session could not be saved: ${failure.code} ${failure.message}`);
  }
}

/** `socket.data` as JSON holds it, or undefined when it cannot (a cycle, a BigInt). */
export function jsonData(data: Record<string, unknown>): Record<string, unknown> | undefined {
  try {
    const text = JSON.stringify(data);
    return text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    return undefined;
  }
}
