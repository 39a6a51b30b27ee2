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

const CALLS = 400_000;

function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let delivered = 0;
const subscriber = (id: string): Subscriber => ({ id, deliver: () => void delivered++ });

function build(shape: 'fan-in' | 'wildcard', matchCacheTopics: number): { router: Router; topics: string[] } {
  const router = new Router({ matchCacheTopics });
  const random = seeded(7);
  if (shape === 'fan-in') {
    router.subscribe(subscriber('sink'), 'bench.fanin');
    return { router, topics: JSON.parse(JSON.stringify(Array.from({ length: CALLS }, () => 'bench.fanin'))) as string[] };
  }
  const patterns = new Set<string>();
  while (patterns.size < 10_000) {
    const a = Math.floor(random() * 100);
    const b = Math.floor(random() * 10);
    const c = Math.floor(random() * 10);
    const shapeOf = random();
    patterns.add(shapeOf < 0.7 ? `svc${a}.entity${b}.act${c}` : shapeOf < 0.9 ? `svc${a}.*.act${c}` : `svc${a}.#`);
  }
  let i = 0;
  for (const pattern of patterns) router.subscribe(subscriber(`s${i++}`), pattern);
  const topics = Array.from({ length: CALLS }, () => `svc${Math.floor(random() * 100)}.entity${Math.floor(random() * 10)}.act${Math.floor(random() * 10)}`);
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
