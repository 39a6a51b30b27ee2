// A diagnostic preload for the comparison's Node.js processes, loaded through
// NODE_OPTIONS so that it reaches the servers and the client processes alike:
//
//   NODE_OPTIONS="--import ./bench/compare/servers/loop-stats.mjs" BENCH_LOOP_STATS_DIR=/tmp/loop \
//     node --import tsx bench/compare/run.ts --systems eventwire --scenarios fan-in --runs 1
//
// Every 250 ms each eventwire broker, bare ws server and load client appends
// one JSON line to <dir>/<role>-<pid>.jsonl: event-loop delay (max, p99 at
// 1 ms resolution), GC pauses, write syscalls and bytes written
// (/proc/self/io), CPU and involuntary context switches (/proc/self/status)
// over the interval. A latency tail then has a cause next to it: the server's
// own loop, a GC pause, or the process waiting for a core (a high loop delay
// with a low busy share and many involuntary switches). Linux only; nothing
// is recorded without BENCH_LOOP_STATS_DIR.
//
// BENCH_LOOP_STATS_HEAP=1 also samples the broker's allocations, collected
// objects included (what `node --heap-prof` leaves out), and writes
// <dir>/broker-<pid>.heapprofile when it is stopped; read it with
// bench/heap-profile-summary.mjs.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay, performance } from 'node:perf_hooks';

const dir = process.env.BENCH_LOOP_STATS_DIR;
const argv = process.argv.join(' ');
const role = /event-broker/.test(argv) ? 'broker' : /ws-broadcast/.test(argv) ? 'wsserver' : /client\.ts/.test(argv) ? 'client' : undefined;

const counters = () => {
  const io = readFileSync('/proc/self/io', 'utf8');
  const status = readFileSync('/proc/self/status', 'utf8');
  const read = (text, field) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  const cpu = process.cpuUsage();
  return {
    syscw: read(io, 'syscw'),
    wchar: read(io, 'wchar'),
    involuntary: read(status, 'nonvoluntary_ctxt_switches'),
    cpuMicros: cpu.user + cpu.system,
  };
};

if (dir && role) {
  const file = `${dir}/${role}-${process.pid}.jsonl`;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let gcCount = 0;
  let gcMs = 0;
  let gcMax = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcCount++;
      gcMs += entry.duration;
      gcMax = Math.max(gcMax, entry.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  let last = counters();
  setInterval(() => {
    const now = counters();
    const record = {
      t: Math.round(performance.now()),
      role,
      eldMax: +(delay.max / 1e6).toFixed(2),
      eldP99: +(delay.percentile(99) / 1e6).toFixed(2),
      gcCount,
      gcMs: +gcMs.toFixed(1),
      gcMax: +gcMax.toFixed(1),
      syscw: now.syscw - last.syscw,
      wchar: now.wchar - last.wchar,
      involuntary: now.involuntary - last.involuntary,
      cpuMs: Math.round((now.cpuMicros - last.cpuMicros) / 1000),
      heapMB: +(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1),
    };
    appendFileSync(file, `${JSON.stringify(record)}\n`);
    delay.reset();
    gcCount = 0;
    gcMs = 0;
    gcMax = 0;
    last = now;
  }, 250).unref();
}

if (dir && role === 'broker' && process.env.BENCH_LOOP_STATS_HEAP === '1') {
  const { Session } = await import('node:inspector');
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 16_384,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  // Before the broker's own SIGTERM handler: a same-thread inspector session answers synchronously.
  process.prependListener('SIGTERM', () => {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (!error) writeFileSync(`${dir}/broker-${process.pid}.heapprofile`, JSON.stringify(result.profile));
    });
  });
}
