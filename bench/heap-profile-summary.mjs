// Summarises a V8 sampling heap profile (.heapprofile): bytes allocated by
// function and by file, as shares of all sampled bytes. Meant for a profile
// that includes collected objects (HeapProfiler.startSampling with
// includeObjectsCollectedByMajorGC/MinorGC), where it shows allocation
// sites; a plain `node --heap-prof` profile only holds what was still live.
//
//   node bench/heap-profile-summary.mjs <file.heapprofile> [--top 25] [--per <count>]
//
// --per <count>: also bytes per unit of work (deliveries in the run, say).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileOf } from './profile-source.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' }, per: { type: 'string' } } });
const top = Number(values.top ?? 25);
const per = values.per ? Number(values.per) : undefined;
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));


const byFunction = new Map();
const byFile = new Map();
const byCaller = new Map();
let total = 0;
(function visit(node, parent) {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = fileOf(url);
  const name = functionName || '(anonymous)';
  // selfSize: what the samples attributed to this frame (collected objects included when asked for).
  const bytes = node.selfSize;
  total += bytes;
  const key = `${name}  ${file}${url ? `:${lineNumber + 1}` : ''}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + bytes);
  byFile.set(file, (byFile.get(file) ?? 0) + bytes);
  // Builtins (JSON.parse, Buffer internals) are charged to the JS function calling them.
  if (parent) {
    const callerKey = `${name} ← ${parent.callFrame.functionName || '(anonymous)'}  ${fileOf(parent.callFrame.url)}:${parent.callFrame.lineNumber + 1}`;
    byCaller.set(callerKey, (byCaller.get(callerKey) ?? 0) + bytes);
  }
  for (const child of node.children ?? []) visit(child, node);
})(profile.head, undefined);

const fmt = (bytes) => `${((100 * bytes) / total).toFixed(1).padStart(5)} %  ${(bytes / 2 ** 20).toFixed(1).padStart(7)} MiB${per ? `  ${(bytes / per).toFixed(0).padStart(6)} B/unit` : ''}`;
const table = (title, map, n) => {
  console.log(`\n${title}`);
  for (const [key, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${fmt(bytes)}  ${key}`);
};
console.log(`${positionals[0]}: ${(total / 2 ** 20).toFixed(1)} MiB sampled${per ? `, ${(total / per).toFixed(0)} B per unit (${per})` : ''}`);
table(`top ${top} allocating functions`, byFunction, top);
table('top allocating function ← caller', byCaller, top);
table('by file', byFile, 15);
