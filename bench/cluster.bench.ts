// Fan-out across a broker cluster: 1 publisher → 1,000 subscribers, all on
// one topic, spread round-robin over 3 brokers joined by one nats-server, one
// redis-server, one PostgreSQL or librdkafka's mock Kafka cluster (each engine
// in turn), against the same 1,000 on 1 broker alone. Run (after npm run
// build, with nats-server, redis-server, PostgreSQL, cc and librdkafka-dev
// installed): cd bench && node --import tsx cluster.bench.ts
// BENCH_ONLY=kafka (or 1, nats, redis, postgres; comma-separated) runs those rows only;
// BENCH_KAFKA_FETCH_WAIT_MS the brokers' Kafka fetch wait (5).
//
// Brokers are CLI processes; server CPU is read from /proc for every broker
// and the engine's server and summed, per delivery (the Kafka mock's CPU is
// shown apart: it is librdkafka's test double, not Kafka). The subscribers
// live in this process (one core's worth of reading), so deliveries/s is
// bounded by them on this 2-core machine; CPU per delivery is the
// server-side figure.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKafkaServer } from '../scripts/testing/kafka-server.js';
import { startNatsServer } from '../scripts/testing/nats-server.js';
import { startPostgres } from '../scripts/testing/postgres-server.js';
import { startRedisServer } from '../scripts/testing/redis-server.js';
import { startBrokerProcess, type BrokerProcess } from './broker-process.js';
import { connect, type BenchConnection } from './compare/adapters.js';
import { cpuMicros } from './proc-stats.js';
import { quick } from './quick.js';

const SUBSCRIBERS = 1000;
const MESSAGES = quick ? 200 : 1000;
const BATCH = 10;
const ROUNDS = quick ? 1 : 3;
/**
 * The brokers' Kafka fetch wait. The mock holds a fetch that found nothing
 * for the whole wait, even when a record arrives meanwhile (bench/RESULTS.md,
 * "kafka:// beside raw kafkajs"), so at the default 100 ms a reader that
 * caught up sits out up to 100 ms with events waiting, and every round's last
 * events come that late: the figure would be the mock's wait, not the
 * cluster's cost. 5 ms keeps that under the noise; Apache Kafka answers a
 * waiting fetch when a record arrives, so there the wait bounds idle fetches only.
 * The price: each broker's idle fetches come back every 5 ms, and their CPU
 * is in the figure. BENCH_KAFKA_FETCH_WAIT_MS sets another (100 to compare).
 */
const KAFKA_FETCH_WAIT_MS = Number(process.env['BENCH_KAFKA_FETCH_WAIT_MS'] ?? 5);

interface Outcome {
  deliveriesPerSecond: number;
  /** The brokers' CPU plus the engine server's (the Kafka mock's is `mockCpuMicrosPerDelivery`). */
  cpuMicrosPerDelivery: number;
  mockCpuMicrosPerDelivery?: number;
}

type Engine = 'nats' | 'redis' | 'postgres' | 'kafka';

interface EngineServer {
  readonly pid: number | undefined;
  stop(): Promise<void>;
  /** Starts one broker joined to it. */
  broker(): Promise<BrokerProcess>;
}

async function startEngine(engine: Engine): Promise<EngineServer> {
  if (engine !== 'kafka') {
    const server = await (engine === 'nats' ? startNatsServer() : engine === 'redis' ? startRedisServer() : startPostgres());
    return { pid: server.pid, stop: () => server.stop(), broker: () => startBrokerProcess(server.url) };
  }
  const server = await startKafkaServer();
  // One partition for the bench's Kafka topic and the brokers' own (`_EVENTWIRE`),
  // made here: ensureTopic is a function, which a CLI broker cannot be given.
  // The brokers' default ensureTopic then meets a mock without CreateTopics and takes them as they are.
  await server.ensureTopic('bench');
  await server.ensureTopic('_EVENTWIRE');
  const dir = mkdtempSync(join(tmpdir(), 'cluster-bench-'));
  const config = join(dir, 'broker.json');
  writeFileSync(config, JSON.stringify({ cluster: { url: server.url, kafka: { fetchWaitMs: KAFKA_FETCH_WAIT_MS } } }));
  return {
    get pid() {
      return server.pid;
    },
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    broker: () => startBrokerProcess(undefined, ['--config', config], true),
  };
}

/** The last scenario's CPU at rest, ms per second: the brokers', the engine server's (the mock included). */
let idle = { brokers: 0, server: 0 };

async function scenario(brokerCount: number, engine: Engine = 'nats'): Promise<Outcome[]> {
  const server = brokerCount > 1 ? await startEngine(engine) : undefined;
  const brokers: BrokerProcess[] = [];
  for (let index = 0; index < brokerCount; index++) brokers.push(await (server ? server.broker() : startBrokerProcess(undefined)));
  let received = 0;
  // While probing, each subscriber keeps the last probe it heard; then it only counts.
  let probing = true;
  const heard = new Array<number>(SUBSCRIBERS).fill(-1);
  const subscribers: BenchConnection[] = [];
  for (let index = 0; index < SUBSCRIBERS; index++) {
    const connection = await connect('eventwire', brokers[index % brokerCount]!.url);
    connection.onMessage = (text) => {
      if (!probing) return void received++;
      heard[index] = Number(/"probe":(\d+)/.exec(text)?.[1] ?? -1);
    };
    await connection.subscribe('bench.fan');
    subscribers.push(connection);
  }
  const publisher = await connect('eventwire', brokers[0]!.url);
  const payload = JSON.stringify({ n: 1, user: 'ada', action: 'click', at: 1700000000000, pad: 'x'.repeat(40) });
  // The engines spread the brokers' subscriptions asynchronously: probe until
  // every subscriber heard the latest probe. Delivery is in order, so no
  // earlier probe is still on its way to be counted in a round.
  const deadline = Date.now() + 10_000;
  for (let probe = 0; heard.some((last) => last !== probe - 1); probe++) {
    if (Date.now() > deadline) throw new Error(`only ${heard.filter((last) => last === probe - 1).length} of ${SUBSCRIBERS} subscribers reachable`);
    publisher.publish('bench.fan', JSON.stringify({ probe }));
    await publisher.barrier();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  probing = false;
  const pids = brokers.map((broker) => broker.pid);
  const serverPid = server?.pid;
  const shared = engine === 'kafka' ? [] : serverPid ? [serverPid] : [];
  // What the servers burn with nothing to do (Kafka readers poll: one fetch per wait): timed on purpose, not a sync.
  const idleBrokers = pids.reduce((total, pid) => total + cpuMicros(pid), 0);
  const idleServer = serverPid ? cpuMicros(serverPid) : 0;
  await new Promise((resolve) => setTimeout(resolve, 2000));
  idle = {
    brokers: (pids.reduce((total, pid) => total + cpuMicros(pid), 0) - idleBrokers) / 2000,
    server: serverPid ? (cpuMicros(serverPid) - idleServer) / 2000 : 0,
  };
  const outcomes: Outcome[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    received = 0;
    const cpuBefore = [...pids, ...shared].reduce((total, pid) => total + cpuMicros(pid), 0);
    const mockBefore = engine === 'kafka' && serverPid ? cpuMicros(serverPid) : 0;
    const start = performance.now();
    for (let sent = 0; sent < MESSAGES; sent += BATCH) {
      for (let n = 0; n < BATCH; n++) publisher.publish('bench.fan', payload);
      await publisher.barrier();
    }
    const expected = MESSAGES * SUBSCRIBERS;
    while (received < expected) await new Promise((resolve) => setTimeout(resolve, 5));
    const elapsed = (performance.now() - start) / 1000;
    const cpu = [...pids, ...shared].reduce((total, pid) => total + cpuMicros(pid), 0) - cpuBefore;
    outcomes.push({
      deliveriesPerSecond: expected / elapsed,
      cpuMicrosPerDelivery: cpu / expected,
      ...(engine === 'kafka' && serverPid && { mockCpuMicrosPerDelivery: (cpuMicros(serverPid) - mockBefore) / expected }),
    });
  }
  for (const connection of [...subscribers, publisher]) connection.close();
  await Promise.all(brokers.map((broker) => broker.stop()));
  await server?.stop();
  return outcomes;
}

const fmt = (outcomes: Outcome[]): string =>
  outcomes
    .map(
      (o) =>
        `${Math.round(o.deliveriesPerSecond / 1000)}k/s, ${o.cpuMicrosPerDelivery.toFixed(2)} µs CPU/delivery` +
        (o.mockCpuMicrosPerDelivery === undefined ? '' : ` + mock ${o.mockCpuMicrosPerDelivery.toFixed(2)} µs`),
    )
    .join(' | ') + `; idle ${idle.brokers.toFixed(0)} + ${idle.server.toFixed(0)} ms CPU/s (brokers + server)`;
const only = process.env['BENCH_ONLY']?.split(',');
const row = (name: string): boolean => !only || only.includes(name);
console.log(`fan-out 1 → ${SUBSCRIBERS} subscribers, ${MESSAGES} messages per round, ${ROUNDS} rounds`);
if (row('1')) console.log(`  1 broker             ${fmt(await scenario(1))}`);
if (row('nats')) console.log(`  3 brokers + NATS     ${fmt(await scenario(3))}  (CPU summed over the brokers and nats-server)`);
if (row('redis')) console.log(`  3 brokers + Redis    ${fmt(await scenario(3, 'redis'))}  (CPU summed over the brokers and redis-server)`);
if (row('postgres')) console.log(`  3 brokers + Postgres ${fmt(await scenario(3, 'postgres'))}  (CPU: the brokers and the postmaster; its backends are not counted)`);
if (row('kafka')) {
  console.log(
    `  3 brokers + Kafka    ${fmt(await scenario(3, 'kafka'))}  (CPU: the brokers; + the librdkafka mock's own, fetchWaitMs ${KAFKA_FETCH_WAIT_MS})`,
  );
}
