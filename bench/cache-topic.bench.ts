// What every routed event pays for cache channels (#33): isCacheTopic on the
// topic, in core.#deliverLocally, once per event (not per subscriber). Beside
// it the anchored expression alone (without the plain-search precheck) and
// the loop with no check. Run: node --import tsx cache-topic.bench.ts from bench/
// (it imports the broker's source file: the function is not public).
import { isCacheTopic } from '../packages/event-broker/src/last-events.js';

const plain = ['orders.1', 'private-user.42', 'presence-room.7', 'bench.fanout', 'chat.room-12.messages'];
const expression = /^(?:(?:private-(?:[A-Za-z0-9_-]{1,64}:)?(?:encrypted-)?)|(?:presence-(?:[A-Za-z0-9_-]{1,64}:)?)|(?:[A-Za-z0-9_-]{1,64}:)?)cache-/;

function nsPer(fn: (topic: string) => boolean, topics: readonly string[]): number {
  const rounds = 5_000_000;
  let hits = 0;
  const start = process.hrtime.bigint();
  for (let round = 0; round < rounds; round++) if (fn(topics[round % topics.length]!)) hits++;
  const ns = Number(process.hrtime.bigint() - start) / rounds;
  if (hits < 0) console.log(hits);
  return ns;
}

for (let run = 0; run < 3; run++) {
  const loop = nsPer((topic) => topic.length === 0, plain);
  const check = nsPer(isCacheTopic, plain);
  const regex = nsPer((topic) => expression.test(topic), plain);
  const cache = nsPer(isCacheTopic, ['cache-price', 'private-cache-user.7', 'presence-blog:cache-room.1']);
  console.log(`run ${run + 1}: loop alone ${loop.toFixed(1)} ns; isCacheTopic on plain topics ${check.toFixed(1)} ns, the expression alone ${regex.toFixed(1)} ns; isCacheTopic on cache topics ${cache.toFixed(1)} ns`);
}
