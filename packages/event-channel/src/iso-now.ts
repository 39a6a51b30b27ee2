// The current time as the envelopes' `time` text (ISO 8601, milliseconds).
// Every envelope a channel emits and every event the broker creates itself
// (an HTTP or broadcasting publish, a Socket.IO emit, a derived event)
// carries it; formatting a Date costs about ten times reading the clock, and
// events created in the same millisecond share the text, so the last one is
// kept.

let lastMillis = Number.NaN;
let lastText = '';

/** `new Date().toISOString()`, formatted at most once per millisecond. */
export function isoNow(): string {
  const now = Date.now();
  if (now !== lastMillis) {
    lastMillis = now;
    lastText = new Date(now).toISOString();
  }
  return lastText;
}
