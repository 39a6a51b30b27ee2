// nats:// on a topic the cluster's history stream covers: the channel reads
// it through a JetStream ordered consumer (offsets, recovery) instead of a
// core subscription. Emit → receive throughput against raw nats.js doing
// the same (core publish into the stream, an ordered consumer reading it),
// and against the channel on core NATS (no stream). One publisher and one
// subscriber connection in this process. Run (after npm run build, with
// nats-server on PATH): cd bench && node --import tsx nats-history.bench.ts
import { connect } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { EventChannel } from '@eventwire/event-channel';
import { startNatsServer } from '../scripts/testing/nats-server.js';
import { quick } from './quick.js';

const N = quick ? 5_000 : 50_000;
const ROUNDS = quick ? 1 : 5;

const server = await startNatsServer({ jetstream: true });
const admin = await connect({ servers: server.url });
const manager = await jetstreamManager(admin);
// The stream a broker cluster would make for the rule `kept.#` (PROTOCOL.md §4.1).
await manager.streams.add({ name: 'EVENTWIRE_HISTORY', subjects: ['kept', 'kept.>'] });
const data = { n: 0, user: 'ada', action: 'click', at: 1700000000000 };
const envelope = (n: number) => ({ id: `01J${String(n).padStart(23, '0')}`, topic: 'kept.bench', source: 'urn:bench', time: new Date().toISOString(), data: { ...data, n } });

async function rawRound(): Promise<number> {
  const publisher = await connect({ servers: server.url });
  const subscriber = await connect({ servers: server.url });
  const consumer = await jetstream(subscriber).consumers.get('EVENTWIRE_HISTORY', { filter_subjects: 'kept.bench', deliver_policy: DeliverPolicy.New });
  const messages = await consumer.consume();
  let got = 0;
  const all = (async () => {
    for await (const message of messages) {
      message.json();
      if (++got === N) break;
    }
  })();
  const encoder = new TextEncoder();
  const start = performance.now();
  for (let n = 0; n < N; n++) publisher.publish('kept.bench', encoder.encode(JSON.stringify(envelope(n))));
  await publisher.flush();
  await all;
  const elapsed = performance.now() - start;
  await Promise.all([publisher.close(), subscriber.close()]);
  return (N / elapsed) * 1000;
}

async function channelRound(topic: string): Promise<number> {
  const publisher = new EventChannel({ url: server.url, nats: { outboxSize: N } });
  const subscriber = new EventChannel({ url: server.url });
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  await subscriber.on(topic, () => {
    if (++got === N) done();
  }).ready;
  await publisher.ready();
  const start = performance.now();
  for (let n = 0; n < N; n++) void publisher.emit(topic, { ...data, n });
  await all;
  const elapsed = performance.now() - start;
  await Promise.all([publisher.close(), subscriber.close()]);
  return (N / elapsed) * 1000;
}

const raw: number[] = [];
const kept: number[] = [];
const core: number[] = [];
await rawRound();
await channelRound('kept.bench'); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  raw.push(await rawRound());
  kept.push(await channelRound('kept.bench'));
  core.push(await channelRound('core.bench'));
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (values: number[]) => `${Math.round(median(values) / 1000)}k/s (${Math.round(Math.min(...values) / 1000)}k–${Math.round(Math.max(...values) / 1000)}k)`;
console.log(`nats:// emit→receive on a history-covered topic, ${N} events per round, ${ROUNDS} rounds (median, range)`);
console.log(`  raw nats.js, publish into the stream + ordered consumer  ${fmt(raw)}`);
console.log(`  EventChannel, topic the stream covers                    ${fmt(kept)}`);
console.log(`  EventChannel, topic it does not cover (core NATS)        ${fmt(core)}`);
console.log(`  ratio, covered channel / raw                             ${(median(kept) / median(raw)).toFixed(2)}×`);
await admin.close();
await server.stop();
