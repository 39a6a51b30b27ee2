// The channel's URLs side by side (issue #17): emit → receive throughput and
// latency at a fixed load for ws:// (a broker process), nats://, redis://,
// postgres:// and kafka:// (issue #34), each beside its raw client's own
// pub/sub on the same server as the ceiling. One publisher and one subscriber
// connection, the same ~150-byte event, both ends in this process (so the
// figures include the channel's validation and dispatch on both sides: what a
// user pays).
// Run: cd bench && node --import tsx transports.bench.ts (after npm run build;
// needs nats-server, redis-server and PostgreSQL installed, and cc +
// librdkafka-dev for the Kafka rows: the server there is librdkafka's mock
// cluster, see scripts/testing/kafka-server.ts — not Apache Kafka).
import { connect as natsConnect } from '@nats-io/transport-node';
import { EventChannel } from '@eventwire/event-channel';
import { Redis } from 'ioredis';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import postgres from 'postgres';
import { kafkaServerAvailable, startKafkaServer, type KafkaServer } from '../scripts/testing/kafka-server.js';
import { startNatsServer } from '../scripts/testing/nats-server.js';
import { startPostgres } from '../scripts/testing/postgres-server.js';
import { startRedisServer } from '../scripts/testing/redis-server.js';
// Not in the URL table yet (issue #34): the transport is imported as its test does.
import { KafkaTransport } from '../packages/event-channel/src/transport/kafka-transport.js';
import { startBrokerProcess } from './broker-process.js';
import { quick } from './quick.js';

const ROUNDS = quick ? 1 : 3;
const RATE = 1000; // events per second for the latency run
const LATENCY_SECONDS = quick ? 1 : 5;
const TOPIC = 'bench.transport';
const KAFKA_COUNT = Number(process.env['BENCH_KAFKA_COUNT'] ?? 10_000);

/** One way to move events: subscribe with a callback, then publish. */
interface Pipe {
  publish(data: Record<string, unknown>): void;
  close(): Promise<void>;
}
type PipeFactory = (receive: (data: { n: number; sentAt: number }) => void) => Promise<Pipe>;

const payload = (n: number, sentAt: number) => ({ n, sentAt, user: 'ada', action: 'click', at: 1700000000000 });
const envelope = (data: Record<string, unknown>) =>
  JSON.stringify({ id: `01J${String(data['n']).padStart(23, '0')}`, topic: TOPIC, source: 'urn:bench', time: new Date().toISOString(), data });

function channelPipe(url: string, options: Record<string, unknown> = {}): PipeFactory {
  return async (receive) => {
    const publisher = new EventChannel({ url, ...options });
    const subscriber = new EventChannel({ url, ...options });
    await subscriber.on(TOPIC, (data) => receive(data as { n: number; sentAt: number })).ready;
    await publisher.ready();
    return {
      publish: (data) => void publisher.emit(TOPIC, data).catch(() => {}),
      close: async () => void (await Promise.all([publisher.close(), subscriber.close()])),
    };
  };
}

/**
 * kafka:// through KafkaTransport. Its Kafka topic (the first segment,
 * `bench`) is made with one partition, as the transport's test does (the mock
 * has no CreateTopics and would auto-create 4). fetchWaitMs: see the rows.
 */
function kafkaChannelPipe(server: KafkaServer, fetchWaitMs?: number): PipeFactory {
  return async (receive) => {
    const open = () =>
      new EventChannel({ transport: new KafkaTransport({ url: server.url, ensureTopic: server.ensureTopic, ...(fetchWaitMs !== undefined && { fetchWaitMs }) }) });
    const publisher = open();
    const subscriber = open();
    await subscriber.on(TOPIC, (data) => receive(data as { n: number; sentAt: number })).ready;
    await publisher.ready();
    return {
      publish: (data) => void publisher.emit(TOPIC, data).catch(() => {}),
      close: async () => void (await Promise.all([publisher.close(), subscriber.close()])),
    };
  };
}

/**
 * kafkajs's own producer (acks -1, the channel's record: key, headers,
 * envelope value) and its public consumer, in a group (what kafkajs offers
 * for reading; the ~3 s join happens before the clock starts), eachBatch,
 * no offset commits (the channel commits none either), fetch wait as given.
 * Each pipe gets a new 1-partition topic and group read from its beginning,
 * so no record is missed between the join and the first fetch.
 * `send`: 'each' — every event its own produce request, all pipelined;
 * 'one in flight' — each waits for the previous one's answer, as the
 * channel's transport does (so a client retry cannot reorder a publisher);
 * 'batched' — one in flight too, but the events that came meanwhile go
 * together in the next request (one record batch).
 */
let rawKafkaPipes = 0;
function rawKafkajs(server: KafkaServer, maxWaitTimeInMs: number, sending: 'each' | 'one in flight' | 'batched' = 'each'): PipeFactory {
  return async (receive) => {
    const kafka = new Kafka({ clientId: 'bench-raw', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING });
    const kafkaTopic = `benchraw${++rawKafkaPipes}`;
    await server.createTopic(kafkaTopic, 1);
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, ...(sending !== 'each' && { maxInFlightRequests: 1 }) });
    const consumer = kafka.consumer({ groupId: kafkaTopic, maxWaitTimeInMs });
    await Promise.all([producer.connect(), consumer.connect()]);
    await consumer.subscribe({ topics: [kafkaTopic], fromBeginning: true });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) receive((JSON.parse(message.value!.toString()) as { data: { n: number; sentAt: number } }).data);
      },
    });
    await joined;
    const record = (data: Record<string, unknown>) => ({ key: TOPIC, value: envelope(data), headers: { 'content-type': 'application/json', 'eventwire-topic': TOPIC } });
    const send = (messages: ReturnType<typeof record>[]) => producer.send({ topic: kafkaTopic, acks: -1, messages });
    let last: Promise<unknown> = Promise.resolve();
    let waiting: ReturnType<typeof record>[] | undefined;
    return {
      publish: (data) => {
        if (sending === 'each') return void send([record(data)]).catch(() => {});
        if (sending === 'one in flight') return void (last = last.then(() => send([record(data)])).catch(() => {}));
        if (waiting) return void waiting.push(record(data));
        const batch = (waiting = [record(data)]);
        last = last
          .then(() => {
            waiting = undefined;
            return send(batch);
          })
          .catch(() => {});
      },
      close: async () => void (await Promise.all([producer.disconnect(), consumer.disconnect()])),
    };
  };
}

function rawNats(url: string): PipeFactory {
  return async (receive) => {
    const [publisher, subscriber] = await Promise.all([natsConnect({ servers: url }), natsConnect({ servers: url })]);
    const encoder = new TextEncoder();
    subscriber.subscribe(TOPIC, { callback: (_error, message) => receive((message.json() as { data: { n: number; sentAt: number } }).data) });
    await subscriber.flush();
    return {
      publish: (data) => publisher.publish(TOPIC, encoder.encode(envelope(data))),
      close: async () => void (await Promise.all([publisher.close(), subscriber.close()])),
    };
  };
}

function rawRedis(url: string): PipeFactory {
  return async (receive) => {
    const publisher = new Redis(url);
    const subscriber = new Redis(url);
    subscriber.on('message', (_channel: string, message: string) => receive(JSON.parse(message).data));
    await subscriber.subscribe(TOPIC);
    return {
      publish: (data) => void publisher.publish(TOPIC, envelope(data)),
      close: async () => {
        publisher.disconnect();
        subscriber.disconnect();
      },
    };
  };
}

function rawPostgres(url: string): PipeFactory {
  return async (receive) => {
    const publisher = postgres(url, { max: 1, onnotice: () => {} });
    const subscriber = postgres(url, { max: 1, onnotice: () => {} });
    await subscriber.listen('bench_raw', (message) => receive(JSON.parse(message).data));
    return {
      publish: (data) => void publisher`select pg_notify('bench_raw', ${envelope(data)})`.execute(),
      close: async () => void (await Promise.all([publisher.end(), subscriber.end()])),
    };
  };
}

/** N events as fast as they can be emitted; wall time until the subscriber has them all. */
async function throughput(factory: PipeFactory, count: number): Promise<number> {
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const pipe = await factory(() => {
    if (++got === count) done();
  });
  const start = performance.now();
  for (let n = 0; n < count; n++) pipe.publish(payload(n, 0));
  await all;
  const elapsed = performance.now() - start;
  await pipe.close();
  return (count / elapsed) * 1000;
}

/** RATE events a second (in 10 ms ticks) for LATENCY_SECONDS; emit → handler latency of each. */
async function latency(factory: PipeFactory): Promise<{ p50: number; p99: number; max: number }> {
  const total = RATE * LATENCY_SECONDS;
  const samples: number[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const pipe = await factory((data) => {
    samples.push(performance.now() - data.sentAt);
    if (samples.length === total) done();
  });
  let sent = 0;
  const perTick = RATE / 100;
  const timer = setInterval(() => {
    for (let i = 0; i < perTick && sent < total; i++) pipe.publish(payload(sent++, performance.now()));
    if (sent >= total) clearInterval(timer);
  }, 10);
  await all;
  await pipe.close();
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99), max: samples[samples.length - 1]! };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const nats = await startNatsServer();
const redis = await startRedisServer();
const pg = await startPostgres();
const broker = await startBrokerProcess(undefined);
const kafka = kafkaServerAvailable() ? await startKafkaServer() : undefined;

const systems: Array<{ name: string; factory: PipeFactory; count: number }> = [
  { name: 'ws:// (broker process)', factory: channelPipe(broker.url), count: quick ? 20_000 : 50_000 },
  { name: 'nats://', factory: channelPipe(nats.url, { nats: { outboxSize: 100_000 } }), count: quick ? 20_000 : 100_000 },
  { name: '  raw nats.js', factory: rawNats(nats.url), count: quick ? 20_000 : 100_000 },
  { name: 'redis://', factory: channelPipe(redis.url), count: quick ? 20_000 : 50_000 },
  { name: '  raw ioredis', factory: rawRedis(redis.url), count: quick ? 20_000 : 50_000 },
  { name: 'postgres://', factory: channelPipe(pg.url), count: quick ? 5_000 : 20_000 },
  { name: '  raw postgres.js', factory: rawPostgres(pg.url), count: quick ? 5_000 : 20_000 },
  ...(kafka
    ? [
        // The mock holds every fetch for its whole wait unless records are there when it
        // arrives (real Kafka answers on arrival): at a steady rate the wait bounds latency.
        { name: 'kafka:// (fetchWaitMs 100, default)', factory: kafkaChannelPipe(kafka), count: quick ? 2_000 : KAFKA_COUNT },
        { name: 'kafka:// (fetchWaitMs 5)', factory: kafkaChannelPipe(kafka, 5), count: quick ? 2_000 : KAFKA_COUNT },
        { name: '  raw kafkajs (maxWaitTimeInMs 100)', factory: rawKafkajs(kafka, 100), count: quick ? 2_000 : KAFKA_COUNT },
        { name: '  raw kafkajs (maxWaitTimeInMs 5)', factory: rawKafkajs(kafka, 5), count: quick ? 2_000 : KAFKA_COUNT },
        { name: '  raw kafkajs (maxWaitTimeInMs 5, one send in flight)', factory: rawKafkajs(kafka, 5, 'one in flight'), count: quick ? 2_000 : KAFKA_COUNT },
        { name: '  raw kafkajs (maxWaitTimeInMs 5, one send in flight, batched)', factory: rawKafkajs(kafka, 5, 'batched'), count: quick ? 2_000 : KAFKA_COUNT },
      ]
    : []),
];

// BENCH_ONLY=redis runs only the systems whose name contains it.
const only = process.env['BENCH_ONLY'];
const rows: string[] = [];
try {
  for (const system of systems.filter((candidate) => !only || candidate.name.includes(only))) {
    await throughput(system.factory, Math.min(system.count, 5000)); // warm-up
    const rates: number[] = [];
    for (let round = 0; round < ROUNDS; round++) rates.push(await throughput(system.factory, system.count));
    const lat = await latency(system.factory);
    const fmt = (ms: number) => `${ms.toFixed(2)} ms`;
    // Thousands, with a decimal below 10k (Kafka's rows on the mock are a few thousand).
    const k = (rate: number) => (rate < 10_000 ? (rate / 1000).toFixed(1) : String(Math.round(rate / 1000)));
    const row = `| ${system.name.trim()} | ${k(median(rates))}k/s (${k(Math.min(...rates))}–${k(Math.max(...rates))}k) | ${fmt(lat.p50)} | ${fmt(lat.p99)} | ${fmt(lat.max)} |`;
    rows.push(row);
    console.log(row);
  }
} finally {
  await broker.stop();
  await Promise.all([nats.stop(), redis.stop(), pg.stop(), kafka?.stop()]);
}
console.log(`\nemit→receive, one publisher and one subscriber; throughput: median of ${ROUNDS} bursts; latency at ${RATE}/s for ${LATENCY_SECONDS} s`);
console.log('| URL | throughput | p50 | p99 | max |\n| --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);
