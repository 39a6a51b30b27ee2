// A map for what a connection holds a few of for its whole life (its
// namespaces, rooms, event handlers). An empty Map costs ~220 bytes of heap
// (the object and its smallest hash table); a few entries kept in one array
// cost a third of that, and finding one among a handful by comparing is as
// fast as hashing. Past `SMALL_MAP_ENTRIES` it becomes a Map, so a socket in
// hundreds of rooms stays O(1).

/** Entries kept in the array before the map turns into a Map. */
export const SMALL_MAP_ENTRIES = 8;

/**
 * Map's subset of operations. Keys are compared with `===` (no NaN keys);
 * insertion order is kept. `keys()`, `values()` and iteration see the
 * entries as they were when called: changing the map while iterating is
 * safe.
 */
export class SmallMap<K, V> implements Iterable<[K, V]> {
  // [key, value, key, value…] until it grows past SMALL_MAP_ENTRIES; created with the first entry.
  #entries: unknown[] | Map<K, V> | undefined;

  get size(): number {
    const entries = this.#entries;
    if (entries === undefined) return 0;
    return entries instanceof Map ? entries.size : entries.length / 2;
  }

  get(key: K): V | undefined {
    const entries = this.#entries;
    if (entries === undefined) return undefined;
    if (entries instanceof Map) return entries.get(key);
    for (let i = 0; i < entries.length; i += 2) if (entries[i] === key) return entries[i + 1] as V;
    return undefined;
  }

  has(key: K): boolean {
    const entries = this.#entries;
    if (entries === undefined) return false;
    if (entries instanceof Map) return entries.has(key);
    for (let i = 0; i < entries.length; i += 2) if (entries[i] === key) return true;
    return false;
  }

  set(key: K, value: V): this {
    const entries = this.#entries;
    if (entries instanceof Map) {
      entries.set(key, value);
      return this;
    }
    const length = entries?.length ?? 0;
    for (let i = 0; i < length; i += 2) {
      if (entries![i] === key) {
        entries![i + 1] = value;
        return this;
      }
    }
    if (length < SMALL_MAP_ENTRIES * 2) {
      // A new array of exactly the new length: `push` would grow the backing store by 16 slots at least.
      const grown = new Array<unknown>(length + 2);
      for (let i = 0; i < length; i++) grown[i] = entries![i];
      grown[length] = key;
      grown[length + 1] = value;
      this.#entries = grown;
      return this;
    }
    const map = new Map<K, V>();
    for (let i = 0; i < length; i += 2) map.set(entries![i] as K, entries![i + 1] as V);
    map.set(key, value);
    this.#entries = map;
    return this;
  }

  delete(key: K): boolean {
    const entries = this.#entries;
    if (entries === undefined) return false;
    if (entries instanceof Map) return entries.delete(key);
    for (let i = 0; i < entries.length; i += 2) {
      if (entries[i] === key) {
        this.#entries = entries.length === 2 ? undefined : [...entries.slice(0, i), ...entries.slice(i + 2)];
        return true;
      }
    }
    return false;
  }

  clear(): void {
    this.#entries = undefined;
  }

  keys(): IterableIterator<K> {
    return this.#pick<K>(0).values();
  }

  values(): IterableIterator<V> {
    return this.#pick<V>(1).values();
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    const entries = this.#entries;
    if (entries === undefined) return [].values();
    if (entries instanceof Map) return [...entries].values();
    const pairs: [K, V][] = [];
    for (let i = 0; i < entries.length; i += 2) pairs.push([entries[i] as K, entries[i + 1] as V]);
    return pairs.values();
  }

  /** The keys (0) or values (1), copied. */
  #pick<T>(half: 0 | 1): T[] {
    const entries = this.#entries;
    if (entries === undefined) return [];
    if (entries instanceof Map) return [...(half === 0 ? entries.keys() : entries.values())] as T[];
    const out: T[] = [];
    for (let i = half; i < entries.length; i += 2) out.push(entries[i] as T);
    return out;
  }
}
