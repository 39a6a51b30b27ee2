// History that the cluster keeps rather than this broker (JetStream): read
// here from a local mirror, stored asynchronously, and delivered to local
// subscribers by the mirror when it takes the event (not by the publish).
import type { EventEnvelope } from '@eventwire/event-channel';
import type { HistoryReader, HistoryStore } from '@eventwire/event-channel/protocol';

/** What a stored publish reports back. */
export interface SharedAppend {
  /** The event with its offset. */
  readonly event: EventEnvelope;
  /** Local subscribers it reached (0 for a duplicate). */
  readonly notified: number;
  /** Already stored (the same id within the deduplication window): not delivered again. */
  readonly duplicate: boolean;
}

export interface SharedHistoryStore extends HistoryReader {
  /**
   * Stores an event for the whole cluster, deduplicated by id; resolves once
   * it is stored and this broker's mirror has delivered it to local
   * subscribers. Rejects `unavailable` when it cannot be stored (nothing was
   * delivered then).
   */
  share(envelope: EventEnvelope, except: string | undefined): Promise<SharedAppend>;
}

export function isSharedStore(store: HistoryStore | SharedHistoryStore): store is SharedHistoryStore {
  return 'share' in store;
}
