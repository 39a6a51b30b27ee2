// Fan-out across a broker cluster: 1 publisher → 1,000 subscribers, all on
// one topic, spread round-robin over 3 brokers joined by one nats-server, one
// redis-server or one PostgreSQL (each engine in turn), against the same
// 1,000 on 1 broker alone. Run (after npm run build, with nats-server,
// redis-server and PostgreSQL installed): cd bench && node --import tsx cluster.bench.ts
//
// Brokers are CLI processes; server CPU is read from /proc for every broker
// and nats-server and summed, per delivery. The subscribers live in this
// process (one core's worth of reading), so deliveries/s is bounded by them
// on this 2-core machine; CPU per delivery is the server-side figure.
import { startNatsServer } from '../scripts/testing/nats-server.js';
import { startPostgres } from '../scripts/testing/postgres-server.js';
import { startRedisServer } from '../scripts/testing/redis-server.js';
import { startBrokerProcess } from './broker-process.js';
import { connect, type BenchConnection } from './compare/adapters.js';
import { cpuMicros } from './proc-stats.js';
import { quick } from './quick.js';

const SUBSCRIBERS = 1000;
const MESSAGES = quick ? 200 : 1000;
const BATCH = 10;
const ROUNDS = quick ? 1 : 3;


interface Outcome {
  deliveriesPerSecond: number;
  cpuMicrosPerDelivery: number;
}

type Engine = 'nats' | 'redis' | 'postgres';
const startEngine = (engine: Engine) => (engine === 'nats' ? startNatsServer() : engine === 'redis' ? startRedisServer() : startPostgres());

async function scenario(brokerCount: number, engine: Engine = 'nats'): Promise<Outcome[]> {
  const nats = brokerCount > 1 ? await startEngine(engine) : undefined;
  const brokers = [];
  for (let index = 0; index < brokerCount; index++) brokers.push(await startBrokerProcess(nats?.url));
  let received = 0;
  const subscribers: BenchConnection[] = [];
  for (let index = 0; index < SUBSCRIBERS; index++) {
    const connection = await connect('eventwire', brokers[index % brokerCount]!.url);
    connection.onMessage = () => void received++;
    await connection.subscribe('bench.fan');
    subscribers.push(connection);
  }
  const publisher = await connect('eventwire', brokers[0]!.url);
  const payload = JSON.stringify({ n: 1, user: 'ada', action: 'click', at: 1700000000000, pad: 'x'.repeat(40) });
  // NATS spreads the brokers' subscriptions asynchronously: probe until every subscriber got one.
  const deadline = Date.now() + 10_000;
  while (received < SUBSCRIBERS) {
    if (Date.now() > deadline) throw new Error(`only ${received} of ${SUBSCRIBERS} subscribers reachable`);
    received = 0;
    publisher.publish('bench.fan', payload);
    await publisher.barrier();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const pids = [...brokers.map((broker) => broker.pid), ...(nats?.pid ? [nats.pid] : [])];
  const outcomes: Outcome[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    received = 0;
    const cpuBefore = pids.reduce((total, pid) => total + cpuMicros(pid), 0);
    const start = performance.now();
    for (let sent = 0; sent < MESSAGES; sent += BATCH) {
      for (let n = 0; n < BATCH; n++) publisher.publish('bench.fan', payload);
      await publisher.barrier();
    }
    const expected = MESSAGES * SUBSCRIBERS;
    while (received < expected) await new Promise((resolve) => setTimeout(resolve, 5));
    const elapsed = (performance.now() - start) / 1000;
    const cpu = pids.reduce((total, pid) => total + cpuMicros(pid), 0) - cpuBefore;
    outcomes.push({ deliveriesPerSecond: expected / elapsed, cpuMicrosPerDelivery: cpu / expected });
  }
  for (const connection of [...subscribers, publisher]) connection.close();
  await Promise.all(brokers.map((broker) => broker.stop()));
  await nats?.stop();
  return outcomes;
}

const fmt = (outcomes: Outcome[]): string =>
  outcomes.map((o) => `${Math.round(o.deliveriesPerSecond / 1000)}k/s, ${o.cpuMicrosPerDelivery.toFixed(2)} µs CPU/delivery`).join(' | ');
console.log(`fan-out 1 → ${SUBSCRIBERS} subscribers, ${MESSAGES} messages per round, ${ROUNDS} rounds`);
console.log(`  1 broker             ${fmt(await scenario(1))}`);
console.log(`  3 brokers + NATS     ${fmt(await scenario(3))}  (CPU summed over the brokers and nats-server)`);
console.log(`  3 brokers + Redis    ${fmt(await scenario(3, 'redis'))}  (CPU summed over the brokers and redis-server)`);
console.log(`  3 brokers + Postgres ${fmt(await scenario(3, 'postgres'))}  (CPU: the brokers and the postmaster; its backends are not counted)`);
