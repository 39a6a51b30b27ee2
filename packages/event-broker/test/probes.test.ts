// Probes: /livez says the process answers HTTP, /readyz whether the broker
// can serve (listening, history storing, cluster link open) with a 503 naming
// what is not; HEAD answers like GET without a body. Proven through a broker
// whose real nats-server is killed, and one whose history log cannot write.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventwireError } from '@eventwire/event-channel';
import { natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';
import { startBroker, until } from './helpers.js';

const test = suite('probes');

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function send(port: number, method: string, path: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request({ host: '127.0.0.1', port, method, path }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

interface ReadyBody {
  status: string;
  checks: Record<string, string>;
}

async function readyz(port: number): Promise<{ status: number; json: ReadyBody }> {
  const answer = await send(port, 'GET', '/readyz');
  return { status: answer.status, json: JSON.parse(answer.body) as ReadyBody };
}

test('a plain broker is alive and ready; HEAD answers as GET without a body; other methods are refused', async () => {
  await using server = await startBroker();
  const live = await send(server.port, 'GET', '/livez');
  assert.is(live.status, 200);
  assert.equal(JSON.parse(live.body), { status: 'alive' });
  const ready = await readyz(server.port);
  assert.is(ready.status, 200);
  assert.equal(ready.json, { status: 'ready', checks: { listening: 'ok' } });
  for (const path of ['/health', '/livez', '/readyz']) {
    const get = await send(server.port, 'GET', path);
    const head = await send(server.port, 'HEAD', path);
    assert.is(head.status, get.status, `HEAD ${path}`);
    assert.is(head.body, '', `HEAD ${path} has no body`);
    assert.is(head.headers['content-type'], get.headers['content-type']);
    const post = await send(server.port, 'POST', path);
    assert.is(post.status, 405, `POST ${path}`);
    assert.is((JSON.parse(post.body) as { error: { code: string } }).error.code, 'method_not_allowed');
  }
});

test('cluster link down (nats-server killed): /readyz 503 naming the cluster, /livez 200, /health still 200', async () => {
  if (!natsServerAvailable()) return;
  await using nats = await startNatsServer();
  await using server = await startBroker({ cluster: { url: nats.url, node: 'probe-a', reconnectTimeWaitMs: 50 } });
  await until(async () => (await readyz(server.port)).status === 200, 'ready with the cluster link open');
  assert.equal((await readyz(server.port)).json.checks, { listening: 'ok', cluster: 'ok' });
  await nats.kill();
  await until(async () => (await readyz(server.port)).status === 503, 'not ready once NATS is gone');
  const down = await readyz(server.port);
  assert.is(down.json.status, 'not_ready');
  assert.is(down.json.checks['listening'], 'ok');
  assert.ok(['reconnecting', 'connecting', 'closed'].includes(down.json.checks['cluster']!), down.json.checks['cluster']);
  assert.is((await send(server.port, 'GET', '/livez')).status, 200);
  const health = await send(server.port, 'GET', '/health');
  assert.is(health.status, 200);
  assert.is((JSON.parse(health.body) as { status: string }).status, 'degraded');
  await nats.start();
  await until(async () => (await readyz(server.port)).status === 200, 'ready again once NATS is back');
});

test('history log failing to write: /readyz 503 naming history until an append succeeds', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eventwire-probes-'));
  try {
    await using server = await startBroker({ dataDir, history: [{ pattern: '#' }], allowUnknownTopics: true });
    assert.equal((await readyz(server.port)).json.checks, { listening: 'ok', history: 'ok' });
    // The log opens its first segment on the first append: make that impossible (a file where its directory was).
    const historyDir = join(dataDir, 'history');
    rmSync(historyDir, { recursive: true });
    writeFileSync(historyDir, 'not a directory');
    const failed = await server.broker.publish('probe.one', { n: 1 }).then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.instance(failed, EventwireError);
    assert.is((failed as EventwireError).code, 'unavailable');
    const broken = await readyz(server.port);
    assert.is(broken.status, 503);
    assert.is(broken.json.status, 'not_ready');
    assert.ok(broken.json.checks['history']!.startsWith('failing: unavailable'), broken.json.checks['history']);
    assert.is(broken.json.checks['listening'], 'ok');
    assert.is((await send(server.port, 'GET', '/livez')).status, 200);
    // The disk is back: the next append succeeds and the broker is ready again.
    rmSync(historyDir);
    mkdirSync(historyDir);
    await server.broker.publish('probe.one', { n: 2 });
    assert.is((await readyz(server.port)).status, 200);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a history log that cannot open at all: the broker does not start (an error, not a half-ready broker)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'eventwire-probes-'));
  try {
    writeFileSync(join(dataDir, 'history'), 'not a directory');
    const refused = await startBroker({ dataDir, history: [{ pattern: '#' }] }).then(
      async (server) => {
        await server.stop();
        return undefined;
      },
      (error: unknown) => error,
    );
    assert.ok(refused instanceof Error, 'the broker refuses to start');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test.run();
