/**
 * Why missed events could not all be recovered:
 * - `epoch`: the offset is from another history (the broker lost its memory store, a log was deleted);
 * - `trimmed`: retention dropped events after the offset;
 * - `no_history`: no topic matching the pattern keeps history, so what was published meanwhile is gone;
 * - `replay_limit`: more were missed than one replay sends (the broker's `maxReplayEvents`).
 */
export type GapReason = 'epoch' | 'trimmed' | 'no_history' | 'replay_limit';

/** Every {@link GapReason}. */
export const gapReasons: readonly GapReason[] = ['epoch', 'trimmed', 'no_history', 'replay_limit'];

/**
 * A subscription may have missed events that cannot be recovered: the
 * application should resync from its own source of truth. Reported through
 * `channel.onGap()`; never silent.
 */
export interface HistoryGap {
  /** The subscription's pattern. */
  readonly pattern: string;
  readonly reason: GapReason;
  /** The last offset the channel held for it, when it had one. */
  readonly lastOffset: string | undefined;
}
