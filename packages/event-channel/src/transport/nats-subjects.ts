// Topics ↔ NATS subjects. eventwire's topic grammar was drawn to map 1:1:
// a topic is already a valid subject (no whitespace, no `>`, no partial
// wildcards), `*` is NATS's `*`, and only the trailing `#` differs: it means
// "this topic and everything below", which NATS spells as two subjects.

/**
 * The NATS subjects that together match what `pattern` matches, disjoint so
 * no message is delivered twice for one pattern: `order.#` → `order` and
 * `order.>`; `#` alone → `>` (every topic has at least one segment).
 */
export function natsSubjectsFor(pattern: string): string[] {
  if (pattern === '#') return ['>'];
  if (!pattern.endsWith('.#')) return [pattern];
  const parent = pattern.slice(0, -2);
  return [parent, `${parent}.>`];
}

/**
 * NATS's and eventwire's own subjects (`_INBOX.` replies, `_EVENTWIRE.`
 * cluster requests): never events, dropped unread even under `#` (`>`).
 */
export function isInternalSubject(subject: string): boolean {
  return subject.startsWith('_EVENTWIRE.') || subject.startsWith('_INBOX.');
}
