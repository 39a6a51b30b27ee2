// The shared cluster-engine suite over each engine's real server: one
// nats-server, one redis-server, one PostgreSQL, each a throwaway instance.
// Missing locally: skipped with a loud reason; under CI=true: a failure.
import { suite } from 'uvu';
import { natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';
import { postgresAvailable, startPostgres } from '../../../scripts/testing/postgres-server.js';
import { redisServerAvailable, startRedisServer } from '../../../scripts/testing/redis-server.js';
import { runClusterEngineSuite } from './cluster-engine-suite.js';

const engines = [
  { name: 'nats', available: natsServerAvailable(), start: () => startNatsServer() },
  { name: 'redis', available: redisServerAvailable(), start: () => startRedisServer() },
  { name: 'postgres', available: postgresAvailable(), start: () => startPostgres() },
];

// ENGINE=redis runs one engine's suite alone.
for (const engine of engines.filter((candidate) => !process.env['ENGINE'] || candidate.name === process.env['ENGINE'])) {
  if (engine.available) runClusterEngineSuite(engine.name, { start: engine.start });
  else {
    const skipped = suite(`cluster engine: ${engine.name}`);
    skipped.skip(`(${engine.name} server not installed: skipped)`, () => {});
    skipped.run();
  }
}
