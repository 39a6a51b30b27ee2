// Reading history for clients: a reconnecting client's resume, and pages of
// history for the HTTP API and the `history` frame. Synchronous like the
// store, so the caller can make subscriptions live in the same step.
import { isWildcardPattern, type EventEnvelope } from '@eventwire/event-channel';
import { parseSince, readStoredPage, type GapReason, type PageQuery, type StoredEvent, type StoredPage } from '@eventwire/event-channel/protocol';
import { channelKind } from '../auth/channels.js';
import type { BrokerHistory } from '../core.js';
import { isCacheTopic, type LastEvents } from '../last-events.js';

/** What a resume replays, and the patterns that cannot be brought fully up to date. */
export interface ResumePlan {
  /** Union of every pattern's missed events, each once, oldest first. */
  readonly events: readonly EventEnvelope[];
  readonly gaps: ReadonlyArray<{ readonly pattern: string; readonly reason: GapReason }>;
}

/**
 * The events stored after `since` that match any of `patterns`, each once and
 * in order, at most `maxEvents`; and a gap for each pattern that cannot be
 * fully recovered (no history for it, another epoch, trimmed, over the limit).
 */
export function planResume(history: BrokerHistory | undefined, patterns: readonly string[], since: string, maxEvents: number): ResumePlan {
  if (!history) return { events: [], gaps: patterns.map((pattern) => ({ pattern, reason: 'no_history' })) };
  const { store, rules } = history;
  const position = parseSince(since);
  const sameEpoch = position.epoch === store.epoch;
  // Another epoch: nothing of the old one is left, and everything of the
  // current one is newer than anything the client saw.
  const after = sameEpoch ? position.seq : 0;
  const gaps: Array<{ pattern: string; reason: GapReason }> = [];
  const bySeq = new Map<number, StoredEvent>();
  let overLimit = false;
  for (const pattern of patterns) {
    if (!rules.covers(pattern)) {
      gaps.push({ pattern, reason: 'no_history' });
      continue;
    }
    if (!sameEpoch) gaps.push({ pattern, reason: 'epoch' });
    else if (store.trimmedAfter(pattern, after)) gaps.push({ pattern, reason: 'trimmed' });
    const found = store.read(pattern, after, maxEvents + 1);
    if (found.length > maxEvents) overLimit = true;
    for (const event of found) if (visibleThrough(pattern, event.envelope.topic)) bySeq.set(event.seq, event);
  }
  let events = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  if (events.length > maxEvents || overLimit) {
    events = events.slice(0, maxEvents);
    for (const pattern of patterns) {
      if (rules.covers(pattern) && !gaps.some((gap) => gap.pattern === pattern)) gaps.push({ pattern, reason: 'replay_limit' });
    }
  }
  return { events: events.map((event) => event.envelope), gaps };
}

/**
 * One page of history for `pattern`, as the broker serves it: guarded
 * channels only through their exact name. The `last` events of a cache
 * channel no history rule keeps are its last event (last-events.ts), at most
 * one, and no gap: a cache channel keeps one event by design, so a client's
 * `since: { last: 1 }` gets what a Pusher subscriber gets first.
 */
export function readHistoryPage(history: BrokerHistory | undefined, pattern: string, query: PageQuery, lastEvents?: LastEvents): StoredPage {
  if (query.last !== undefined && lastEvents && !isWildcardPattern(pattern) && isCacheTopic(pattern) && !history?.rules.covers(pattern)) {
    const last = query.last > 0 ? lastEvents.get(pattern) : undefined;
    return { epoch: history?.store.epoch ?? '', events: last ? [last] : [], more: false };
  }
  return readStoredPage(history, pattern, query, (topic) => visibleThrough(pattern, topic));
}

/** As for live delivery: a guarded channel's history is read only through its exact name. */
function visibleThrough(pattern: string, topic: string): boolean {
  return channelKind(topic) === 'public' || pattern === topic;
}
