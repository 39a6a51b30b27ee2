// Preloaded into every Node.js server of the comparison (beside
// gc-on-signal.mjs): what the server's own process went through during the
// fixed-load phase, so a latency tail has a cause printed next to it — the
// server's event loop falling behind, a GC pause, or (read by the harness from
// /proc) the process waiting for a core. The per-250 ms diagnostic version of
// the same figures is loop-stats.mjs.
//
// SIGWINCH (ignored by default, so a server without this preload is not
// harmed, and unused by every server here, unlike SIGHUP which the broker
// takes for a TLS reload) toggles the measurement: the first signal starts it
// and prints `phase-stats started`, the next prints
// `phase-stats {"eld":{…},"gc":{…}}` and stops it. Off between phases: the
// 1 ms loop-delay timer wakes the process 1,000 times a second, which the
// saturation phase's CPU figure must not pay.
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';

// 1 ms: the delays that matter here are milliseconds; the default 10 ms would hide them.
const delay = monitorEventLoopDelay({ resolution: 1 });
let measuring = false;
let gcCount = 0;
let gcTotalMs = 0;
let gcMaxMs = 0;
const gc = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcCount++;
    gcTotalMs += entry.duration;
    gcMaxMs = Math.max(gcMaxMs, entry.duration);
  }
});
const ms = (ns) => +(ns / 1e6).toFixed(2);

process.on('SIGWINCH', () => {
  if (!measuring) {
    measuring = true;
    gcCount = 0;
    gcTotalMs = 0;
    gcMaxMs = 0;
    delay.reset();
    delay.enable();
    gc.observe({ entryTypes: ['gc'] });
    process.stdout.write('phase-stats started\n');
    return;
  }
  measuring = false;
  delay.disable();
  // Entries still queued for the observer's callback belong to this phase.
  for (const entry of gc.takeRecords?.() ?? []) {
    gcCount++;
    gcTotalMs += entry.duration;
    gcMaxMs = Math.max(gcMaxMs, entry.duration);
  }
  gc.disconnect();
  const stats = {
    eld: { p50ms: ms(delay.percentile(50)), p99ms: ms(delay.percentile(99)), maxMs: ms(delay.max) },
    gc: { count: gcCount, totalMs: +gcTotalMs.toFixed(1), maxMs: +gcMaxMs.toFixed(1) },
  };
  process.stdout.write(`phase-stats ${JSON.stringify(stats)}\n`);
});
