import { readFileSync } from 'node:fs';

// A process's own counters, read from /proc (Linux): what the benchmarks
// charge to a server, independent of the load generator's clock.

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** User + system CPU time in microseconds. */
export function cpuMicros(pid: number): number {
  // Fields after the command name; utime and stime are fields 14 and 15 of stat.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks / 100) * 1e6; // USER_HZ is 100 on Linux
}
