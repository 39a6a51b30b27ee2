// Reading a subscription's history before it goes live (`on(p, h, { since })`,
// `subscribe(p, { since })`): the pages come from the transport, live events
// that arrive meanwhile are held, and at the seam each event is delivered once.
import { toEventwireError } from './errors.js';
import type { HistoryGap } from './gap.js';
import { parseOffset, type ParsedOffset } from './offset.js';
import type { Transport } from './transport/transport.js';

/**
 * Where a subscription starts reading: `'earliest'` (everything still
 * stored), after an offset (one from an event's `offset`), or the newest n
 * (`{ last: 50 }`: a chat page's backlog).
 */
export type HistorySince = 'earliest' | string | { readonly last: number };

/** Page size asked of the transport. */
const PAGE = 1000;

export interface ReplayTarget {
  /** Validates one stored envelope and delivers it to the subscription; resolves with its offset. */
  deliver(raw: unknown): Promise<string | undefined>;
  gap(gap: HistoryGap): void;
  error(error: unknown): void;
  /** False once the subscription was removed: stop reading. */
  active(): boolean;
}

/**
 * Pages through the stored events for `pattern` from `since`, delivering each
 * to `target`. Resolves with the highest offset delivered: live events at or
 * below it were already delivered from history and must be dropped.
 */
export async function replayHistory(transport: Transport, pattern: string, since: HistorySince, target: ReplayTarget): Promise<ParsedOffset | undefined> {
  const sinceOffset = typeof since === 'string' && since !== 'earliest' ? since : undefined;
  if (!transport.readHistory) {
    target.gap({ pattern, reason: 'no_history', lastOffset: sinceOffset });
    return undefined;
  }
  let through: ParsedOffset | undefined;
  let query: { since?: string; last?: number; limit: number } =
    typeof since === 'object' ? { last: since.last, limit: PAGE } : { since, limit: PAGE };
  try {
    for (;;) {
      const page = await transport.readHistory(pattern, query);
      if (page.gap) target.gap({ pattern, reason: page.gap, lastOffset: sinceOffset });
      let lastOffset: string | undefined;
      for (const raw of page.events) {
        if (!target.active()) return through;
        const offset = await target.deliver(raw);
        const parsed = offset === undefined ? undefined : parseOffset(offset);
        if (parsed && (!through || parsed.epoch !== through.epoch || parsed.seq > through.seq)) through = parsed;
        if (offset !== undefined) lastOffset = offset;
      }
      if (!page.more || lastOffset === undefined || !target.active()) return through;
      query = { since: lastOffset, limit: PAGE };
    }
  } catch (error) {
    target.error(toEventwireError(error, 'connection_closed'));
    return through;
  }
}

/** True when a live event was already delivered from history (at or below `through`, same epoch). */
export function deliveredByReplay(offset: unknown, through: ParsedOffset | undefined): boolean {
  if (!through || typeof offset !== 'string') return false;
  const parsed = parseOffset(offset);
  return parsed !== undefined && parsed.epoch === through.epoch && parsed.seq <= through.seq;
}
