// Ids of channels, messages and operations: the keys `$ref`s point at. A
// `$ref` is a JSON Pointer (RFC 6901: `/` and `~` are escaped) and the spec
// asks component keys to match `^[a-zA-Z0-9\.\-_]+$`, while a topic may hold
// `/`, `{`, `:` and more — so ids are the topic with everything else as `_`,
// made unique by a suffix, and the real topic stays in the channel's `address`.

/** Hands out ids safe inside a JSON Pointer, each once. */
export class AsyncApiIds {
  readonly #taken = new Set<string>();

  /** `'private-user.{userId}'` → `'private-user._userId_'`; a second `'a/b'` after `'a_b'` → `'a_b_2'`. */
  next(text: string): string {
    const base = text.replace(/[^A-Za-z0-9._-]/g, '_') || '_';
    let id = base;
    for (let n = 2; this.#taken.has(id); n++) id = `${base}_${n}`;
    this.#taken.add(id);
    return id;
  }
}
