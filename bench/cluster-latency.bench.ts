// Delivery latency at a fixed load across a broker cluster: 1 publisher →
// 1,000 subscribers on one topic, RATE events/s, the subscribers spread
// round-robin over the brokers and the publisher on the first. Scenarios:
// one broker; three brokers + nats-server; the same with the topic keeping
// history (in a cluster: JetStream, nats-server -js). Run (after npm run
// build, with nats-server on PATH): cd bench && node --import tsx cluster-latency.bench.ts
// (BENCH_RATE=20 for another load).
//
// Latency is publish → receipt, both in this process (one clock); the
// subscribers share this process's event loop, so the figures include its
// reading time, which a real client spreads over its own machine. Server CPU
// is read from /proc for every broker and nats-server, summed, per delivery.
import { startNatsServer } from '../scripts/testing/nats-server.js';
import { startBrokerProcess } from './broker-process.js';
import { connect, type BenchConnection } from './compare/adapters.js';
import { cpuMicros } from './proc-stats.js';
import { quick } from './quick.js';

const SUBSCRIBERS = 1000;
const RATE = Number(process.env['BENCH_RATE'] ?? 100);
const SECONDS = quick ? 2 : 10;

interface Scenario {
  readonly name: string;
  readonly brokers: number;
  readonly history: boolean;
}


const SENT_AT = /"t":([\d.]+)/;

async function run(scenario: Scenario): Promise<string> {
  const nats = scenario.brokers > 1 ? await startNatsServer({ jetstream: scenario.history }) : undefined;
  const brokers = [];
  for (let index = 0; index < scenario.brokers; index++) brokers.push(await startBrokerProcess(nats?.url, scenario.history ? ['--history', 'bench.#:1000:1h'] : []));
  const latencies: number[] = [];
  let measuring = false;
  let received = 0;
  const subscribers: BenchConnection[] = [];
  for (let index = 0; index < SUBSCRIBERS; index++) {
    const connection = await connect('eventwire', brokers[index % scenario.brokers]!.url);
    connection.onMessage = (text) => {
      received++;
      if (!measuring) return;
      const sentAt = SENT_AT.exec(text);
      if (sentAt) latencies.push(performance.now() - Number(sentAt[1]));
    };
    await connection.subscribe('bench.latency');
    subscribers.push(connection);
  }
  const publisher = await connect('eventwire', brokers[0]!.url);
  const event = (): string => JSON.stringify({ t: performance.now(), user: 'ada', action: 'click', pad: 'x'.repeat(40) });
  // NATS spreads the brokers' subscriptions asynchronously: probe until every subscriber got one.
  const deadline = Date.now() + 15_000;
  while (received < SUBSCRIBERS) {
    if (Date.now() > deadline) throw new Error(`only ${received} of ${SUBSCRIBERS} subscribers reachable`);
    received = 0;
    publisher.publish('bench.latency', event());
    await publisher.barrier();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const pids = [...brokers.map((broker) => broker.pid), ...(nats?.pid ? [nats.pid] : [])];
  received = 0;
  measuring = true;
  const cpuBefore = pids.reduce((total, pid) => total + cpuMicros(pid), 0);
  const total = RATE * SECONDS;
  const started = performance.now();
  // Paced on the clock, not on timer ticks: a late tick sends what is due, so the load stays RATE/s.
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE) + 1);
    while (sent < due) {
      publisher.publish('bench.latency', event());
      sent++;
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const expected = total * SUBSCRIBERS;
  const waitUntil = Date.now() + 30_000;
  while (received < expected && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 10));
  const cpu = pids.reduce((sum, pid) => sum + cpuMicros(pid), 0) - cpuBefore;
  for (const connection of [...subscribers, publisher]) connection.close();
  await Promise.all(brokers.map((broker) => broker.stop()));
  await nats?.stop();
  latencies.sort((a, b) => a - b);
  const at = (q: number): string => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(2);
  return `${scenario.name.padEnd(34)} p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, p99.9 ${at(0.999)} ms, max ${latencies.at(-1)!.toFixed(2)} ms; ${(cpu / received).toFixed(2)} µs CPU/delivery; ${received}/${expected} delivered`;
}

console.log(`1 publisher → ${SUBSCRIBERS} subscribers, ${RATE} events/s for ${SECONDS} s (${RATE * SUBSCRIBERS} deliveries/s)`);
for (const scenario of [
  { name: '1 broker', brokers: 1, history: false },
  { name: '3 brokers + NATS', brokers: 3, history: false },
  { name: '1 broker, history (memory)', brokers: 1, history: true },
  { name: '3 brokers + NATS, history (JetStream)', brokers: 3, history: true },
]) {
  console.log(`  ${await run(scenario)}`);
}
