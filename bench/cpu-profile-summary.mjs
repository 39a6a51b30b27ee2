// Summarises a V8 .cpuprofile (node --cpu-prof, or BENCH_CPU_PROF_DIR in the
// comparison): self time by function and by file/package, as shares of the
// process's busy time (every sample but "(idle)"), so that profiles taken
// under different loads compare.
//
//   node bench/cpu-profile-summary.mjs <file.cpuprofile> [--top 25] [--window <s>] [--callers <name>]
//
// --callers <name>: also where the self time of functions named <name> is
// spent from, by the chain of their eight nearest callers (which write path
// a `writeBuffer` is, say).
// --window <s>: only the busiest <s>-second stretch of the profile (the
// saturation phase, say), found by sliding over the samples; without it the
// whole profile counts, connection setup included. --from/--to <s>: a stretch
// given in seconds from the profile's start instead; --timeline prints the
// busy share per 250 ms, to find the phases (the fixed-load phase, say).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileOf, packageOf } from './profile-source.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, window: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, timeline: { type: 'boolean' }, callers: { type: 'string' } } });
const top = Number(values.top ?? 25);
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const times = [];
let t = profile.startTime;
for (const delta of profile.timeDeltas) times.push((t += delta));
const isIdle = (id) => nodes.get(id).callFrame.functionName === '(idle)';

let from = 0;
let to = profile.samples.length;
if (values.timeline) {
  const buckets = new Map();
  for (let i = 0; i + 1 < profile.samples.length; i++) {
    const bucket = Math.floor((times[i] - profile.startTime) / 250_000);
    const entry = buckets.get(bucket) ?? [0, 0];
    entry[isIdle(profile.samples[i]) ? 1 : 0] += times[i + 1] - times[i];
    buckets.set(bucket, entry);
  }
  console.log([...buckets].map(([bucket, [busy, idle]]) => `${(bucket / 4).toFixed(2)}s ${Math.round((100 * busy) / (busy + idle))}%`).join('  '));
}
if (values.from || values.to) {
  const lo = profile.startTime + Number(values.from ?? 0) * 1e6;
  const hi = profile.startTime + Number(values.to ?? Infinity) * 1e6;
  from = times.findIndex((time) => time >= lo);
  to = times.findIndex((time) => time > hi);
  if (to < 0) to = profile.samples.length;
}
if (values.window) {
  // Two pointers: the stretch of `window` seconds with the most busy samples.
  const span = Number(values.window) * 1e6;
  let best = -1;
  let busy = 0;
  for (let lo = 0, hi = 0; hi < profile.samples.length; hi++) {
    if (!isIdle(profile.samples[hi])) busy++;
    while (times[hi] - times[lo] > span) if (!isIdle(profile.samples[lo++])) busy--;
    if (busy > best) [best, from, to] = [busy, lo, hi + 1];
  }
}


// Self time: each sample's delta goes to the sampled node (time to the next sample).
const self = new Map();
let busyUs = 0;
let idleUs = 0;
for (let i = from; i < to; i++) {
  const delta = i + 1 < profile.samples.length ? times[i + 1] - times[i] : 0;
  const id = profile.samples[i];
  if (isIdle(id)) {
    idleUs += delta;
    continue;
  }
  busyUs += delta;
  self.set(id, (self.get(id) ?? 0) + delta);
}
const byFunction = new Map();
const byFile = new Map();
const byPackage = new Map();
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = nodes.get(id).callFrame;
  const file = fileOf(url);
  const key = `${functionName || '(anonymous)'}  ${file}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  byFile.set(file, (byFile.get(file) ?? 0) + us);
  byPackage.set(packageOf(file), (byPackage.get(packageOf(file)) ?? 0) + us);
}
const pct = (us) => `${((100 * us) / busyUs).toFixed(1).padStart(5)} %`;
const table = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${pct(us)}  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`);
};
const span = (times[to - 1] - times[from]) / 1e6;
console.log(`${positionals[0]}: ${span.toFixed(2)} s profiled${values.window ? ' (busiest window)' : ''}, busy ${(busyUs / 1000).toFixed(0)} ms, idle ${(idleUs / 1000).toFixed(0)} ms`);
table(`top ${top} functions by self time (% of busy)`, byFunction, top);
table('by file', byFile, 20);
table('by package', byPackage, 12);

if (values.callers) {
  const parents = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const name = (id) => nodes.get(id).callFrame.functionName || '(anonymous)';
  const chains = new Map();
  for (const [id, us] of self) {
    if (name(id) !== values.callers) continue;
    const chain = [];
    for (let up = parents.get(id); up !== undefined && chain.length < 8; up = parents.get(up)) chain.push(`${name(up)}:${nodes.get(up).callFrame.lineNumber + 1}`);
    const key = chain.join(' ← ');
    chains.set(key, (chains.get(key) ?? 0) + us);
  }
  table(`callers of ${values.callers}`, chains, 10);
}
