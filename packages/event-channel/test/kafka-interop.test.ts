// kafka:// with a plain Kafka client on the other side (issue #34): kcat, the
// librdkafka command-line producer and consumer, against the mock cluster
// (scripts/testing/kafka-server.ts). A plain producer's JSON record arrives as
// an event built from its key, headers and timestamp; an emitted event is read
// by kcat with its key, headers and the envelope as the value; records no
// event can be made of are counted, reported once and skipped, and the next
// one still arrives. Every kcat is a real process, killed by its pid if it
// outlives its bound. Missing kcat: skipped with the reason locally, a failure
// under CI=true (.ci/run installs it).
import { spawn, spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { kafkaServerAvailable, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventChannel, type EventEnvelope, type EventwireError } from '../src/index.js';
import { KafkaTransport } from '../src/transport/kafka-transport.js';
import { collector, uniqueTopic, until, within, withKafkaServer } from './helpers.js';

const WAIT = 5000;
const KCAT_MS = 10_000;
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

function kcatAvailable(): boolean {
  const probe = spawnSync('kcat', ['-V'], { stdio: 'ignore' });
  if (probe.error === undefined && probe.status === 0) return true;
  const why = 'kcat not installed (apt-get install -y kcat)';
  if (process.env['CI'] === 'true') throw new Error(`${why} — .ci/run installs it`);
  console.log(`skipping the kcat interop tests: ${why}`);
  return false;
}

/** Runs kcat with `input` on its stdin; resolves with its stdout once it exits 0, killed by pid after KCAT_MS. */
function kcat(args: readonly string[], input = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('kcat', ['-q', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`kcat ${args.join(' ')} did not finish within ${KCAT_MS} ms: ${Buffer.concat(err).toString()}`));
    }, KCAT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out).toString());
      else reject(new Error(`kcat ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
    child.stdin.end(input);
  });
}

const available = kafkaServerAvailable() && kcatAvailable();
const test = suite<{ server: KafkaServer }>('kafka interop with kcat');

/** A channel whose Kafka topics are made with one partition (the mock would auto-create four). */
function channel(server: KafkaServer, onError?: (error: EventwireError) => void, transports: KafkaTransport[] = []): EventChannel {
  const transport = new KafkaTransport({ url: server.url, backoff: () => 50, ensureTopic: server.ensureTopic });
  transports.push(transport);
  return new EventChannel({ transport, ...(onError && { onError }) });
}

/** kcat producing `lines` (one record each) to Kafka topic `kafkaTopic`. */
const produce = (server: KafkaServer, kafkaTopic: string, lines: readonly string[], extra: readonly string[] = []): Promise<string> =>
  kcat(['-P', '-b', server.bootstrap.join(','), '-t', kafkaTopic, ...extra], lines.map((line) => `${line}\n`).join(''));

if (withKafkaServer(test, available, { skipped: '(kcat, cc or librdkafka-dev not installed: no kcat interop)' })) {

  test("kcat's plain JSON record with a key and eventwire-topic/traceparent headers arrives as an event: data, topic, source, time, traceparent", async ({ server }) => {
    const root = uniqueTopic('kp');
    const subscriber = channel(server);
    try {
      const got = collector<EventEnvelope>(1);
      await subscriber.on(`${root}.made`, (_data, event) => got.push(event)).ready;
      const before = Date.now();
      await produce(server, root, ['{"hello":1}'], ['-k', `${root}.made`, '-H', `eventwire-topic=${root}.made`, '-H', `traceparent=${TRACEPARENT}`]);
      const [event] = await within(got.done, WAIT, "kcat's record");
      assert.equal(event!.data, { hello: 1 });
      assert.is(event!.topic, `${root}.made`);
      assert.is(event!.source, `kafka://${root}`);
      assert.is(event!.traceparent, TRACEPARENT);
      // The record's timestamp (kcat's create time), not the read's.
      const time = Date.parse(event!.time);
      assert.ok(time >= before - 1000 && time <= Date.now(), `time ${event!.time}`);
      assert.is(event!.id.length, 26);
    } finally {
      await subscriber.close();
    }
  });

  test('a record with only a key (no headers) arrives on the key\'s topic, not on another topic of the same Kafka topic', async ({ server }) => {
    const root = uniqueTopic('kk');
    const subscriber = channel(server);
    try {
      const keyed = collector<unknown>(1);
      const other: unknown[] = [];
      await subscriber.on(`${root}.keyed`, (data) => keyed.push(data)).ready;
      await subscriber.on(`${root}.other`, (data) => void other.push(data)).ready;
      await produce(server, root, ['{"k":2}'], ['-k', `${root}.keyed`]);
      assert.equal(await within(keyed.done, WAIT, 'the keyed record'), [{ k: 2 }]);
      assert.equal(other, []);
    } finally {
      await subscriber.close();
    }
  });

  test('an emitted event is read by kcat -C -J with its topic as key, the eventwire headers and traceparent, and the envelope as value', async ({ server }) => {
    const root = uniqueTopic('kc');
    const publisher = channel(server);
    try {
      await publisher.emit(`${root}.sent`, { n: 7 }, { ack: true, traceparent: TRACEPARENT });
    } finally {
      await publisher.close();
    }
    const output = await kcat(['-C', '-b', server.bootstrap.join(','), '-t', root, '-o', 'beginning', '-e', '-J']);
    const lines = output.trim().split('\n');
    assert.is(lines.length, 1, output);
    const read = JSON.parse(lines[0]!) as { key: string; headers: string[]; payload: string };
    const envelope = JSON.parse(read.payload) as EventEnvelope;
    assert.is(read.key, `${root}.sent`);
    assert.equal(envelope.data, { n: 7 });
    assert.is(envelope.topic, `${root}.sent`);
    // kcat prints headers as a flat [name, value, name, value…] list.
    const headers = Object.fromEntries(Array.from({ length: read.headers.length / 2 }, (_, i) => [read.headers[2 * i]!, read.headers[2 * i + 1]!]));
    assert.equal(headers, {
      'content-type': 'application/json',
      'eventwire-id': envelope.id,
      'eventwire-topic': `${root}.sent`,
      'eventwire-source': envelope.source,
      'eventwire-time': envelope.time,
      traceparent: TRACEPARENT,
    });
  });

  test('a tombstone and a non-JSON record from kcat are each reported once as invalid_envelope and counted (invalidRecords); the next good record still arrives', async ({ server }) => {
    const root = uniqueTopic('kb');
    const errors: EventwireError[] = [];
    const transports: KafkaTransport[] = [];
    const subscriber = channel(server, (error) => errors.push(error), transports);
    try {
      const got = collector<unknown>(1);
      await subscriber.on(`${root}.x`, (data) => got.push(data)).ready;
      // -K: key|value per line; with -Z an empty value is NULL (a tombstone; kcat skips an empty line
      // without a key). Then text that is not JSON, then a good record.
      await produce(server, root, [`${root}.x|`, `${root}.x|not json`, `${root}.x|{"ok":true}`], ['-K', '|', '-Z']);
      assert.equal(await within(got.done, WAIT, 'the good record after the bad ones'), [{ ok: true }]);
      await until(() => errors.length >= 2, 'both bad records reported');
      assert.equal(errors.map((error) => error.code), ['invalid_envelope', 'invalid_envelope']);
      // Counted by the transport, as a transport's non-JSON message is (the channel counts the envelopes it refuses).
      assert.is(transports[0]!.invalidRecords, 2);
      assert.is(subscriber.stats().delivered, 1);
    } finally {
      await subscriber.close();
    }
  });
}

test.run();
