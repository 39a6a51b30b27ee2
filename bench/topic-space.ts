// The topic space the matcher benchmarks draw from (topic-trie.bench.ts,
// router.bench.ts): `svc<a>.entity<b>.act<c>` topics and subscriptions in the
// shapes real systems use — 70 % exact, 20 % with a `*` segment, 10 % ending
// in `#` — from a seeded PRNG, so every run measures the same work.

/** A small deterministic PRNG (mulberry32). */
export function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` distinct patterns over 100 services and `width` entities and actions. */
export function patternsFor(count: number, random: () => number, width: number): string[] {
  const out = new Set<string>();
  while (out.size < count) {
    const a = Math.floor(random() * 100);
    const b = Math.floor(random() * width);
    const c = Math.floor(random() * width);
    const shape = random();
    out.add(shape < 0.7 ? `svc${a}.entity${b}.act${c}` : shape < 0.9 ? `svc${a}.*.act${c}` : `svc${a}.#`);
  }
  return [...out];
}

/** `count` topics from the same space (repeats allowed). */
export function topicsFor(count: number, random: () => number, width: number): string[] {
  return Array.from(
    { length: count },
    () => `svc${Math.floor(random() * 100)}.entity${Math.floor(random() * width)}.act${Math.floor(random() * width)}`,
  );
}
