// The throwaway Kafka-protocol server (scripts/testing/kafka-server.ts:
// librdkafka's mock cluster in a helper process) driven by the client the
// kafka:// transport will use, kafkajs 2.2.4: what the fixture promises before
// anything is built on it. Keyed records with headers go in and come back in
// order, through kafkajs's partition-level fetch (the group-less path the
// transport's broadcast reader will take) and through its public group
// consumer; a broker taken down refuses a produce within a bound and serves
// again once up; a stopped server leaves no process.
import { Kafka, logLevel, Partitioners, type IHeaders, type KafkaMessage } from 'kafkajs';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, startKafkaServer, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { internalCluster } from '../src/transport/kafkajs-cluster.js';
import { uniqueTopic, until, within, withKafkaServer } from './helpers.js';

const available = kafkaServerAvailable();
const test = suite<{ server: KafkaServer }>('kafka test server');

/** A group join waits out the broker's initial rebalance delay (3 s, as on real Kafka). */
const GROUP_JOIN_MS = 15_000;
const RECORDS = 20;

function client(server: KafkaServer, extra: Partial<ConstructorParameters<typeof Kafka>[0]> = {}): Kafka {
  return new Kafka({ clientId: 'kafka-server-test', brokers: [...server.bootstrap], logLevel: logLevel.NOTHING, connectionTimeout: 1000, requestTimeout: 3000, ...extra });
}

const records = (topic: string): { key: string; value: string; headers: Record<string, string> }[] =>
  Array.from({ length: RECORDS }, (_, index) => ({
    key: `${topic}.k${index % 3}`,
    value: JSON.stringify({ index }),
    headers: { 'eventwire-id': `id-${index}`, traceparent: `00-${String(index).padStart(32, '0')}-${'1'.repeat(16)}-01` },
  }));

const headerText = (headers: IHeaders | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, String(value)]));
const readable = (message: Pick<KafkaMessage, 'key' | 'value' | 'headers'>): { key: string; value: string; headers: Record<string, string> } => ({
  key: message.key?.toString() ?? '',
  value: message.value?.toString() ?? '',
  headers: headerText(message.headers),
});


if (withKafkaServer(test, available, { skipped: '(cc or librdkafka-dev not installed: the Kafka test server cannot be built)' })) {

  test('the brokers it reports are the cluster Kafka describes, and createTopic sets the partition count', async ({ server }) => {
    const admin = client(server).admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      const described = cluster.brokers.map(({ nodeId, host, port }) => ({ id: nodeId, host, port })).sort((a, b) => a.id - b.id);
      assert.equal(described, server.brokers);
      assert.is(server.url, `kafka://${server.bootstrap.join(',')}`);
      const one = uniqueTopic('one');
      const five = uniqueTopic('five');
      await server.createTopic(one, 1);
      await server.createTopic(five, 5);
      const { topics } = await admin.fetchTopicMetadata({ topics: [one, five] });
      // The mock's auto-create would have made 4 of each. (Metadata lists topics in no set order.)
      assert.equal(Object.fromEntries(topics.map((topic) => [topic.name, topic.partitions.length])), { [one]: 1, [five]: 5 });
    } finally {
      await admin.disconnect();
    }
  });

  test('keyed records with headers come back in order, headers intact: partition fetch and group consumer', async ({ server }) => {
    const topic = uniqueTopic('order');
    await server.createTopic(topic, 1);
    const kafka = client(server);
    // Not idempotent: kafkajs sends InitProducerId to the controller, and the mock's Metadata names
    // no controller that is one of its brokers ("Broker 0 not found"); real Kafka does.
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, maxInFlightRequests: 1 });
    await producer.connect();
    const sent = records(topic);
    try {
      // One send per record, in order, as a publisher's emits would be.
      for (const record of sent) await producer.send({ topic, acks: -1, messages: [record] });
    } finally {
      await producer.disconnect();
    }

    const cluster = internalCluster(kafka, { allowAutoTopicCreation: false });
    await cluster.connect();
    const fetched: { key: string; value: string; headers: Record<string, string> }[] = [];
    try {
      await cluster.addTargetTopic(topic);
      const [partition] = cluster.findTopicPartitionMetadata(topic);
      assert.ok(partition, 'the topic has a partition');
      const broker = await cluster.findBroker({ nodeId: String(partition.leader) });
      let position = 0n;
      await until(
        async () => {
          const answer = await broker.fetch({ maxWaitTime: 100, topics: [{ topic, partitions: [{ partition: partition.partitionId, fetchOffset: String(position), maxBytes: 1 << 20 }] }] });
          for (const message of answer.responses.flatMap((response) => response.partitions).flatMap((fetchedPartition) => fetchedPartition.messages)) {
            position = BigInt(message.offset) + 1n;
            fetched.push(readable(message));
          }
          return fetched.length >= RECORDS;
        },
        'the records through the partition fetch',
      );
    } finally {
      await cluster.disconnect();
    }
    assert.equal(fetched, sent);

    const consumer = kafka.consumer({ groupId: uniqueTopic('group'), sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    const consumed: { key: string; value: string; headers: Record<string, string> }[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void consumed.push(readable(message)) });
      await until(() => consumed.length >= RECORDS, 'the records through the group consumer', GROUP_JOIN_MS);
    } finally {
      await consumer.disconnect();
    }
    assert.equal(consumed, sent);
  });

  test('down() makes a produce fail with kafkajs\'s error within a bound, without spinning; up() serves again', async ({ server }) => {
    const topic = uniqueTopic('outage');
    await server.createTopic(topic, 1);
    // Few, short retries: the bound under test is the fixture's refusal, not kafkajs's default patience (13–19 s).
    const kafka = client(server, { retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 400 } });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ key: topic, value: 'before' }] });
      await server.down();
      const helperCpuBefore = cpuTicks(server.pid!);
      const ownCpuBefore = process.cpuUsage();
      const started = performance.now();
      const failure = await within(
        producer.send({ topic, messages: [{ key: topic, value: 'during' }] }).then(
          () => undefined,
          (error: unknown) => error as Error,
        ),
        10_000,
        'a produce to a cluster that is down to settle',
      );
      const elapsedMs = performance.now() - started;
      assert.ok(failure, 'the produce failed while every broker was down');
      assert.match(failure.name, /^KafkaJS/);
      // Neither the mock nor the client may spin while it is down: a busy loop would use a core for the whole wait.
      const helperCpuMs = (cpuTicks(server.pid!) - helperCpuBefore) * 10;
      const ownCpu = process.cpuUsage(ownCpuBefore);
      const ownCpuMs = (ownCpu.user + ownCpu.system) / 1000;
      assert.ok(helperCpuMs < elapsedMs / 2, `the mock used ${helperCpuMs} ms of CPU in ${elapsedMs.toFixed(0)} ms down`);
      assert.ok(ownCpuMs < elapsedMs / 2, `the client used ${ownCpuMs.toFixed(0)} ms of CPU in ${elapsedMs.toFixed(0)} ms down`);

      await server.up();
      await within(producer.send({ topic, messages: [{ key: topic, value: 'after' }] }), 10_000, 'a produce once the brokers are up');
    } finally {
      await producer.disconnect();
    }
  });

  test('stop() leaves no process: the helper pid is gone', async () => {
    const server = await startKafkaServer({ brokers: 1 });
    const pid = server.pid!;
    assert.ok(alive(pid), 'the helper runs before stop()');
    await server.stop();
    assert.not.ok(alive(pid), `pid ${pid} still runs after stop()`);
    assert.is(server.pid, undefined);
  });

  test('the helper dies with its owner: on a normal exit (exit hook) and on a SIGKILL (its stdin closes)', async () => {
    for (const ending of ['exit', 'SIGKILL'] as const) {
      const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', OWNER], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OWNER_ENDS: ending } });
      let output = '';
      owner.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
      const ownerExit = new Promise<void>((resolve) => owner.once('exit', () => resolve()));
      await until(() => /pid \d+\n/.test(output), 'the owner to start a Kafka server', 10_000);
      const pid = Number(/pid (\d+)/.exec(output)![1]);
      assert.ok(alive(pid), `the helper runs while its owner does (${ending})`);
      if (ending === 'SIGKILL') process.kill(owner.pid!, 'SIGKILL');
      await within(ownerExit, 5000, 'the owner to end');
      await until(() => !alive(pid), `the helper (pid ${pid}) to end after its owner's ${ending}`);
    }
  });
}

/** A process that starts a server, says its pid, and then either exits without stop() or waits to be killed. */
const OWNER = `
const { startKafkaServer } = await import(${JSON.stringify(new URL('../../../scripts/testing/kafka-server.ts', import.meta.url).href)});
const server = await startKafkaServer({ brokers: 1 });
process.stdout.write('pid ' + server.pid + '\\n');
if (process.env.OWNER_ENDS === 'exit') setImmediate(() => process.exit(0));
else setInterval(() => {}, 1000);
`;

/** user + system CPU of a process in clock ticks (USER_HZ, 100 on Linux). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

test.run();
