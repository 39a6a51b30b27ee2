// Topic groups: the bounded stand-in for a topic label. Raw topics would give
// Prometheus one series per topic (unbounded, and an attacker's to choose);
// the operator lists the patterns worth telling apart, and every other topic
// counts as `other`.
import { parsePattern, topicMatches } from '@eventwire/event-channel';

/** The label value of topics no group matches. */
export const OTHER_TOPIC_GROUP = 'other';

/**
 * Counts per group of events routed here and deliveries made. A topic's group
 * is decided once, when TopicStats first sees the topic (again after it forgot it) (the first pattern
 * that matches wins); each event then costs two array increments.
 */
export class TopicGroups {
  readonly patterns: readonly string[];
  /** Events routed to this broker's subscribers, by group index (the last is `other`). */
  readonly events: Float64Array;
  /** Deliveries to subscribers, by group index. */
  readonly deliveries: Float64Array;

  /** The patterns as matched: `{name}` captures as `*` (labels keep them as written). */
  readonly #matchable: readonly string[];

  constructor(patterns: readonly string[]) {
    this.#matchable = patterns.map((pattern) => parsePattern(pattern).pattern);
    this.patterns = patterns;
    this.events = new Float64Array(patterns.length + 1);
    this.deliveries = new Float64Array(patterns.length + 1);
  }

  /** The group index of `topic`: the first matching pattern's, else `other`'s. */
  readonly classify = (topic: string): number => {
    const index = this.#matchable.findIndex((pattern) => topicMatches(pattern, topic));
    return index === -1 ? this.patterns.length : index;
  };

  /** The label of group `index`. */
  label(index: number): string {
    return this.patterns[index] ?? OTHER_TOPIC_GROUP;
  }

  count(group: number, delivered: number): void {
    this.events[group]!++;
    this.deliveries[group]! += delivered;
  }
}
