// Names no other test uses: each test takes its own topic (or root of
// topics), so tests sharing a broker, a NATS cluster or a stream never see
// each other's events. The process id is in every name: two test files
// running at once against one server (a benchmark beside a test) stay apart.
//
// Extending: a new kind of name (a stream, a queue group) is one more
// function here over the same counter, with a prefix that says what it is
// for; a test whose names must match a configured pattern (history on
// `room.#`) passes that pattern's root as the prefix.

let counter = 0;

/** `<prefix><n>x<pid>`: a topic, or a root to put segments under, that no other test uses. */
export function uniqueTopic(prefix = 't'): string {
  return `${prefix}${++counter}x${process.pid}`;
}
