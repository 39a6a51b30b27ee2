/**
 * Event offsets, as a broker that keeps history assigns them: `<epoch>:<seq>`.
 * Applications treat an offset as opaque (store it, send it back as `since`);
 * transports read it to know how far they got. `seq` counts up by one per
 * stored event within an epoch, across every history topic of the broker, so
 * it is monotonic per topic too; the epoch changes whenever continuity is
 * broken (a memory store restarted, a log deleted), so offsets of two
 * histories never compare.
 */
export interface ParsedOffset {
  readonly epoch: string;
  readonly seq: number;
}

/** `<epoch>:<seq>`. */
export function formatOffset(epoch: string, seq: number): string {
  return `${epoch}:${seq}`;
}

/** The epoch and sequence of an offset, or undefined when it is not one. */
export function parseOffset(offset: string): ParsedOffset | undefined {
  const colon = offset.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const seq = Number(offset.slice(colon + 1));
  if (!Number.isSafeInteger(seq) || seq < 0 || String(seq) !== offset.slice(colon + 1)) return undefined;
  return { epoch: offset.slice(0, colon), seq };
}
