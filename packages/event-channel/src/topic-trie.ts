/**
 * A segment trie from subscription patterns to values. Matching a topic walks
 * at most (literal + `*`) branches per segment and collects `#` nodes on the
 * way, so its cost depends on the topic's depth and on how many *distinct*
 * wildcard shapes overlap it, never on how many subscriptions exist.
 * Shared by the channel (local handlers) and the broker (connections).
 *
 * Patterns must already be valid (see `assertPattern`); the trie does not re-check.
 */
export class TopicTrie<TValue> {
  readonly #root = new TrieNode<TValue>();
  #size = 0;

  /** How many (pattern, value) pairs are stored. */
  get size(): number {
    return this.#size;
  }

  /** Stores `value` under `pattern`. Returns false if that exact pair was already present. */
  add(pattern: string, value: TValue): boolean {
    let node = this.#root;
    for (const segment of pattern.split('.')) {
      node = node.child(segment);
    }
    if (!node.addValue(value)) return false;
    this.#size++;
    return true;
  }

  /** Removes one (pattern, value) pair, pruning empty branches. Returns whether it was present. */
  remove(pattern: string, value: TValue): boolean {
    const path: TrieNode<TValue>[] = [this.#root];
    const segments = pattern.split('.');
    let node: TrieNode<TValue> | undefined = this.#root;
    for (const segment of segments) {
      node = node.existingChild(segment);
      if (!node) return false;
      path.push(node);
    }
    if (!node.deleteValue(value)) return false;
    this.#size--;
    for (let depth = segments.length; depth > 0; depth--) {
      const current = path[depth]!;
      if (!current.isEmpty()) break;
      path[depth - 1]!.dropChild(segments[depth - 1]!);
    }
    return true;
  }

  /**
   * Calls `visit` once for every stored pair whose pattern matches `topic`.
   * A value stored under several matching patterns is visited once per pattern;
   * callers that need one delivery per value dedupe (see {@link matchValues}).
   */
  forEachMatch(topic: string, visit: (value: TValue) => void): void {
    walk(this.#root, topic.split('.'), 0, visit);
  }

  /** The distinct values whose patterns match `topic`. */
  matchValues(topic: string): Set<TValue> {
    const out = new Set<TValue>();
    this.forEachMatch(topic, (value) => out.add(value));
    return out;
  }

  /** True when at least one pattern matches `topic`; stops at the first hit. */
  hasMatch(topic: string): boolean {
    return hasAny(this.#root, topic.split('.'), 0);
  }
}

function walk<TValue>(
  node: TrieNode<TValue>,
  segments: readonly string[],
  index: number,
  visit: (value: TValue) => void,
): void {
  // `#` matches zero or more remaining segments, so it fires wherever the walk reaches.
  if (node.hash) node.hash.visitValues(visit);
  if (index === segments.length) {
    node.visitValues(visit);
    return;
  }
  const literal = node.literals?.get(segments[index]!);
  if (literal) walk(literal, segments, index + 1, visit);
  if (node.star) walk(node.star, segments, index + 1, visit);
}

function hasAny<TValue>(node: TrieNode<TValue>, segments: readonly string[], index: number): boolean {
  if (node.hash?.hasValues()) return true;
  if (index === segments.length) return node.hasValues();
  const literal = node.literals?.get(segments[index]!);
  if (literal && hasAny(literal, segments, index + 1)) return true;
  return node.star !== undefined && hasAny(node.star, segments, index + 1);
}

/** Marks "no value" apart from any value a caller may store (undefined included). */
const EMPTY: unique symbol = Symbol('empty');

class TrieNode<TValue> {
  // Most patterns have one subscriber (one connection, one handler): keep a
  // single value bare and switch to a Set from the second. A Set per node
  // was the largest per-connection cost in the broker.
  #one: TValue | typeof EMPTY = EMPTY;
  #many: Set<TValue> | undefined;
  literals: Map<string, TrieNode<TValue>> | undefined;
  star: TrieNode<TValue> | undefined;
  hash: TrieNode<TValue> | undefined;

  child(segment: string): TrieNode<TValue> {
    if (segment === '*') return (this.star ??= new TrieNode());
    if (segment === '#') return (this.hash ??= new TrieNode());
    this.literals ??= new Map();
    let node = this.literals.get(segment);
    if (!node) {
      node = new TrieNode();
      this.literals.set(segment, node);
    }
    return node;
  }

  existingChild(segment: string): TrieNode<TValue> | undefined {
    if (segment === '*') return this.star;
    if (segment === '#') return this.hash;
    return this.literals?.get(segment);
  }

  dropChild(segment: string): void {
    if (segment === '*') this.star = undefined;
    else if (segment === '#') this.hash = undefined;
    else {
      this.literals?.delete(segment);
      if (this.literals?.size === 0) this.literals = undefined;
    }
  }

  addValue(value: TValue): boolean {
    if (this.#many) {
      if (this.#many.has(value)) return false;
      this.#many.add(value);
      return true;
    }
    if (this.#one === EMPTY) {
      this.#one = value;
      return true;
    }
    if (this.#one === value) return false;
    this.#many = new Set([this.#one, value]);
    this.#one = EMPTY;
    return true;
  }

  deleteValue(value: TValue): boolean {
    if (this.#many) {
      if (!this.#many.delete(value)) return false;
      if (this.#many.size === 1) {
        this.#one = this.#many.values().next().value as TValue;
        this.#many = undefined;
      }
      return true;
    }
    if (this.#one === EMPTY || this.#one !== value) return false;
    this.#one = EMPTY;
    return true;
  }

  hasValues(): boolean {
    return this.#many !== undefined || this.#one !== EMPTY;
  }

  visitValues(visit: (value: TValue) => void): void {
    if (this.#many) for (const value of this.#many) visit(value);
    else if (this.#one !== EMPTY) visit(this.#one);
  }

  isEmpty(): boolean {
    return !this.hasValues() && !this.literals && !this.star && !this.hash;
  }
}
