// Hostile and broken input through real Redis: 2,000 random and mutated
// emitter messages (the real captured pickles, msgpack and JSON with bytes
// flipped, cut, inserted or spliced, and plain random bytes) published on the
// channels the bridge listens to. The bridge must read every one, never throw
// or stop, count each as delivered, unsupported or refused, ask the server
// only well-formed things, and deliver a good message afterwards.
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../../../scripts/testing/redis-server.js';
import { startRedisBridge, type RedisBridge } from '../src/surfaces/socketio/redis-bridge.js';
import type { BrokerLogRecord } from '../src/log-record.js';
import { until, within } from './helpers.js';
import { RecordingServer } from './socketio-recording-server.js';

const RUNS = 2000;
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_240_532);

/** mulberry32: a seeded generator, so a failure can be replayed with FUZZ_SEED. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const fixture = (name: string) => readFileSync(new URL(`fixtures/socketio/${name}`, import.meta.url));
const PYTHON_SEEDS = ['python-emit-updatechat.pickle', 'python-emit-multi-tuple.pickle', 'python-emit-bytes.pickle', 'python-rich-p4.pickle', 'python-rich-p5.pickle', 'hostile-reduce-p4.pickle', 'python-json-updatechat.json', 'python-json-multi.json', 'python-json-binary.json'].map(fixture);
const NODE_SEEDS = ['node-emit-room.msgpack', 'node-emit-multi-volatile.msgpack', 'node-emit-binary.msgpack'].map(fixture);
const REQUEST_SEEDS = ['node-request-sockets-join.json', 'node-request-server-side-emit.json'].map(fixture);

/** One mutation of `bytes`: flips, cuts, inserts, duplicates a slice, splices another seed in; sometimes none (a valid message must still deliver). */
function mutate(bytes: Buffer, random: () => number, others: readonly Buffer[]): Buffer {
  const at = (length: number) => Math.floor(random() * Math.max(1, length));
  let out = Buffer.from(bytes);
  const steps = Math.floor(random() * 4);
  for (let step = 0; step < steps; step++) {
    const kind = Math.floor(random() * 5);
    if (kind === 0 && out.length > 0) out[at(out.length)] = Math.floor(random() * 256);
    else if (kind === 1) out = out.subarray(0, at(out.length));
    else if (kind === 2) out = Buffer.concat([out.subarray(0, at(out.length)), Buffer.from([Math.floor(random() * 256)]), out.subarray(at(out.length))]);
    else if (kind === 3) {
      const from = at(out.length);
      out = Buffer.concat([out, out.subarray(from, from + at(16))]);
    } else {
      const other = others[at(others.length)]!;
      out = Buffer.concat([out.subarray(0, at(out.length)), other.subarray(at(other.length))]);
    }
  }
  return out;
}

function randomBytes(random: () => number): Buffer {
  const bytes = Buffer.alloc(Math.floor(random() * 64));
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
  // Half of them look like the start of a pickle, so the opcode interpreter is reached.
  if (bytes.length > 1 && random() < 0.5) bytes[0] = 0x80;
  return bytes;
}

interface Context {
  redis: RedisServer;
  server: RecordingServer;
  bridge: RedisBridge;
  logs: BrokerLogRecord[];
  raw: Redis;
}

const available = redisServerAvailable();
const test = suite<Context>('socketio redis bridge fuzz');

test.before(async (context) => {
  if (!available) return;
  context.redis = await startRedisServer();
  context.server = new RecordingServer([]);
  context.logs = [];
  context.bridge = startRedisBridge({
    url: context.redis.url,
    server: context.server,
    log: (record) => void context.logs.push(record),
    acceptNamespace: (name) => name === '/' || name === '/admin',
  });
  await within(context.bridge.subscribed(), 5000, 'the bridge to subscribe');
  context.raw = new Redis(context.redis.url, { maxRetriesPerRequest: null });
});

test.after(async (context) => {
  if (!available) return;
  context.raw?.disconnect();
  await context.bridge?.close();
  await context.redis?.stop();
});

test(`${RUNS} random and mutated messages: each counted, none crashes the bridge, the next good one delivered`, async (context) => {
  if (!available) return;
  const random = seeded(SEED);
  const all = [...PYTHON_SEEDS, ...NODE_SEEDS, ...REQUEST_SEEDS];
  const pipeline = context.raw.pipeline();
  for (let run = 0; run < RUNS; run++) {
    const lane = Math.floor(random() * 4);
    const payload =
      random() < 0.15
        ? randomBytes(random)
        : mutate((lane === 0 ? PYTHON_SEEDS : lane === 3 ? REQUEST_SEEDS : NODE_SEEDS)[Math.floor(random() * (lane === 0 ? PYTHON_SEEDS : lane === 3 ? REQUEST_SEEDS : NODE_SEEDS).length)]!, random, all);
    const channel = ['socketio', 'socket.io#/#', 'socket.io#/admin#', random() < 0.8 ? 'socket.io-request#/#' : `socket.io-request#${String.fromCharCode(33 + Math.floor(random() * 90))}#`][lane]!;
    pipeline.publish(channel, payload);
  }
  const started = performance.now();
  await pipeline.exec();
  await until(() => context.bridge.stats().received >= RUNS, `the bridge to read ${RUNS} messages`, 20_000);
  const elapsed = performance.now() - started;

  const stats = context.bridge.stats();
  const sum = (counts: Readonly<Record<string, number | undefined>>) => Object.values(counts).reduce<number>((total, count) => total + (count ?? 0), 0);
  assert.is(stats.received, RUNS);
  assert.is(stats.delivered + sum(stats.unsupported) + sum(stats.refused), RUNS, 'every message counted once');
  assert.ok(sum(stats.refused) > RUNS / 2, `most are refused (${JSON.stringify(stats.refused)})`);
  assert.ok(stats.delivered > 0, 'unmutated seeds are delivered');
  // Every call the server saw is well-formed.
  assert.is(context.server.recorded.length, stats.delivered, 'one server call per delivered message');
  for (const call of context.server.recorded) {
    assert.ok(call.nsp === '/' || call.nsp === '/admin', call.nsp);
    assert.ok([...call.rooms, ...call.except].every((room) => typeof room === 'string' && room.length > 0));
    if (call.op === 'emit') assert.ok(typeof call.event === 'string' && Array.isArray(call.args));
  }
  // Refusals are logged by reason, not per message.
  assert.ok(context.logs.length <= Object.keys(stats.refused).length + Object.keys(stats.unsupported).length + 1, `${context.logs.length} log lines`);
  assert.ok(context.logs.every((record) => /first bytes [0-9a-f]*|not supported/.test(record.msg)));

  context.server.recorded.length = 0;
  await context.raw.publish('socketio', fixture('python-emit-updatechat.pickle'));
  await until(() => context.server.recorded.length === 1, 'the good message after the storm');
  assert.is(context.server.recorded[0]!.event, 'UpdateChat');
  console.log(`    ${RUNS} messages read and settled in ${elapsed.toFixed(0)} ms (seed ${SEED}): ${JSON.stringify(stats.refused)}, ${stats.delivered} delivered`);
});

test.run();
