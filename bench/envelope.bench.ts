// What every publish pays for the envelope's timestamp check (#35): isRfc3339
// on the event's `time`, once per parseEnvelope, beside the regex + Date.UTC
// check it replaced and the loop alone. Fresh strings as JSON.parse makes them
// (1,000 distinct timestamps, a third with an offset or a leap second).
// Run: node --import tsx envelope.bench.ts from bench/ (it imports the
// channel's source file: the function is not public).
import { isRfc3339 } from '../packages/event-channel/src/envelope.js';

const RFC3339 = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
function regexIsRfc3339(text: string): boolean {
  const match = RFC3339.exec(text);
  if (!match) return false;
  const daysInMonth = new Date(Date.UTC(Number(match[1]), Number(match[2]), 0)).getUTCDate();
  return Number(match[3]) <= daysInMonth;
}

const base = Date.UTC(2026, 0, 1);
const times = Array.from({ length: 1_000 }, (_, i) => {
  const iso = new Date(base + i * 7_919_113).toISOString();
  if (i % 3 === 1) return `${iso.slice(0, -1)}+05:30`;
  if (i % 30 === 2) return `${iso.slice(0, 17)}60Z`;
  return JSON.parse(JSON.stringify(iso)) as string;
});

function nsPer(fn: (text: string) => boolean): number {
  const rounds = 5_000_000;
  let hits = 0;
  const start = process.hrtime.bigint();
  for (let round = 0; round < rounds; round++) if (fn(times[round % times.length]!)) hits++;
  const ns = Number(process.hrtime.bigint() - start) / rounds;
  if (hits !== rounds && fn !== loopAlone) throw new Error(`${hits} of ${rounds} accepted`);
  return ns;
}
const loopAlone = (text: string): boolean => text.length > 0;

for (let run = 0; run < 3; run++) {
  const loop = nsPer(loopAlone);
  const chars = nsPer(isRfc3339);
  const regex = nsPer(regexIsRfc3339);
  console.log(`run ${run + 1}: loop alone ${loop.toFixed(1)} ns; isRfc3339 (char codes) ${chars.toFixed(1)} ns; regex + Date.UTC ${regex.toFixed(1)} ns`);
}
