// The shared cluster-engine suite over each engine's real server: one
// nats-server, one redis-server, one PostgreSQL, each a throwaway instance.
// Missing locally: skipped with a loud reason; under CI=true: a failure.
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { suite } from 'uvu';
import { kafkaServerAvailable, startKafkaServer, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';
import { postgresAvailable, startPostgres } from '../../../scripts/testing/postgres-server.js';
import { redisServerAvailable, startRedisServer } from '../../../scripts/testing/redis-server.js';
import { runClusterEngineSuite, type EngineServer } from './cluster-engine-suite.js';

type Server = Omit<EngineServer, 'cutSubscriptions'>;

/**
 * The Kafka mock as an engine's server: away and back is every broker down
 * and up (their connections closed, Kafka's log kept); a cut from the server
 * side is the same, at once (Kafka has no per-subscription kick); kill -9 and
 * start is a new mock at the same addresses — empty log, new cluster, as a
 * Kafka that lost its disks (the mock keeps no log on disk to restart on).
 * Topics are made with one partition, each once per run of the mock.
 */
async function kafkaEngineServer(): Promise<EngineServer & { readonly ensureTopic: (topic: string) => Promise<void> }> {
  const server: KafkaServer = await startKafkaServer();
  let killed = false;
  return {
    url: server.url,
    stop: () => server.down(),
    start: async () => {
      if (!killed) return server.up();
      killed = false;
      await server.restart();
    },
    kill: async () => {
      killed = true;
      await server.kill();
    },
    cutSubscriptions: async () => {
      await server.down();
      await server.up();
    },
    ensureTopic: server.ensureTopic,
    dispose: () => server.stop(),
  };
}

const engines: Array<{ name: string; available: boolean; start: () => Promise<EngineServer>; cutKeepsLog?: boolean; clusterOptions?: (server: EngineServer) => object }> = [
  {
    name: 'nats',
    available: natsServerAvailable(),
    // nats-server 2.9 has no kick: the subscriptions go with a restart.
    start: async () => engineServer(await startNatsServer(), async (server) => {
      await server.stop();
      await server.start();
    }),
  },
  {
    name: 'redis',
    available: redisServerAvailable(),
    // What Redis does itself when a subscriber's output buffer passes its limit.
    start: async () => engineServer(await startRedisServer(), async (server) => {
      const admin = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await admin.connect();
        await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
      } finally {
        admin.disconnect();
      }
    }),
  },
  {
    name: 'postgres',
    available: postgresAvailable(),
    start: async () => engineServer(await startPostgres(), async (server) => {
      const admin = postgres(server.url, { max: 1, onnotice: () => {} });
      try {
        const cut = await admin`select pg_terminate_backend(pid) from pg_stat_activity where query ilike 'listen %' and pid <> pg_backend_pid()`;
        if (cut.length === 0) throw new Error('no LISTEN backend to cut');
      } finally {
        await admin.end({ timeout: 1 });
      }
    }),
  },
  {
    name: 'kafka',
    available: kafkaServerAvailable(),
    start: kafkaEngineServer,
    cutKeepsLog: true,
    // One-partition topics (the mock auto-creates four, and order is per partition); fetches held 20 ms at most (the mock holds each for the whole wait).
    clusterOptions: (server) => ({ kafka: { fetchWaitMs: 20, ensureTopic: (server as Awaited<ReturnType<typeof kafkaEngineServer>>).ensureTopic } }),
  },
];

function engineServer<T extends Server>(server: T, cut: (server: T) => Promise<void>): EngineServer {
  return { url: server.url, stop: () => server.stop(), start: () => server.start(), kill: () => server.kill(), cutSubscriptions: () => cut(server) };
}

// ENGINE=redis runs one engine's suite alone.
for (const engine of engines.filter((candidate) => !process.env['ENGINE'] || candidate.name === process.env['ENGINE'])) {
  if (engine.available) runClusterEngineSuite(engine.name, {
      start: engine.start,
      ...(engine.cutKeepsLog && { cutKeepsLog: true }),
      ...(engine.clusterOptions && { clusterOptions: engine.clusterOptions }),
    });
  else {
    const skipped = suite(`cluster engine: ${engine.name}`);
    skipped.skip(`(${engine.name} server not installed: skipped)`, () => {});
    skipped.run();
  }
}
