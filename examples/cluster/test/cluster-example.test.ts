// Smoke test: `npm run example:cluster` with two rounds, then stop — every
// member, each on its own broker, hears the other two every round, and a late
// member reads the last three from the cluster's history; on NATS (the
// default, JetStream) and on Kafka (`--engine kafka`, librdkafka's mock
// cluster, one history topic every broker mirrors).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runAndInterrupt } from '../../../scripts/testing/interrupt.js';
import { kafkaServerAvailable } from '../../../scripts/testing/kafka-server.js';
import { natsServerAvailable } from '../../../scripts/testing/nats-server.js';

const run = promisify(execFile);
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const test = suite('example: cluster');

/** Asserts that each member, on its own broker, heard each of the other two once per round. */
function assertEveryoneHeardEveryone(stdout: string, rounds: readonly number[]): void {
  for (const [listener, node] of [['alice', 'broker-1'], ['bob', 'broker-2'], ['carol', 'broker-3']] as const) {
    for (const [speaker, from] of [['alice', 'broker-1'], ['bob', 'broker-2'], ['carol', 'broker-3']] as const) {
      if (speaker === listener) continue;
      for (const round of rounds) {
        const line = `  ${listener} (on ${node}) hears ${speaker} in lobby: round ${round} from ${from}`;
        assert.is(stdout.split('\n').filter((printed) => printed === line).length, 1, line);
      }
    }
  }
}

if (!natsServerAvailable()) {
  test.skip('(nats-server not installed: the cluster example is skipped)', () => {});
} else {
  test('three brokers on one NATS: a chat across them', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', main, '--port', '0', '--rounds', '2', '--exit'], { timeout: 60_000 });
    assertEveryoneHeardEveryone(stdout, [1, 2]);
    assert.match(stdout, /cluster: 3 brokers, \d+ events entered/);
    // The last three of the last round, from JetStream, though they entered brokers 1 to 3.
    assert.match(stdout, /dave \(late, on broker-3\) reads the last 3 from history: alice: round 2 from broker-1 \| bob: round 2 from broker-2 \| carol: round 2 from broker-3/);
    assert.match(stdout, /cluster: stopped\n$/);
  });

  // Ctrl-C reaches nats-server too (one process group); the brokers close cleanly.
  for (const [moment, when] of [
    ['during start-up', (output: string) => output.includes('nats-server on')],
    ['while serving', (output: string) => output.includes('connect a client to any of them')],
  ] as const) {
    test(`Ctrl-C ${moment} stops the brokers and nats-server cleanly`, async () => {
      const run = await runAndInterrupt(main, ['--port', '0', '--rounds', '1'], { when, repeat: 1 });
      assert.is(run.code, 0, `exit ${run.code ?? run.signal}\n${run.stderr}`);
      assert.match(run.stdout, /cluster: stopped\n$/);
      assert.not.match(run.stderr, /Error|at .*\.ts:\d+/);
    });
  }
}

// kafkaServerAvailable() throws under CI=true when the mock cannot be built (.ci/run installs cc and librdkafka-dev).
if (!kafkaServerAvailable()) {
  test.skip('(cc or librdkafka-dev not installed: the cluster example over Kafka is skipped)', () => {});
} else {
  test('three brokers on one Kafka (--engine kafka): the same chat across them, and a late member reading the last messages', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', main, '--engine', 'kafka', '--port', '0', '--rounds', '2', '--exit'], { timeout: 60_000 });
    assert.match(stdout, /cluster: Kafka \(librdkafka's mock, 3 brokers\) on kafka:\/\/127\.0\.0\.1:\d+,/);
    assertEveryoneHeardEveryone(stdout, [1, 2]);
    assert.match(stdout, /cluster: 3 brokers, \d+ events entered/);
    // The last three of the last round, from the history topic every broker mirrors, though they entered brokers 1 to 3.
    assert.match(stdout, /dave \(late, on broker-3\) reads the last 3 from history: alice: round 2 from broker-1 \| bob: round 2 from broker-2 \| carol: round 2 from broker-3/);
    assert.not.match(stdout, /no late member/);
    assert.match(stdout, /cluster: stopped\n$/);
  });

  test('Ctrl-C while serving over Kafka stops the brokers and the Kafka mock cleanly', async () => {
    const interrupted = await runAndInterrupt(main, ['--engine', 'kafka', '--port', '0', '--rounds', '1'], { when: (output) => output.includes('connect a client to any of them'), repeat: 1 });
    assert.is(interrupted.code, 0, `exit ${interrupted.code ?? interrupted.signal}\n${interrupted.stderr}`);
    assert.match(interrupted.stdout, /cluster: stopped\n$/);
    assert.not.match(interrupted.stderr, /Error|at .*\.ts:\d+/);
  });
}

test('--engine takes nats or kafka: anything else is one line and the usage, exit 2', async () => {
  const outcome = await run(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', main, '--engine', 'redis', '--exit'], { timeout: 30_000 }).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
  assert.is(outcome.code, 2);
  assert.match(outcome.stderr, /^cluster: --engine takes nats or kafka, got "redis"\nUsage:/);
});

test.run();
