// One page of stored events for a pattern: the reading rules every place that
// serves history shares (the broker's history frames and GET /history, and
// memory://), so `since`, `last`, limits and gaps mean the same everywhere.
import type { EventEnvelope } from '../envelope.js';
import { EventwireError } from '../errors.js';
import type { GapReason } from '../gap.js';
import { parseOffset, type ParsedOffset } from '../offset.js';
import type { HistoryRules } from './rules.js';
import type { HistoryReader } from './store.js';

/** Most events one page holds. */
export const MAX_HISTORY_PAGE = 1000;

/** What a page is asked for: after `since` (an offset, or `'earliest'`, the default) or the `last` n. */
export interface PageQuery {
  readonly since?: string | undefined;
  readonly last?: number | undefined;
  readonly limit?: number | undefined;
}

/** A page, oldest first. */
export interface StoredPage {
  readonly epoch: string;
  readonly events: readonly EventEnvelope[];
  /** More stored events follow the last one. */
  readonly more: boolean;
  readonly gap?: GapReason;
}

/**
 * Reads one page (at most {@link MAX_HISTORY_PAGE}). `visible` drops events a
 * reader of `pattern` must not see (the broker's guarded channels); it is
 * applied after paging, so `more` still says whether the store holds more.
 */
export function readStoredPage(
  history: { readonly store: HistoryReader; readonly rules: HistoryRules } | undefined,
  pattern: string,
  query: PageQuery,
  visible: (topic: string) => boolean = () => true,
): StoredPage {
  if (!history || !history.rules.covers(pattern)) return { epoch: history?.store.epoch ?? '', events: [], more: false, gap: 'no_history' };
  const { store } = history;
  const limit = Math.min(query.limit ?? MAX_HISTORY_PAGE, MAX_HISTORY_PAGE);
  const shown = (events: ReadonlyArray<{ readonly envelope: EventEnvelope }>): EventEnvelope[] =>
    events.filter((event) => visible(event.envelope.topic)).map((event) => event.envelope);
  if (query.last !== undefined) {
    // The newest n: nothing stored follows them (what comes next is live).
    return { epoch: store.epoch, events: shown(store.readLast(pattern, Math.min(query.last, MAX_HISTORY_PAGE))), more: false };
  }
  let after = 0;
  let gap: GapReason | undefined;
  if (query.since !== undefined && query.since !== 'earliest') {
    const position = parseSince(query.since);
    if (position.epoch !== store.epoch) gap = 'epoch';
    else {
      after = position.seq;
      if (store.trimmedAfter(pattern, after)) gap = 'trimmed';
    }
  }
  const found = store.read(pattern, after, limit + 1);
  return { epoch: store.epoch, events: shown(found.slice(0, limit)), more: found.length > limit, ...(gap && { gap }) };
}

/** An offset a client sends back; anything else is its `invalid_payload`. */
export function parseSince(since: string): ParsedOffset {
  const position = parseOffset(since);
  if (!position) throw new EventwireError('invalid_payload', `"${since.slice(0, 80)}" is not an offset (use one from an event's "offset", or "earliest")`);
  return position;
}
