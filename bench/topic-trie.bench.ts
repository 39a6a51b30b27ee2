// Matcher micro-benchmark: topics matched per second by the TopicTrie at 10
// and 10,000 subscriptions, against a linear scan with the reference matcher
// (what a naive broker does). Run: pnpm bench   (or see bench/RESULTS.md)
//
// Subscriptions mix the shapes real systems use: 70% exact topics, 20% with a
// `*` segment, 10% ending in `#`. Topics are drawn from the same space, so a
// realistic share of lookups hit.
import { TopicTrie, topicMatches } from '@eventwire/event-channel';
import { quick } from './quick.js';
import { patternsFor, seeded, topicsFor } from './topic-space.js';

const ROUNDS = quick ? 2 : 5;
const TARGET_MS = quick ? 150 : 300;

function measure(match: (topic: string) => number, topics: string[]): number {
  let sink = 0;
  // Warm up the JIT for a fixed time, not a fixed count: slow matchers need fewer calls.
  const warmUntil = performance.now() + 200;
  for (let i = 0; performance.now() < warmUntil; i++) sink += match(topics[i % topics.length]!);
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let done = 0;
    const start = process.hrtime.bigint();
    let elapsedMs = 0;
    while (elapsedMs < TARGET_MS) {
      for (let i = 0; i < 100; i++) sink += match(topics[(done + i) % topics.length]!);
      done += 100;
      elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
    }
    rates.push(done / (elapsedMs / 1000));
  }
  if (sink < 0) console.log(sink); // keep the work observable
  rates.sort((x, y) => x - y);
  return rates[Math.floor(rates.length / 2)]!;
}

const rows: Array<{ subscriptions: number; matcher: string; matchesPerSecond: number; avgHits: number }> = [];
for (const count of [10, 1_000, 10_000]) {
  const random = seeded(count);
  const patterns = patternsFor(count, random, 20);
  const topics = topicsFor(10_000, random, 20);
  const trie = new TopicTrie<string>();
  for (const pattern of patterns) trie.add(pattern, pattern);
  let hits = 0;
  for (const topic of topics) hits += trie.matchValues(topic).size;
  const avgHits = hits / topics.length;
  rows.push({
    subscriptions: count,
    matcher: 'TopicTrie.matchValues',
    matchesPerSecond: measure((topic) => trie.matchValues(topic).size, topics),
    avgHits,
  });
  rows.push({
    subscriptions: count,
    matcher: 'TopicTrie.forEachMatch (no dedupe set)',
    matchesPerSecond: measure((topic) => {
      let n = 0;
      trie.forEachMatch(topic, () => n++);
      return n;
    }, topics),
    avgHits,
  });
  rows.push({
    subscriptions: count,
    matcher: 'linear scan (topicMatches)',
    matchesPerSecond: measure((topic) => {
      let n = 0;
      for (const pattern of patterns) if (topicMatches(pattern, topic)) n++;
      return n;
    }, topics),
    avgHits,
  });
}

console.log(`node ${process.version}, ${ROUNDS} rounds x ${TARGET_MS} ms, median reported`);
console.log('| subscriptions | matcher | matches/s | avg matching subs per topic |');
console.log('| ---: | --- | ---: | ---: |');
for (const row of rows) {
  console.log(
    `| ${row.subscriptions.toLocaleString('en')} | ${row.matcher} | ${Math.round(row.matchesPerSecond).toLocaleString('en')} | ${row.avgHits.toFixed(2)} |`,
  );
}
