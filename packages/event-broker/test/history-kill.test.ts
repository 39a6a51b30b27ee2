// The promise of durable history, tested the hard way: the broker (the real
// CLI, with --data-dir) is SIGKILLed at random moments while a publisher
// streams numbered events through EventChannel and three subscribers read,
// and restarted on the same port each time. Every subscriber must end with
// every event exactly once, in order. Rounds: 20 (HISTORY_KILL_ROUNDS for more).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { until, within } from './helpers.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const ROUNDS = Number(process.env['HISTORY_KILL_ROUNDS'] ?? 20);
const SEED = Number(process.env['HISTORY_KILL_SEED'] ?? Date.now() % 100_000);

/** A small seeded generator, so a failing run can be replayed with HISTORY_KILL_SEED. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

async function startCli(dataDir: string, port: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@eventwire/source', '--import', 'tsx', cli, '--port', String(port), '--data-dir', dataDir, '--history', 'stream.#:1000000:1h', '--quiet'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (out += chunk));
  const listening = await within(
    (async () => {
      for (;;) {
        const match = /listening on ws:\/\/[\d.]+:(\d+)/.exec(out);
        if (match) return Number(match[1]);
        if (child.exitCode !== null) throw new Error(`broker exited ${child.exitCode}: ${out}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })(),
    20_000,
    'broker listening',
  );
  return { child, port: listening };
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

test(`SIGKILL at random moments (${ROUNDS} rounds, seed ${SEED}): every subscriber gets every event exactly once, in order`, async () => {
  const next = random(SEED);
  const dataDir = mkdtempSync(join(tmpdir(), 'history-kill-'));
  let broker = await startCli(dataDir, 0);
  const port = broker.port;
  const url = `ws://127.0.0.1:${port}`;
  const options = { url, ws: { backoff: () => 20 + Math.floor(next() * 30) } };
  const publisher = new EventChannel(options);
  const subscribers = [new EventChannel(options), new EventChannel(options), new EventChannel(options)];
  const received = subscribers.map(() => [] as number[]);
  const gaps: string[] = [];
  try {
    await Promise.all(subscribers.map((subscriber, index) => subscriber.on('stream.numbers', (n) => void received[index]!.push(n as number)).ready));
    subscribers.forEach((subscriber) => subscriber.onGap((gap) => gaps.push(`${gap.pattern}:${gap.reason}`)));
    await publisher.ready();
    let sent = 0;
    let stop = false;
    const publishing = (async () => {
      while (!stop) await publisher.emit('stream.numbers', ++sent, { ack: true }).catch(() => sent--);
    })();
    for (let round = 0; round < ROUNDS; round++) {
      const target = sent + 3 + Math.floor(next() * 40);
      await until(() => sent >= target, `publisher at ${target} (round ${round})`, 20_000);
      await kill(broker.child);
      broker = await startCli(dataDir, port);
    }
    const finalTarget = sent + 20;
    await until(() => sent >= finalTarget, 'publishing after the last restart', 20_000);
    stop = true;
    await publishing;
    const total = sent;
    await until(() => received.every((list) => list.length >= total), `every subscriber at ${total} (have ${received.map((l) => l.length)})`, 20_000);
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    for (const list of received) assert.equal(list, expected);
    assert.equal(gaps, [], 'nothing was lost, so nothing was reported lost');
  } finally {
    await Promise.all([publisher, ...subscribers].map((channel) => channel.close()));
    await kill(broker.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a broker started on a log whose newest file ends in a torn record drops only that record and serves the rest', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'history-torn-'));
  let broker = await startCli(dataDir, 0);
  try {
    const httpUrl = `http://127.0.0.1:${broker.port}`;
    for (let i = 1; i <= 5; i++) {
      const response = await fetch(`${httpUrl}/pubsub/stream.torn/publish`, { method: 'POST', body: JSON.stringify({ payload: i }) });
      assert.is(response.status, 200);
    }
    await kill(broker.child);
    // Tear the newest record: cut the file in the middle of its last record.
    const historyDir = join(dataDir, 'history');
    const newest = readdirSync(historyDir).filter((name) => name.endsWith('.log')).sort().at(-1)!;
    const path = join(historyDir, newest);
    truncateSync(path, statSync(path).size - 7);
    broker = await startCli(dataDir, 0);
    const page = (await (await fetch(`http://127.0.0.1:${broker.port}/history/stream.torn`)).json()) as { events: Array<{ data: number }> };
    assert.equal(page.events.map((event) => event.data), [1, 2, 3, 4]);
    const next = await fetch(`http://127.0.0.1:${broker.port}/pubsub/stream.torn/publish`, { method: 'POST', body: JSON.stringify({ payload: 6 }) });
    assert.is(next.status, 200);
    const after = (await (await fetch(`http://127.0.0.1:${broker.port}/history/stream.torn`)).json()) as { events: Array<{ data: number }> };
    assert.equal(after.events.map((event) => event.data), [1, 2, 3, 4, 6]);
  } finally {
    await kill(broker.child);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
