// Cache channels' last events across the brokers of a cluster. The engines
// route by interest (a broker with no subscriber on a topic never sees its
// events), yet a cache channel's last event is for the subscriber still to
// come, on whichever broker it arrives. So each broker tells every other one
// of every cache-channel event that entered through it (one bus message per
// such publish: cache channels are "current value" channels), and a broker
// joining or coming back asks the others for what they hold. Each broker then
// answers its own subscribers from its own map, synchronously, as on one
// broker. It speaks over the engine's ClusterBus, so it works on every engine.
import { toEventwireError, type EventEnvelope, type EventwireError } from '@eventwire/event-channel';
import type { LastEvents } from '../last-events.js';
import type { ClusterBus, ClusterPart } from './cluster-part.js';

/** A cache channel's event entered at one broker. */
const CACHE_SET = '_EVENTWIRE.cache.set';
/** A request every broker answers with what it holds, in parts. */
const CACHE_SYNC = '_EVENTWIRE.cache.sync';

/** Entries per sync answer: events may be up to maxPayloadBytes each, and NATS's max_payload is 1 MiB by default. */
const ENTRIES_PER_PART = 8;
/** How long a broker joining takes the others' answers. */
const SYNC_MS = 2000;

export class ClusterLastEvents implements ClusterPart {
  readonly #cache: LastEvents;
  readonly #node: string;
  readonly #report: (error: EventwireError) => void;
  readonly #accept: (raw: unknown) => EventEnvelope;
  #bus: ClusterBus | undefined;
  #open = false;
  #subscriptions: Array<() => void> = [];

  /**
   * `accept` checks what comes over the bus as an event from the cluster is
   * checked (envelope, shape limits, event map), throwing an `EventwireError`
   * for one that fails: anyone on the NATS, Redis or PostgreSQL server can
   * publish on the brokers' subjects, and a cached event reaches every later
   * subscriber.
   */
  constructor(cache: LastEvents, node: string, host: { report(error: EventwireError): void; accept(raw: unknown): EventEnvelope }) {
    this.#cache = cache;
    this.#node = node;
    this.#report = host.report;
    this.#accept = host.accept;
    cache.watchLocal((envelope) => {
      if (this.#open) this.#bus?.publish(CACHE_SET, { node: this.#node, envelope });
    });
  }

  opened(bus: ClusterBus, first: boolean): void {
    this.#bus = bus;
    this.#open = true;
    if (first) {
      this.#subscriptions = [
        bus.subscribe(CACHE_SET, (body) => {
          const envelope = this.#envelopeOf((body as { envelope?: unknown } | null)?.envelope);
          // Taken as if delivered here (the same rules: a cache topic, not a client event), never sent on again.
          if (envelope) this.#cache.record(envelope, false);
        }),
        bus.subscribe(CACHE_SYNC, (_body, reply) => {
          if (!reply) return;
          let entries: Array<{ envelope: EventEnvelope; ttlMs: number }> = [];
          for (const entry of this.#cache.entries()) {
            entries.push(entry);
            if (entries.length === ENTRIES_PER_PART) {
              reply({ node: this.#node, entries });
              entries = [];
            }
          }
          if (entries.length > 0) reply({ node: this.#node, entries });
        }),
      ];
    }
    void this.#sync(bus);
  }

  lost(): void {
    this.#open = false;
  }

  async close(): Promise<void> {
    this.#open = false;
    for (const stop of this.#subscriptions) stop();
    this.#subscriptions = [];
  }

  /**
   * What the other brokers hold, for the channels this one has nothing of:
   * an event set here meanwhile (live, from the bus or a publish) is newer
   * than any answer, so an answer never replaces it.
   */
  async #sync(bus: ClusterBus): Promise<void> {
    const stop = bus.request(CACHE_SYNC, { node: this.#node }, (body) => {
      const entries = (body as { entries?: unknown } | null)?.entries;
      if (!Array.isArray(entries)) return;
      for (const entry of entries as Array<{ envelope?: unknown; ttlMs?: unknown }>) {
        const envelope = this.#envelopeOf(entry?.envelope);
        const ttlMs = entry?.ttlMs;
        if (!envelope || typeof ttlMs !== 'number' || !(ttlMs > 0)) continue;
        if (!this.#cache.has(envelope.topic)) this.#cache.set(envelope, Math.min(ttlMs, this.#cache.ttlMs));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, SYNC_MS).unref());
    stop();
  }

  #envelopeOf(raw: unknown): EventEnvelope | undefined {
    try {
      return this.#accept(raw);
    } catch (error) {
      this.#report(toEventwireError(error, 'invalid_envelope'));
      return undefined;
    }
  }
}
