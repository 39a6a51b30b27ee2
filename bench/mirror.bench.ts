// How long a cluster broker whose history lives in JetStream takes to be
// ready after a restart: it mirrors the whole stream before it admits a
// client (PROTOCOL.md §4.1), so this is the window in which its clients are
// refused 503 and retry. A stream of N events (recent: inside the two-minute
// dedup window, the case a kill -9 and restart meets) is filled by a plain
// NATS client; then a broker process is started and timed from spawn to its
// "listening" line (printed once the mirror is loaded), against a broker on
// an empty stream (Node's own start-up). Also its RSS once ready.
// Run (after npm run build, with nats-server on PATH):
//   cd bench && node --import tsx mirror.bench.ts [--quick]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer } from '../scripts/testing/nats-server.js';
import { rssBytes } from './proc-stats.js';
import { quick } from './quick.js';

const SIZES = quick ? [50_000] : [100_000, 500_000, 1_000_000];
const TOPICS = 1000;
const cli = fileURLToPath(new URL('../packages/event-broker/bin/event-broker.js', import.meta.url));

async function timeToReady(natsUrl: string, stream: string): Promise<{ ms: number; rssMiB: number }> {
  const config = join(dir, `${stream}.json`);
  writeFileSync(
    config,
    JSON.stringify({ history: [{ pattern: 'kept.#', maxEvents: 1_000_000 / TOPICS, maxAge: '1h' }], cluster: { url: natsUrl, history: { stream, readyTimeoutMs: 300_000 } } }),
  );
  const start = performance.now();
  const child = spawn(process.execPath, [cli, '--port', '0', '--host', '127.0.0.1', '--quiet', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`broker not ready in 300 s: ${text.slice(-500)}`)), 300_000);
      const onData = (chunk: Buffer): void => {
        text += chunk;
        if (/listening on ws:/.test(text)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => reject(new Error(`broker exited: ${text.slice(-500)}`)));
    });
    return { ms: performance.now() - start, rssMiB: rssBytes(child.pid!) / 1024 / 1024 };
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

let baseline = 0;
const dir = mkdtempSync(join(tmpdir(), 'mirror-bench-'));
const server = await startNatsServer({ jetstream: true });
try {
  const nc = await connect({ servers: server.url });
  const manager = await jetstreamManager(nc);
  const time = new Date().toISOString();
  const rows: string[] = [];
  for (const size of [0, ...SIZES]) {
    const stream = `MIRROR_${size}`;
    // The stream as a broker makes it for the rule (PROTOCOL.md §4.1); filled here, faster than through a broker.
    await manager.streams.add({ name: stream, subjects: ['kept', 'kept.>'], max_msgs_per_subject: 1_000_000 / TOPICS, duplicate_window: 120_000_000_000 });
    for (let i = 0; i < size; i++) {
      const topic = `kept.t${i % TOPICS}`;
      nc.publish(topic, JSON.stringify({ id: `m${size}-${i}`, topic, source: 'urn:bench', time, data: { i, user: 'ada', action: 'click' } }));
      if (i % 10_000 === 9_999) await nc.flush();
    }
    await nc.flush();
    while ((await manager.streams.info(stream)).state.messages < size) await new Promise((resolve) => setTimeout(resolve, 100));
    const { ms, rssMiB } = await timeToReady(server.url, stream);
    rows.push(`| ${size.toLocaleString('en')} | ${(ms / 1000).toFixed(2)} s | ${size ? (((ms - baseline) * 1000) / size).toFixed(1) : '—'} µs | ${rssMiB.toFixed(0)} MiB |`);
    if (size === 0) baseline = ms;
    await manager.streams.delete(stream);
  }
  console.log('| events in the stream | spawn → listening | per event (minus the empty stream) | RSS when ready |');
  console.log('| --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  await nc.close();
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
