// The engine clients (the NATS client, ioredis, postgres.js) load only when
// a cluster engine uses them: a broker without `cluster` never loads any,
// checked in a child process that records every module it loads. The same
// child with each engine's URL sees that engine's client loaded, so the
// check can see what it looks for.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const child = fileURLToPath(new URL('./fixtures/engine-clients.ts', import.meta.url));

/** Runs the child with `cluster` (or none); the engine clients it loaded. */
function clientsLoaded(cluster?: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const running = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', child, ...(cluster ? [cluster] : [])]);
    let out = '';
    running.stdout.on('data', (chunk) => (out += chunk));
    running.stderr.on('data', (chunk) => (out += chunk));
    const timer = setTimeout(() => running.kill('SIGKILL'), 30_000);
    running.on('exit', (code) => {
      clearTimeout(timer);
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0 || !last.startsWith('{')) return reject(new Error(`child exited ${code}: ${out.slice(-2000)}`));
      resolve((JSON.parse(last) as { clients: string[] }).clients);
    });
  });
}

const test = suite('engine clients load only when used');

test('a broker without a cluster, with a client and an event through it, loads no engine client; each engine loads its own', async () => {
  // Nothing listens on port 1: an engine loads its client before it dials, and keeps retrying meanwhile.
  const [none, nats, redis, postgres] = await Promise.all([
    clientsLoaded(),
    clientsLoaded('nats://127.0.0.1:1'),
    clientsLoaded('redis://127.0.0.1:1'),
    clientsLoaded('postgres://eventwire@127.0.0.1:1/eventwire'),
  ]);
  assert.equal(none, [], 'no cluster: no engine client loaded');
  assert.equal(nats, ['@nats-io/transport-node'], 'nats://: the NATS client only');
  assert.equal(redis, ['ioredis'], 'redis://: ioredis only');
  assert.equal(postgres, ['postgres'], 'postgres://: postgres.js only');
});

test.run();
