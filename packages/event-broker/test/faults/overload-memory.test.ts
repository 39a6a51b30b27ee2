// Memory under overload (#29): what the outbound budget counts is what the
// process holds. A reader the budget cuts must free its queue then, whatever
// state it was in — a slow consumer already cut (4008) keeps its backlog for
// the close's grace period, and the budget stops counting a reader it cuts.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket, { WebSocketServer } from 'ws';
import { EventChannel } from '@eventwire/event-channel';
import { defaultTotalOutboundBytes } from '../../src/capacity.js';
import { Connection } from '../../src/connection.js';
import { WsWire } from '../../src/wire/ws-wire.js';
import { OutboundBudget, type BudgetedReader } from '../../src/outbound-budget.js';
import { memoryOf, RawClient, runBrokerCli, until, waitForOutput, within } from '../helpers.js';

const test = suite('overload memory');

/** A server-side socket whose client has stopped reading, wrapped as the broker wraps it. */
async function stalledConnection(
  wss: WebSocketServer,
  budget: OutboundBudget,
  onSlow: (connection: Connection) => void,
): Promise<{ connection: Connection; client: WebSocket; socket: WebSocket }> {
  const { port } = wss.address() as AddressInfo;
  const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  client.on('error', () => {});
  await within(new Promise((resolve) => client.once('open', resolve)), 5000, 'client open');
  (client as unknown as { _socket: Socket })._socket.pause();
  const socket = await within(accepted, 5000, 'server side');
  const connection = new Connection({
    id: `c${port}-${Math.random()}`,
    wire: new WsWire(socket),
    surface: 'native',
    remote: 'test',
    maxOutboundBytes: 1024 * 1024,
    slowConsumerMs: 60_000,
    budget,
    onSlow,
  });
  return { connection, client, socket };
}

test('a slow consumer waiting out its close grace is dropped when the budget cuts it (its backlog freed, not just uncounted)', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  // Above twice the per-reader bound (2 MiB), so one reader is cut as a slow consumer before the budget binds.
  const budget = new OutboundBudget(3 * 1024 * 1024);
  const slow: Connection[] = [];
  const { connection, client, socket } = await stalledConnection(wss, budget, (cut) => slow.push(cut));
  try {
    const frame = 'x'.repeat(128 * 1024);
    // Fills the kernel's buffers, then ours: past 2 MiB unsent it is cut with 4008 at once.
    for (let sent = 0; slow.length === 0 && sent < 1000; sent++) {
      connection.send(frame);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.is(slow.length, 1, 'cut as a slow consumer');
    const held = connection.unsentBytes;
    assert.ok(held > 2 * 1024 * 1024, `its backlog is still held during the grace: ${held}`);
    const tcp = (socket as unknown as { _socket: Socket })._socket;
    assert.not.ok(tcp.destroyed, 'waiting out its grace');
    // Another reader falls behind: together they pass the budget, and the
    // furthest behind (the one in its grace) is what the budget cuts.
    const other: BudgetedReader = { unsentBytes: 1024 * 1024, backloggedSince: Date.now(), cutForBudget: () => assert.unreachable('the newer reader') };
    budget.report(other, 1024 * 1024);
    assert.is(budget.cuts, 1);
    // Freed now, not after the grace: the budget no longer counts those bytes.
    assert.ok(tcp.destroyed, 'the budget dropped it at once');
    await within(new Promise((resolve) => socket.once('close', resolve)), 5000, 'closed');
    assert.is(slow.length, 1, 'counted as cut once');
  } finally {
    client.terminate();
    for (const socket of wss.clients) socket.terminate();
    await new Promise((resolve) => wss.close(resolve));
  }
});

test('the default budget is a quarter of the memory the process may use: the cgroup limit in a container, not the host', () => {
  const GiB = 1024 ** 3;
  assert.is(defaultTotalOutboundBytes({ total: 64 * GiB, constrained: 2 * GiB }), GiB / 2, 'a 2 GiB container on a 64 GiB host');
  assert.is(defaultTotalOutboundBytes({ total: 64 * GiB, constrained: 2 ** 64 }), GiB, 'no limit (cgroup v2 says 2^64): at most 1 GiB');
  assert.is(defaultTotalOutboundBytes({ total: 2 * GiB, constrained: undefined }), GiB / 2, 'no cgroup: the host');
  assert.is(defaultTotalOutboundBytes({ total: 2 * GiB, constrained: 0 }), GiB / 2);
});

const MiB = 1024 * 1024;
/** The overhead documented beside the budgets (README, Capacity; docs/SCALING.md): what a flood costs past the queues. */
const FLOOD_OVERHEAD = 128 * MiB;

test('under a flood to two waves of stalled readers, the broker grows by at most its budget plus the documented overhead; the healthy reader gets every event in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'overload-'));
  const config = join(dir, 'broker.config.json');
  const budget = 32 * MiB;
  // Slow consumers are cut quickly (200 ms above 1 MiB, at once above 2 MiB) and wait out their close's grace meanwhile.
  writeFileSync(config, JSON.stringify({ maxOutboundBytes: '1mb', maxTotalOutboundBytes: budget, slowConsumerMs: 200, quiet: true }));
  const broker = runBrokerCli(['--port', '0', '--config', config]);
  const stalled = new Set<WebSocket>();
  let healthy: EventChannel | undefined;
  let publisher: RawClient | undefined;
  try {
    const [, url] = await waitForOutput(broker.output, /listening on (ws:\/\/[\d.]+:\d+)/, 'listening');
    const httpUrl = url!.replace('ws://', 'http://');
    // A stalled reader stops reading once subscribed; halfway through, a second wave of them comes.
    const stall = (i: number): void => {
      const socket = new WebSocket(`${url}/pubsub/ws?topics=ov.s${i}`, { perMessageDeflate: false });
      stalled.add(socket);
      socket.on('error', () => {});
      socket.once('message', () => (socket as unknown as { _socket: { pause(): void } })._socket.pause());
    };
    for (let i = 0; i < 20; i++) stall(i);
    healthy = new EventChannel({ url: url!, ws: { backoff: () => 0 } });
    const seen: number[] = [];
    let gaps = 0;
    healthy.onGap(() => gaps++);
    await healthy.on('ov.*', (data) => void seen.push((data as { n: number }).n)).ready;
    publisher = await RawClient.native(url!);
    await until(() => [...stalled].every((socket) => socket.readyState === WebSocket.OPEN), 'stalled readers open', 10_000);
    const before = memoryOf(broker.child.pid!);
    const payload = 'x'.repeat(128 * 1024);
    const rounds = 40;
    let n = 0;
    // Each round two events per stalled reader's topic (5 MiB a round, 200 MiB in all, none shared
    // between stalled readers); the next round once the healthy reader has this one.
    for (let round = 0; round < rounds; round++) {
      if (round === rounds / 2) for (let i = 0; i < 20; i++) stall(i);
      for (let i = 0; i < 40; i++, n++) {
        publisher.send({ type: 'publish', event: { id: `ov-${n}`, topic: `ov.s${i % 20}`, source: 'test', time: new Date().toISOString(), data: { n, payload } } });
      }
      await until(() => seen.length === n, `the healthy reader has round ${round}`, 20_000);
    }
    const after = memoryOf(broker.child.pid!);
    const stats = (await (await fetch(`${httpUrl}/stats`)).json()) as { slowConsumersCut: number; slowConsumersCutForMemory: number };
    const grew = after.peak - before.rss;
    if (process.env['OVERLOAD_TEST_VERBOSE']) console.log(`peak RSS grew ${(grew / MiB).toFixed(0)} MiB`, JSON.stringify(stats));
    assert.ok(stats.slowConsumersCut >= 20, `stalled readers were cut: ${JSON.stringify(stats)}`);
    assert.equal(seen, Array.from({ length: n }, (_, k) => k), 'every event once, in order');
    assert.is(gaps, 0);
    assert.ok(grew < budget + FLOOD_OVERHEAD, `peak RSS grew by ${(grew / MiB).toFixed(0)} MiB (budget ${budget / MiB} MiB + ${FLOOD_OVERHEAD / MiB} MiB)`);
  } finally {
    for (const socket of stalled) socket.terminate();
    await healthy?.close();
    publisher?.close();
    broker.child.kill('SIGTERM');
    await within(broker.exit, 10_000, 'broker exit');
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
