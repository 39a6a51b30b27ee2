import { readdirSync, readFileSync } from 'node:fs';

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

/**
 * Involuntary context switches so far, summed over the process's threads
 * (/proc/<pid>/status counts the main thread only, and nats-server's work
 * is on other threads): times it was preempted, e.g. to wait for a core.
 */
export function involuntarySwitches(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8'))![1]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}
