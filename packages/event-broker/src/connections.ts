// Every open connection of this broker, whatever its surface: the registry
// the heartbeat walks, the stats count and a graceful shutdown closes.
import type { Connection } from './connection.js';
import type { BehindConnection } from './dashboard/dashboard.js';

export class ConnectionRegistry {
  readonly #open = new Map<string, Connection>();
  readonly #heartbeatMs: number;
  readonly #log: (line: string) => void;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Bytes of connections already closed (the open ones are read from their wires). */
  readonly #closedTraffic = { received: 0, sent: 0 };
  /** Cut for not reading what they were sent (see Connection). */
  slowConsumersCut = 0;
  /** Dropped for missing a heartbeat. */
  heartbeatTimeouts = 0;

  constructor(options: { heartbeatMs: number; log: (line: string) => void }) {
    this.#heartbeatMs = options.heartbeatMs;
    this.#log = options.log;
  }

  get size(): number {
    return this.#open.size;
  }

  get(id: string): Connection | undefined {
    return this.#open.get(id);
  }

  values(): IterableIterator<Connection> {
    return this.#open.values();
  }

  add(connection: Connection): void {
    this.#open.set(connection.id, connection);
  }

  /** It closed: its traffic joins the closed connections' totals. */
  delete(connection: Connection): void {
    if (this.#open.get(connection.id) !== connection) return;
    this.#open.delete(connection.id);
    const traffic = connection.traffic;
    this.#closedTraffic.received += traffic.received;
    this.#closedTraffic.sent += traffic.sent;
  }

  /**
   * Probes every connection each `heartbeatMs`; one that has not answered
   * (nor sent anything) since the last probe is dropped: a peer that vanished
   * without a FIN would otherwise hold its place and its subscriptions forever.
   * A wire that owns its liveness (Engine.IO) is left to its own deadlines.
   */
  startHeartbeat(): void {
    // Idempotent: a broker serving in-process pipes and then listening starts it once.
    if (!(this.#heartbeatMs > 0) || this.#heartbeat) return;
    this.#heartbeat = setInterval(() => {
      for (const connection of this.#open.values()) {
        if (connection.wire.ownsLiveness) continue;
        if (!connection.alive) {
          this.heartbeatTimeouts++;
          this.#log(`conn ${connection.id} dead: no pong within ${this.#heartbeatMs} ms`);
          connection.terminate();
          continue;
        }
        connection.probe();
      }
    }, this.#heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Open connections by surface, starting from `names` (so a surface with none still shows 0). */
  countBySurface(names: Iterable<string>): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const name of names) counts[name] = 0;
    for (const connection of this.#open.values()) counts[connection.surface] = (counts[connection.surface] ?? 0) + 1;
    return counts;
  }

  /** Bytes read and written, closed connections included. */
  traffic(): { received: number; sent: number } {
    const bytes = { ...this.#closedTraffic };
    for (const connection of this.#open.values()) {
      const traffic = connection.traffic;
      bytes.received += traffic.received;
      bytes.sent += traffic.sent;
    }
    return bytes;
  }

  /** The `count` connections with the most data queued and unread, furthest behind first. */
  furthestBehind(count: number): BehindConnection[] {
    const now = Date.now();
    const behind: BehindConnection[] = [];
    for (const connection of this.#open.values()) {
      const unsentBytes = connection.unsentBytes;
      if (unsentBytes === 0) continue;
      const since = connection.backloggedSince;
      behind.push({ id: connection.id, surface: connection.surface, remote: connection.remote, unsentBytes, behindMs: since === undefined ? 0 : now - since });
    }
    return behind.sort((a, b) => b.unsentBytes - a.unsentBytes).slice(0, count);
  }

  /** Closes every connection with `code` and resolves once all are gone (each dropped after `graceMs` at most). */
  async closeAll(code: number, reason: string, graceMs: number): Promise<void> {
    clearInterval(this.#heartbeat);
    await Promise.all(
      [...this.#open.values()].map((connection) => {
        const closed = connection.whenClosed();
        connection.close(code, reason, graceMs);
        return closed;
      }),
    );
  }
}
