// History on NATS: the JetStream stream a broker cluster keeps (PROTOCOL.md
// §4.1), as every NATS component reads it. The brokers create and mirror it;
// a nats:// channel reads it (recovery after a reconnect, `since`). Both
// must agree on the epoch and on which patterns the stream covers, so both
// take them from here.
import { EventwireError } from '../errors.js';
import { loadOptionalPeer } from './optional-peer.js';
import { natsSubjectsFor } from './nats-subjects.js';

/** The stream's default name. */
export const HISTORY_STREAM = 'EVENTWIRE_HISTORY';

/**
 * How the stream's ordered consumers pull: a short pull expiry (so idle
 * heartbeats every ~2.5 s) lets a consumer whose server died notice within
 * seconds and resume on another server, instead of after the client's 30 s.
 */
export const streamConsumeOptions = { expires: 5000 } as const;

/** The JetStream client module (`@nats-io/jetstream`), loaded on first use. */
export type JetStreamModule = typeof import('@nats-io/jetstream');

/** Loads the JetStream client, or says how to install it (`unsupported_transport`). */
export function loadJetStream(): Promise<JetStreamModule> {
  return loadOptionalPeer<JetStreamModule>('@nats-io/jetstream', 'History on NATS needs the JetStream client');
}

/**
 * The epoch of a stream instance: a hash of its name and creation time. A
 * stream deleted and made again counts from 1 again, so it is a new epoch.
 */
export async function historyEpoch(name: string, created: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${name}\n${created}`));
  return [...new Uint8Array(digest)]
    .slice(0, 12)
    .map((byte) => byte.toString(16).padStart(2, '0'))
    .join('')
    .toUpperCase();
}

/**
 * The stream's subjects for the history patterns: disjoint, since JetStream
 * refuses overlapping subjects. A pattern starting with a wildcard would also
 * capture NATS's own subjects (`_INBOX.…` replies, `$JS.…` calls), so every
 * history pattern kept in JetStream starts with a literal segment.
 */
export function streamSubjects(patterns: readonly string[]): string[] {
  const subjects = new Set<string>();
  for (const pattern of patterns) {
    const first = pattern.split('.')[0]!;
    if (first === '*' || first === '#') {
      throw new EventwireError(
        'invalid_pattern',
        `History pattern "${pattern}" cannot be kept in JetStream: a history pattern starts with a literal segment ("orders.#", not "${pattern}"), or its stream would capture NATS's own subjects`,
      );
    }
    for (const subject of natsSubjectsFor(pattern)) subjects.add(subject);
  }
  const all = [...subjects];
  return all.filter((subject) => !all.some((other) => other !== subject && subjectCovers(other, subject)));
}

/** True when the stream's subjects hold every event `pattern` matches (so the stream can replay it). */
export function streamCovers(subjects: readonly string[], pattern: string): boolean {
  return natsSubjectsFor(pattern).every((wanted) => subjects.some((subject) => subjectCovers(subject, wanted)));
}

/** True when every subject `specific` matches is matched by `general` (both may hold wildcards). */
export function subjectCovers(general: string, specific: string): boolean {
  const a = general.split('.');
  const b = specific.split('.');
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '>') return b.length > i;
    if (i >= b.length) return false;
    if (b[i] === '>') return false;
    if (a[i] !== '*' && (b[i] === '*' || a[i] !== b[i])) return false;
  }
  return a.length === b.length;
}
