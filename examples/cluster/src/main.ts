// Three brokers, one event space: a shared server plus three eventwire
// brokers joined with `cluster`, and a chat whose members sit on different
// brokers. Each member prints what it receives and through which broker.
//
// The chat keeps history, which in a cluster is the engine's to share: a late
// member on the third broker reads the last messages, wherever they were sent.
// --engine nats (the default): nats-server with JetStream; history lives in a
// JetStream stream.
// --engine kafka: a Kafka-protocol cluster of three brokers (librdkafka's mock
// cluster from scripts/testing, needs cc and librdkafka-dev; point `url` at
// your own Kafka the same way). Events no history rule covers go to their own
// Kafka topic (key: the full topic), read without a consumer group; the chat,
// which a history rule covers, goes through one single-partition Kafka topic
// (`_eventwire_history`) that every broker mirrors, so an offset means the
// same on every broker.
//
// Then the brokers stay up for your own clients until Ctrl-C.
//
//   npm run example:cluster                 (from the repository root)
//   … -- --engine kafka                     (the same chat over Kafka)
//   … -- --rounds 2 --exit                  (two rounds, then stop: the test's way)
//   … -- --port 0                           (OS-chosen broker ports)
import { EventBrokerServer } from '@eventwire/event-broker';
import { EventChannel } from '@eventwire/event-channel';
import { clusterBrokerOptions, firstBrokerPort } from './broker-config.js';
import { chat } from './events.js';
import { exampleArgs, wholeNumber } from '../../shared/command-line.js';
import { kafkaServerAvailable, startKafkaServer } from '../../../scripts/testing/kafka-server.js';
import { natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';

const usage = `Usage: npm run example:cluster -- [--engine nats|kafka] [--port ${firstBrokerPort}] [--rounds 3] [--exit]
  --engine  what the brokers share: nats (nats-server with JetStream, the default) or kafka (a mock Kafka cluster)
  --port    the first broker's port; the others take the next two (0: OS-chosen ports)
  --rounds  chat rounds before the brokers wait for your own clients
  --exit    stop after the rounds instead of waiting for Ctrl-C`;
const values = exampleArgs('cluster', usage, { engine: { type: 'string', default: 'nats' }, port: { type: 'string' }, rounds: { type: 'string' }, exit: { type: 'boolean', default: false } });
if (values.engine !== 'nats' && values.engine !== 'kafka') {
  console.error(`cluster: --engine takes nats or kafka, got "${values.engine}"\n${usage}`);
  process.exit(2);
}
const engine: 'nats' | 'kafka' = values.engine;
const basePort = wholeNumber('cluster', usage, '--port', values.port, firstBrokerPort);
const rounds = wholeNumber('cluster', usage, '--rounds', values.rounds, 3);


if (engine === 'nats' && !natsServerAvailable()) {
  console.error('cluster: this example needs nats-server (apt-get install -y nats-server, or a binary from nats.io on PATH)');
  process.exit(1);
}
if (engine === 'kafka' && !kafkaServerAvailable()) {
  console.error('cluster: --engine kafka needs cc and librdkafka-dev to build the mock Kafka cluster (apt-get install -y gcc librdkafka-dev)');
  process.exit(1);
}
/** The server the brokers share: nats-server or the Kafka mock, each stopped by its pid. */
let shared: { readonly url: string; stop(): Promise<void> } | undefined;
const brokers: EventBrokerServer<typeof chat>[] = [];
const members: Array<{ name: string; node: string; channel: EventChannel<typeof chat> }> = [];
let stopping: Promise<void> | undefined;
const stop = (): Promise<void> =>
  (stopping ??= (async () => {
    await Promise.all(members.map((member) => member.channel.close()));
    await Promise.all(brokers.map((broker) => broker.close()));
    await shared?.stop();
    console.log('cluster: stopped');
  })());

// Ctrl-C at any moment, start-up included: close what is up, then leave. A
// listener for every signal, not once: with `once`, a second Ctrl-C arriving
// after the first was handled met Node's default and killed the process
// mid-shutdown (stop() is idempotent; later ones wait for the same stop).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void stop().then(() => process.exit(0)));

let cluster: { readonly url: string; readonly kafka?: { fetchWaitMs: number; ensureTopic: (kafkaTopic: string) => Promise<void> } };
if (engine === 'nats') {
  const nats = (shared = await startNatsServer({ jetstream: true }));
  console.log(`cluster: nats-server on ${nats.url}`);
  cluster = { url: nats.url };
} else {
  const kafka = await startKafkaServer();
  shared = kafka;
  console.log(`cluster: Kafka (librdkafka's mock, 3 brokers) on ${kafka.url}`);
  cluster = {
    url: kafka.url,
    kafka: {
      // The mock holds an empty fetch for the whole wait (real Kafka answers when a record arrives): keep it short.
      fetchWaitMs: 20,
      // One partition per Kafka topic, made once (the mock has no CreateTopics and would auto-create four);
      // the history topic must have one: its offsets are the cluster's one sequence.
      ensureTopic: kafka.ensureTopic,
    },
  };
}

for (const index of [1, 2, 3]) {
  const node = `broker-${index}`;
  const broker = new EventBrokerServer(clusterBrokerOptions({ node, port: basePort === 0 ? 0 : basePort + index - 1, cluster, log: (line) => console.log(`[${node}] ${line}`) }));
  await broker.listen().catch(exitIfPortBusy('cluster', '--port', basePort + index - 1));
  brokers.push(broker);
}
// Joined once each link says so (it connects in the background).
await Promise.all(brokers.map((broker) => waitFor(() => broker.stats().cluster?.state === 'open')));

for (const [index, name] of ['alice', 'bob', 'carol'].entries()) {
  const channel = new EventChannel({ url: brokers[index]!.address!.url, events: chat, source: name });
  members.push({ name, node: `broker-${index + 1}`, channel });
}
const heard = new Map<string, number>();
const heardFrom = new Map<string, Set<string>>();
for (const member of members) {
  member.channel.on('chat.room.*', (message, event) => {
    if (message.author === member.name) return;
    if (message.text.startsWith('round')) heard.set(member.name, (heard.get(member.name) ?? 0) + 1);
    else heardFrom.set(member.name, (heardFrom.get(member.name) ?? new Set()).add(message.author));
    console.log(`  ${member.name} (on ${member.node}) hears ${message.author} in ${event.topic.split('.')[2]}: ${message.text}`);
  });
}
await Promise.all(members.map((member) => member.channel.ready()));

// A new subscription spreads through the engine asynchronously: say hello until everyone hears everyone.
await waitFor(async () => {
  for (const member of members) await member.channel.emit('chat.room.lobby', { author: member.name, text: `hello from ${member.node}` }, { ack: true });
  return members.every((member) => (heardFrom.get(member.name)?.size ?? 0) === members.length - 1);
});
for (let round = 1; round <= rounds; round++) {
  for (const member of members) {
    await member.channel.emit('chat.room.lobby', { author: member.name, text: `round ${round} from ${member.node}` }, { ack: true });
  }
}
// Each member hears the other two, every round.
await waitFor(() => members.every((member) => (heard.get(member.name) ?? 0) === rounds * (members.length - 1)));
// Dave comes late, on broker-3, and reads the last three messages from the cluster's history.
const dave = new EventChannel({ url: brokers[2]!.address!.url, events: chat, source: 'dave' });
members.push({ name: 'dave', node: 'broker-3', channel: dave });
const backlog: string[] = [];
await dave.on('chat.room.*', (message) => void backlog.push(`${message.author}: ${message.text}`), { since: { last: 3 } }).ready;
await waitFor(() => backlog.length === 3);
console.log(`  dave (late, on broker-3) reads the last 3 from history: ${backlog.join(' | ')}`);
const totals = await brokers[0]!.clusterStats();
console.log(`cluster: ${totals.total.nodes} brokers, ${totals.total.published} events entered, ${totals.total.deliveries} deliveries in all`);

if (values.exit) {
  await stop();
} else {
  console.log(`cluster: brokers on ${brokers.map((broker) => broker.address!.url).join(', ')}; connect a client to any of them (Ctrl-C stops)`);
}

/** Polls `condition` (bounded): for state that changes without an event to await. */
async function waitFor(condition: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('cluster: the brokers did not come together in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A busy port is one line, not an EADDRINUSE stack: which port, and how to pick another. */
function exitIfPortBusy(what: string, flag: string, port: unknown): (error: NodeJS.ErrnoException) => never {
  return (error) => {
    if (error.code !== 'EADDRINUSE') throw error;
    console.error(`${what}: port ${String(port)} is already in use; pass ${flag} <another port> (0 picks a free one)`);
    process.exit(1);
  };
}
