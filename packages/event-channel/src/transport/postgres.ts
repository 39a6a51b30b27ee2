// postgres:// — a channel over PostgreSQL's LISTEN/NOTIFY, through
// postgres.js (an optional peer, loaded only when this scheme is used;
// chosen over pg by measurement, see the README). Every event is a NOTIFY
// on one channel (`eventwire` unless configured) whose payload is the
// envelope's JSON, so `NOTIFY eventwire, '{…}'` from SQL or a trigger takes
// part; each connection filters by its own patterns (NOTIFY has no
// wildcards).
//
// NOTIFY payloads stop at 8,000 bytes. A larger event is stored in a table
// and announced by id in the same statement, so the row is committed before
// any listener hears of it; listeners read it back in arrival order, and rows
// older than `largeEventRetentionMs` are deleted by later large publishes.
// PostgreSQL keeps no notifications for a connection that was away: every
// live subscription gets a `gap` after the listening connection is back.
import type { Sql } from 'postgres';
import { fullJitterBackoff } from '../backoff.js';
import { EventwireError, type ErrorCode } from '../errors.js';
import { answersWithin, settlesWithin } from '../deadline.js';
import { loadOptionalPeer } from './optional-peer.js';
import { PubSubTransport, type PubSubBus, type PubSubBusEvents, type PubSubTransportOptions } from './pubsub-transport.js';

/** Options of {@link PostgresTransport}. */
export interface PostgresTransportOptions extends PubSubTransportOptions {
  /** `postgres://user:password@host:5432/db` (or `postgresql://`); query parameters as postgres.js reads them (`?sslmode=require`). */
  readonly url: string;
  /** The NOTIFY channel every event goes on. @default 'eventwire' */
  readonly channel?: string;
  /** The table that holds events too large for a NOTIFY payload (created when first needed). @default 'eventwire_large_events' */
  readonly table?: string;
  /** How long a large event's row is kept for listeners to read. @default 300_000 */
  readonly largeEventRetentionMs?: number;
  /** Connections for publishing and reading large events. @default 4 */
  readonly poolSize?: number;
  /** Anything else postgres.js's options accept (ssl, …), passed through (and winning). */
  readonly postgresOptions?: Readonly<Record<string, unknown>>;
}

/** Defaults of {@link PostgresTransportOptions}. */
export const postgresTransportDefaults = {
  channel: 'eventwire',
  table: 'eventwire_large_events',
  largeEventRetentionMs: 300_000,
  poolSize: 4,
  requestTimeoutMs: 10_000,
} as const;

/** PostgreSQL's limit on a NOTIFY payload is 8,000 bytes, terminator included. */
export const NOTIFY_PAYLOAD_LIMIT = 7999;

/** How a stored large event is announced: `@ref:<uuid>:<topic>`. */
const REF_PREFIX = '@ref:';
/** A connection's marker for `flush` (`@flush:<uuid>`); other listeners ignore it. */
const FLUSH_PREFIX = '@flush:';

type PostgresModule = { default: typeof import('postgres') };

/** A channel over PostgreSQL LISTEN/NOTIFY. */
export class PostgresTransport extends PubSubTransport {
  constructor(options: PostgresTransportOptions) {
    super(new PostgresBus(options), options);
  }
}

class PostgresBus implements PubSubBus {
  readonly kind = 'postgres';
  readonly #options: PostgresTransportOptions;
  readonly #channel: string;
  readonly #table: string;
  #events: PubSubBusEvents | undefined;
  #postgres: typeof import('postgres') | undefined;
  /** One connection that LISTENs and nothing else. */
  #listener: Sql | undefined;
  /** One connection for publishing: one publisher's events are NOTIFYed, so delivered, in the order emitted. */
  #publisher: Sql | undefined;
  /** Reading large events' bodies, creating their table, cleaning it up. */
  #sql: Sql | undefined;
  /** Set while a publish waits (for the table) before being sent: later ones queue behind it. */
  #blocked: Promise<void> | undefined;
  /** Flush markers sent and not yet heard back. */
  readonly #flushes = new Map<string, () => void>();
  #closed = false;
  #connecting = false;
  #wasReady = false;
  #missed = false;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #wakeRetry: (() => void) | undefined;
  /** Deliveries waiting for a large event's body, in arrival order. */
  #tail: Promise<void> | undefined;
  #tableReady: Promise<void> | undefined;
  #lastCleanup = 0;

  constructor(options: PostgresTransportOptions) {
    this.#options = options;
    this.#channel = options.channel ?? postgresTransportDefaults.channel;
    this.#table = options.table ?? postgresTransportDefaults.table;
  }

  open(events: PubSubBusEvents): void {
    this.#events = events;
    void loadOptionalPeer<PostgresModule>('postgres', 'postgres:// needs its client').then(
      (module) => this.#start(module.default),
      (error: EventwireError) => events.failed(error),
    );
  }

  #start(postgres: typeof import('postgres')): void {
    if (this.#closed) return;
    this.#postgres = postgres;
    this.#makeClients();
    void this.#connect(1);
  }

  /** The three postgres.js instances (listener, publisher, pool), made anew when an attempt hangs. */
  #makeClients(): void {
    const postgres = this.#postgres!;
    const timeoutSeconds = Math.ceil((this.#options.requestTimeoutMs ?? postgresTransportDefaults.requestTimeoutMs) / 1000);
    const common = {
      connect_timeout: timeoutSeconds,
      // postgres.js waits its own growing delay (up to 20 s) before reconnecting a closed connection;
      // this bus paces its attempts with `backoff` already, and a second, hidden wait kept it down long after the server was back.
      backoff: () => 0,
      onnotice: () => {},
      connection: { application_name: 'eventwire-js' },
      ...this.#options.postgresOptions,
    };
    this.#publisher = postgres(this.#options.url, { max: 1, ...common });
    this.#sql = postgres(this.#options.url, { max: this.#options.poolSize ?? postgresTransportDefaults.poolSize, ...common });
    // postgres.js calls `onnotify` for every notification on this instance's connection (what its own listen() uses).
    const listener: Sql = postgres(this.#options.url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      // Only the current listener's close is a loss (an instance replaced after a hung attempt closes too).
      onclose: () => {
        if (this.#listener === listener) this.#lost();
      },
      onnotify: (channel: string, payload: string) => this.#notified(channel, payload),
      ...common,
    } as Parameters<typeof postgres>[1]);
    this.#listener = listener;
  }

  /** Ends the current instances without waiting for them (they are being replaced, or the bus closes). */
  #dropClients(timeoutSeconds: number): Promise<unknown> {
    return Promise.all([this.#listener?.end({ timeout: timeoutSeconds }), this.#publisher?.end({ timeout: timeoutSeconds }), this.#sql?.end({ timeout: timeoutSeconds })].map((ending) => ending?.catch(() => {})));
  }

  /** LISTEN (again) and check the connections, retrying with backoff until all work. */
  async #connect(firstAttempt: number): Promise<void> {
    if (this.#connecting) return;
    this.#connecting = true;
    const backoff = this.#options.backoff ?? defaultBackoff;
    // One attempt may not hang the bus: past this it is given up and the connections are made anew.
    const attemptMs = Math.min(this.#options.requestTimeoutMs ?? postgresTransportDefaults.requestTimeoutMs, ATTEMPT_TIMEOUT_MS);
    for (let attempt = firstAttempt; !this.#closed; attempt++) {
      try {
        // One LISTEN covers every pattern: each one there now is live once it succeeds.
        this.#events!.patterns();
        await answersWithin(
          (async () => {
            await this.#listener!.unsafe(`LISTEN ${quoteIdentifier(this.#channel)}`);
            await Promise.all([this.#publisher!`select 1`, this.#sql!`select 1`]);
          })(),
          attemptMs,
          'PostgreSQL',
        );
        if (this.#closed) return;
        this.#connecting = false;
        const missed = this.#missed;
        this.#missed = false;
        this.#wasReady = true;
        this.#events!.ready(missed);
        return;
      } catch (error) {
        if (this.#closed) return;
        const failure = fromPostgresError(error);
        if (failure.code !== 'connection_closed' && failure.code !== 'timeout') {
          this.#connecting = false;
          this.#events!.failed(failure);
          return;
        }
        if (failure.code === 'timeout') {
          // A connection that neither answers nor fails: replace all three (a notification sent meanwhile may be lost: a gap).
          if (this.#wasReady) this.#missed = true;
          void this.#dropClients(0);
          this.#makeClients();
        }
        const delayMs = backoff(attempt);
        this.#events!.reconnecting(attempt, delayMs, failure);
        await new Promise<void>((resolve) => {
          this.#wakeRetry = resolve;
          this.#retryTimer = setTimeout(resolve, delayMs);
        });
      }
    }
  }

  /** The listening connection closed: what is published until it is back is missed. */
  #lost(): void {
    if (this.#closed) return;
    if (this.#wasReady) this.#missed = true;
    this.#reconnect();
  }

  #reconnect(): void {
    if (this.#connecting || this.#closed) return;
    this.#events!.reconnecting(1, 0, new EventwireError('connection_closed', 'Lost the PostgreSQL connection; reconnecting'));
    void this.#connect(2);
  }

  #notified(channel: string, payload: string): void {
    if (channel !== this.#channel || this.#closed) return;
    if (payload.startsWith(REF_PREFIX)) return this.#announced(payload);
    if (payload.startsWith(FLUSH_PREFIX)) {
      // Another connection's marker is not ours to wait for.
      const heard = this.#flushes.get(payload);
      if (heard) this.#tail ? this.#inOrder(heard) : heard();
      return;
    }
    if (this.#tail) return this.#inOrder(() => this.#events!.message(payload, this.#channel));
    this.#events!.message(payload, this.#channel);
  }

  /** A large event: read its body, keeping arrival order for what follows. */
  #announced(reference: string): void {
    const rest = reference.slice(REF_PREFIX.length);
    const colon = rest.indexOf(':');
    const id = rest.slice(0, colon);
    const topic = rest.slice(colon + 1);
    if (colon === -1 || !this.#events!.wants(topic)) return;
    const read = this.#sql!<Array<{ payload: string }>>`select payload from ${this.#sql!(this.#table)} where id = ${id}`;
    // Started now (concurrently with earlier reads), handed on in order.
    read.catch(() => {});
    this.#inOrder(async () => {
      let rows: Array<{ payload: string }>;
      try {
        rows = await read;
      } catch (error) {
        this.#events!.error(fromPostgresError(error));
        return this.#events!.missed(topic, 'no_history');
      }
      const row = rows[0];
      if (!row) return this.#events!.missed(topic, 'trimmed');
      this.#events!.message(row.payload, this.#channel);
    });
  }

  #inOrder(step: () => void | Promise<void>): void {
    const run = (this.#tail ?? Promise.resolve()).then(step);
    this.#tail = run;
    void run.then(() => {
      if (this.#tail === run) this.#tail = undefined;
    });
  }

  keysFor(): readonly string[] {
    return [this.#channel];
  }

  async publish(topic: string, payload: string): Promise<void> {
    try {
      await this.#send(topic, payload);
    } catch (error) {
      const failure = fromPostgresError(error);
      // The publishing connection went away while the listener may still be up: reconnect both, then this goes out again.
      if (failure.code === 'connection_closed') this.#reconnect();
      throw failure;
    }
  }

  /**
   * Sends in call order on the one publishing connection. A small event is
   * one NOTIFY; a large one waits for its table first, and what is
   * published meanwhile queues behind it.
   */
  #send(topic: string, payload: string): Promise<unknown> {
    const large = utf8Length(payload) > NOTIFY_PAYLOAD_LIMIT;
    if (!large && this.#blocked === undefined) return this.#statement(topic, payload, false).execute();
    const prior = this.#blocked ?? Promise.resolve();
    // Resolves with the statement once it is sent (wrapped: a query is a thenable, and would be awaited).
    const sent = prior.then(async () => {
      if (large) await this.#ensureTable();
      return { query: this.#statement(topic, payload, large).execute() };
    });
    const gate: Promise<void> = sent.then(
      () => {
        if (this.#blocked === gate) this.#blocked = undefined;
      },
      () => {
        if (this.#blocked === gate) this.#blocked = undefined;
      },
    );
    this.#blocked = gate;
    return sent.then(({ query }) => query);
  }

  #statement(topic: string, payload: string, large: boolean) {
    const sql = this.#publisher!;
    if (!large) return sql`select pg_notify(${this.#channel}, ${payload})`;
    const id = globalThis.crypto.randomUUID();
    this.#cleanUp();
    // One statement, one transaction: the row is there before anyone is told.
    return sql`with stored as (insert into ${sql(this.#table)} (id, payload) values (${id}, ${payload}) returning id)
      select pg_notify(${this.#channel}, ${`${REF_PREFIX}${id}:${topic}`}) from stored`;
  }

  #ensureTable(): Promise<void> {
    this.#tableReady ??= (async () => {
      const sql = this.#sql!;
      const table = sql(this.#table);
      try {
        await sql`create table if not exists ${table} (id uuid primary key, payload text not null, created_at timestamptz not null default now())`;
        await sql`create index if not exists ${sql(`${this.#table}_created_at`)} on ${table} (created_at)`;
      } catch (error) {
        // Two publishers creating it at once: one loses the race on the catalog, and the table is there.
        const code = (error as { code?: string }).code;
        if (code !== '23505' && code !== '42P07') throw error;
      }
    })().catch((error: unknown) => {
      this.#tableReady = undefined;
      throw error;
    });
    return this.#tableReady;
  }

  /**
   * At most once a minute: rows older than the retention go. On the
   * publishing connection, ahead of the insert that asked for it (so done
   * by the time that publish is acknowledged).
   */
  #cleanUp(): void {
    const now = Date.now();
    if (now - this.#lastCleanup < 60_000) return;
    this.#lastCleanup = now;
    const retentionSeconds = (this.#options.largeEventRetentionMs ?? postgresTransportDefaults.largeEventRetentionMs) / 1000;
    const sql = this.#publisher!;
    sql`delete from ${sql(this.#table)} where created_at < now() - make_interval(secs => ${retentionSeconds})`.execute().catch((error: unknown) =>
      this.#events?.error(fromPostgresError(error)),
    );
  }

  async listen(): Promise<void> {
    // Everything arrives on the one channel LISTENed since ready; the transport filters.
  }

  async unlisten(): Promise<void> {
    await this.flush();
  }

  async flush(): Promise<void> {
    // NOTIFYs reach a listener in commit order: once a marker sent after
    // everything published so far comes back, all of it has been handed on.
    const marker = `${FLUSH_PREFIX}${globalThis.crypto.randomUUID()}`;
    const heard = new Promise<void>((resolve) => this.#flushes.set(marker, resolve));
    try {
      await this.#send('', marker);
      await settlesWithin(heard, this.#options.requestTimeoutMs ?? postgresTransportDefaults.requestTimeoutMs);
    } finally {
      this.#flushes.delete(marker);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retryTimer);
    this.#wakeRetry?.();
    await this.#dropClients(1);
  }
}

/** How long one connect attempt (LISTEN and a round trip on each connection) may take at most. */
const ATTEMPT_TIMEOUT_MS = 3000;

/** A double-quoted SQL identifier. */
function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** UTF-8 byte length, counted only when the text could be near the limit. */
function utf8Length(text: string): number {
  if (text.length * 3 <= NOTIFY_PAYLOAD_LIMIT) return text.length;
  return new TextEncoder().encode(text).length;
}

const connectionCodes = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ETIMEDOUT',
  // admin_shutdown, crash_shutdown, cannot_connect_now (starting up or shutting down)
  '57P01',
  '57P02',
  '57P03',
]);

/** postgres.js's errors as eventwire codes. */
export function fromPostgresError(error: unknown): EventwireError {
  if (error instanceof EventwireError) return error;
  const code = String((error as { code?: unknown }).code ?? '');
  const message = error instanceof Error ? error.message : String(error);
  const mapped: ErrorCode =
    code === '28P01' || code === '28000'
      ? 'unauthorized'
      : code === '42501'
        ? 'forbidden'
        : code === 'CONNECT_TIMEOUT'
          ? 'timeout'
          : connectionCodes.has(code) || code.startsWith('08')
            ? 'connection_closed'
            : 'internal';
  return new EventwireError(mapped, `PostgreSQL: ${message}${code ? ` (${code})` : ''}`, { cause: error });
}

const defaultBackoff = fullJitterBackoff();
