// Broker benchmark: the built event-broker runs as its own process (as in
// production); clients are raw `ws` sockets speaking the native protocol in
// this process, all on 127.0.0.1. Run: npm run bench (see bench/RESULTS.md).
//
// 1. Fan-out 1 publisher → 100 subscribers, one topic, ~100-byte JSON events:
//    a. saturation: 20,000 events sent in windows of 200 (each window closed
//       by a ping barrier, so in-flight work stays bounded); deliveries/s.
//    b. fixed loads: 200 and 1,000 events/s for 3 s each (20k and 100k
//       deliveries/s); publish→deliver latency measured
//       by every subscriber (p50/p99/max), clocks shared (one process).
// 2. Idle connections, on a fresh broker process: RSS before/after 2,000
//    connected, greeted, subscribed clients; memory per idle connection.
// Broker CPU time comes from /proc/<pid>/stat (user+system), per delivery.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { cpuMicros, rssBytes } from './proc-stats.js';
import { quick } from './quick.js';

const brokerBin = fileURLToPath(new URL('../packages/event-broker/bin/event-broker.js', import.meta.url));
const SUBSCRIBERS = 100;
const SATURATION_EVENTS = quick ? 5000 : 20_000;
const WINDOW = 200;
const FIXED_RATES = [200, 1000];
const FIXED_SECONDS = quick ? 1 : 3;
const IDLE_CONNECTIONS = 2000;

interface Broker {
  process: ChildProcess;
  url: string;
  pid: number;
}

async function startBroker(): Promise<Broker> {
  const child = spawn(process.execPath, [brokerBin, '--port', '0', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk) => {
      text += chunk;
      const match = /listening on (ws:\/\/\S+)/.exec(text);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`broker exited ${code}`)));
    setTimeout(() => reject(new Error('broker did not start')), 10_000).unref();
  });
  return { process: child, url, pid: child.pid! };
}

class Client {
  readonly socket: WebSocket;
  onEvent: (text: string) => void = () => {};
  #pongs = new Map<number, () => void>();
  #nextPing = 1;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      const text = String(data);
      if (text.startsWith('{"type":"event"')) this.onEvent(text);
      else if (text.startsWith('{"type":"pong"')) {
        const id = Number(/"id":(\d+)/.exec(text)?.[1]);
        this.#pongs.get(id)?.();
        this.#pongs.delete(id);
      }
    });
  }

  static async connect(url: string, pattern?: string): Promise<Client> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const client = new Client(socket);
    socket.send(JSON.stringify({ type: 'hello', protocol: 1 }));
    if (pattern) socket.send(JSON.stringify({ type: 'subscribe', id: 0, pattern }));
    await client.barrier();
    return client;
  }

  /** Resolves once the broker has handled everything sent before it. */
  barrier(): Promise<void> {
    const id = this.#nextPing++;
    return new Promise((resolve) => {
      this.#pongs.set(id, resolve);
      this.socket.send(JSON.stringify({ type: 'ping', id }));
    });
  }

  publish(topic: string, data: unknown, id: number): void {
    this.socket.send(
      JSON.stringify({
        type: 'publish',
        event: { id: `e${id}`, topic, source: 'bench', time: '2026-01-01T00:00:00.000Z', data },
      }),
    );
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function fanOut(broker: Broker): Promise<Record<string, number>> {
  const subscribers = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => Client.connect(broker.url, 'bench.fanout')));
  const publisher = await Client.connect(broker.url);
  const payload = { order: 'o-12345', total: 99.99, currency: 'EUR', items: 3 }; // ~100 B as a frame's data

  // a. saturation
  let delivered = 0;
  let target = 0;
  let reached: () => void = () => {};
  for (const subscriber of subscribers) {
    subscriber.onEvent = () => {
      if (++delivered === target) reached();
    };
  }
  target = SATURATION_EVENTS * SUBSCRIBERS;
  const allDelivered = new Promise<void>((resolve) => (reached = resolve));
  const cpuBefore = cpuMicros(broker.pid);
  const started = performance.now();
  for (let sent = 0; sent < SATURATION_EVENTS; ) {
    for (let i = 0; i < WINDOW && sent < SATURATION_EVENTS; i++, sent++) publisher.publish('bench.fanout', payload, sent);
    await publisher.barrier();
  }
  await allDelivered;
  const seconds = (performance.now() - started) / 1000;
  const cpuPerDelivery = (cpuMicros(broker.pid) - cpuBefore) / target;

  // b. fixed loads with latency
  const latency: Record<string, number> = {};
  for (const rate of FIXED_RATES) {
    const result = await fixedLoad(subscribers, publisher, rate, payload);
    latency[`p50@${rate}`] = result.p50;
    latency[`p99@${rate}`] = result.p99;
    latency[`max@${rate}`] = result.max;
    latency[`samples@${rate}`] = result.samples;
  }
  for (const client of [...subscribers, publisher]) client.socket.close();
  return { deliveriesPerSecond: target / seconds, brokerCpuMicrosPerDelivery: cpuPerDelivery, ...latency };
}

async function fixedLoad(
  subscribers: Client[],
  publisher: Client,
  rate: number,
  payload: Record<string, unknown>,
): Promise<{ p50: number; p99: number; max: number; samples: number }> {
  const latencies: number[] = [];
  for (const subscriber of subscribers) {
    subscriber.onEvent = (text) => {
      const sentAt = Number(/"t":([\d.]+)/.exec(text)![1]);
      latencies.push(performance.now() - sentAt);
    };
  }
  const total = rate * FIXED_SECONDS;
  const begin = performance.now();
  for (let i = 0; i < total; i++) {
    const due = begin + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    publisher.publish('bench.fanout', { ...payload, t: performance.now() }, i);
  }
  await publisher.barrier();
  const deadline = performance.now() + 10_000;
  while (latencies.length < total * subscribers.length && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1)!, samples: latencies.length };
}

async function idleMemory(broker: Broker): Promise<Record<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = rssBytes(broker.pid);
  const clients: Client[] = [];
  for (let i = 0; i < IDLE_CONNECTIONS; i += 100) {
    clients.push(...(await Promise.all(Array.from({ length: 100 }, (_, k) => Client.connect(broker.url, `idle.c${i + k}`)))));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = rssBytes(broker.pid);
  for (const client of clients) client.socket.close();
  return { connections: IDLE_CONNECTIONS, rssBeforeMiB: before / 2 ** 20, rssAfterMiB: after / 2 ** 20, kibPerConnection: (after - before) / IDLE_CONNECTIONS / 1024 };
}

const broker = await startBroker();
// Idle memory is measured on a fresh broker: after fan-out the heap holds
// garbage that new connections would reuse, which hides their real cost.
const idleBroker = await startBroker();
try {
  const fan = await fanOut(broker);
  const idle = await idleMemory(idleBroker);
  console.log(`node ${process.version}, broker: built dist as its own process; clients: this process`);
  console.log('');
  console.log(`| scenario | figure |`);
  console.log(`| --- | ---: |`);
  console.log(`| fan-out 1→${SUBSCRIBERS}, saturation (${SATURATION_EVENTS.toLocaleString('en')} events) | ${Math.round(fan.deliveriesPerSecond!).toLocaleString('en')} deliveries/s |`);
  console.log(`| broker CPU per delivery at saturation | ${fan.brokerCpuMicrosPerDelivery!.toFixed(2)} µs |`);
  for (const rate of FIXED_RATES) {
    const label = `fan-out 1→${SUBSCRIBERS} at ${rate} events/s (${(rate * SUBSCRIBERS).toLocaleString('en')} deliveries/s)`;
    console.log(`| ${label}, publish→deliver p50 | ${fan[`p50@${rate}`]!.toFixed(2)} ms |`);
    console.log(`| … at ${rate} events/s, p99 | ${fan[`p99@${rate}`]!.toFixed(2)} ms |`);
    console.log(`| … at ${rate} events/s, max (${fan[`samples@${rate}`]!.toLocaleString('en')} samples) | ${fan[`max@${rate}`]!.toFixed(2)} ms |`);
  }
  console.log(`| idle connections (greeted, 1 subscription each) | ${idle.connections} |`);
  console.log(`| broker RSS before → after | ${idle.rssBeforeMiB!.toFixed(1)} → ${idle.rssAfterMiB!.toFixed(1)} MiB |`);
  console.log(`| memory per idle connection | ${idle.kibPerConnection!.toFixed(1)} KiB |`);
} finally {
  broker.process.kill('SIGTERM');
  idleBroker.process.kill('SIGTERM');
}
