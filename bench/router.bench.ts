// What Router.route costs per publish with the per-topic match cache (#35)
// and without it (matchCacheTopics: 0, the trie walk every time). Topics are
// fresh strings, as JSON.parse makes them for every publish (their hash is
// computed on first use, as in the broker). Shapes:
//   fan-in   one subscriber on one exact topic;
//   wildcard 10,000 subscribers, one pattern each (70 % exact, 20 % with `*`,
//            10 % ending in `#`), topics drawn from the same 10,000-topic space.
// Run: node --import tsx router.bench.ts from bench/ (it imports the broker's
// source file: the router is not public).
import { RoutedEvent, Router, type Subscriber } from '../packages/event-broker/src/router.js';
import { patternsFor, seeded, topicsFor } from './topic-space.js';

const CALLS = 400_000;

let delivered = 0;
const subscriber = (id: string): Subscriber => ({ id, deliver: () => void delivered++ });

function build(shape: 'fan-in' | 'wildcard', matchCacheTopics: number): { router: Router; topics: string[] } {
  const router = new Router({ matchCacheTopics });
  const random = seeded(7);
  if (shape === 'fan-in') {
    router.subscribe(subscriber('sink'), 'bench.fanin');
    return { router, topics: JSON.parse(JSON.stringify(Array.from({ length: CALLS }, () => 'bench.fanin'))) as string[] };
  }
  let i = 0;
  for (const pattern of patternsFor(10_000, random, 10)) router.subscribe(subscriber(`s${i++}`), pattern);
  const topics = topicsFor(CALLS, random, 10);
  return { router, topics: JSON.parse(JSON.stringify(topics)) as string[] };
}

const envelope = { id: 'e', source: 's', time: '2026-12-07T00:00:00Z', data: null };
function nsPerRoute(shape: 'fan-in' | 'wildcard', matchCacheTopics: number): { ns: number; perDelivery: number } {
  const { router, topics } = build(shape, matchCacheTopics);
  // Warm the JIT (and, when on, the cache) on other fresh strings of the same topics.
  for (const topic of JSON.parse(JSON.stringify(topics.slice(0, 50_000))) as string[]) router.route(new RoutedEvent({ ...envelope, topic }));
  delivered = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < topics.length; i++) router.route(new RoutedEvent({ ...envelope, topic: topics[i]! }));
  const ns = Number(process.hrtime.bigint() - start) / topics.length;
  return { ns, perDelivery: (ns * topics.length) / delivered };
}

for (let run = 0; run < 3; run++) {
  for (const shape of ['fan-in', 'wildcard'] as const) {
    const off = nsPerRoute(shape, 0);
    const on = nsPerRoute(shape, 10_000);
    console.log(
      `run ${run + 1} ${shape}: uncached ${off.ns.toFixed(0)} ns/publish (${off.perDelivery.toFixed(0)} ns/delivery); cached ${on.ns.toFixed(0)} ns/publish (${on.perDelivery.toFixed(0)} ns/delivery)`,
    );
  }
}
