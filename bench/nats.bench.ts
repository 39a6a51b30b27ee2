// nats:// EventChannel against raw nats.js on the same nats-server: emit →
// receive throughput, one publisher and one subscriber connection, the same
// ~100-byte JSON envelope. Run: pnpm --filter @eventwire/bench bench:nats
// (after npm run build; needs nats-server on PATH). Target: the channel at
// ≥ 0.7× raw nats.js (issue #14).
//
// Each round sends N events and ends when the subscriber has all N (wall
// time, both sides in this process, so the figure includes the channel's
// validation and dispatch on both ends, which is what a user pays).
import { connect } from '@nats-io/transport-node';
import { EventChannel } from '@eventwire/event-channel';
import { startNatsServer } from '../scripts/testing/nats-server.js';
import { quick } from './quick.js';

const N = quick ? 20_000 : 100_000;
const ROUNDS = quick ? 2 : 5;

const server = await startNatsServer();
const envelope = (n: number) => ({ id: `01J${String(n).padStart(23, '0')}`, topic: 'bench.nats', source: 'urn:bench', time: new Date().toISOString(), data: { n, user: 'ada', action: 'click', at: 1700000000000 } });

async function rawRound(): Promise<number> {
  const publisher = await connect({ servers: server.url });
  const subscriber = await connect({ servers: server.url });
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  subscriber.subscribe('bench.nats', {
    callback: (_error, message) => {
      message.json();
      if (++got === N) done();
    },
  });
  await subscriber.flush();
  const encoder = new TextEncoder();
  const start = performance.now();
  for (let n = 0; n < N; n++) publisher.publish('bench.nats', encoder.encode(JSON.stringify(envelope(n))));
  await publisher.flush();
  await all;
  const elapsed = performance.now() - start;
  await Promise.all([publisher.close(), subscriber.close()]);
  return (N / elapsed) * 1000;
}

async function channelRound(): Promise<number> {
  const publisher = new EventChannel({ url: server.url, nats: { outboxSize: N } });
  const subscriber = new EventChannel({ url: server.url });
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  await subscriber.on('bench.nats', () => {
    if (++got === N) done();
  }).ready;
  await publisher.ready();
  const start = performance.now();
  const data = { n: 0, user: 'ada', action: 'click', at: 1700000000000 };
  for (let n = 0; n < N; n++) void publisher.emit('bench.nats', { ...data, n });
  await all;
  const elapsed = performance.now() - start;
  await Promise.all([publisher.close(), subscriber.close()]);
  return (N / elapsed) * 1000;
}

const raw: number[] = [];
const channel: number[] = [];
await rawRound();
await channelRound(); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  raw.push(await rawRound());
  channel.push(await channelRound());
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (value: number) => `${Math.round(value / 1000)}k/s`;
console.log(`nats:// emit→receive, ${N} events per round, ${ROUNDS} rounds (median, range)`);
console.log(`  raw nats.js       ${fmt(median(raw))}  (${fmt(Math.min(...raw))}–${fmt(Math.max(...raw))})`);
console.log(`  EventChannel      ${fmt(median(channel))}  (${fmt(Math.min(...channel))}–${fmt(Math.max(...channel))})`);
console.log(`  ratio             ${(median(channel) / median(raw)).toFixed(2)}×`);
await server.stop();
