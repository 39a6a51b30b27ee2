// The broker config: a TypeScript and a JSON file through the real CLI,
// precedence (flags > environment > file > defaults), every kind of
// validation error, and secrets masked by --print-config.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BrokerConfigError, createBrokerFromConfig, loadBrokerConfigFile } from '../src/index.js';
import { RawClient, within } from './helpers.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
// The README's complete example is a real file, run here.
const readmeConfig = fileURLToPath(new URL('../examples/broker.config.ts', import.meta.url));
const test = suite<{ dir: string }>('broker config');

test.before((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'broker-config-'));
});
test.after((context) => rmSync(context.dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion (for --print-config and refusals). */
function runCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return within(
    new Promise((resolve) => {
      const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', cli, ...args], {
        env: { ...process.env, ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    }),
    30_000,
    `event-broker ${args.join(' ')}`,
  );
}

function writeJson(dir: string, name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

test('a TypeScript config: its event map and typed hooks run in the broker the CLI starts', async ({ dir }) => {
  const audit = join(dir, 'ts-audit.jsonl');
  const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', cli, '--config', readmeConfig, '--port', '0', '--audit-log', audit]);
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (out += chunk));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    const url = await within(
      (async () => {
        for (;;) {
          const match = /listening on (ws:\/\/[\d.]+:\d+)/.exec(out);
          if (match) return match[1]!;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })(),
      20_000,
      `listening line in: ${out}`,
    );
    assert.match(out, /config: .*broker\.config\.ts/);
    const client = await RawClient.native(url);
    assert.is(client.received[0]!['maxPayloadBytes'], 32 * 1024); // from the file
    client.send({ type: 'subscribe', id: 1, pattern: 'order.#' });
    await client.next((frame) => frame['id'] === 1);
    const event = (id: string, total: unknown) => ({ id, topic: 'order.created', source: 't', time: new Date().toISOString(), data: { id, total } });
    client.send({ type: 'publish', id: 2, event: event('o0', 0) });
    assert.is((await client.next((frame) => frame['id'] === 2))['code'], 'rejected'); // the config's intercept
    client.send({ type: 'publish', id: 3, event: event('o1', 'many') });
    assert.is((await client.next((frame) => frame['id'] === 3))['code'], 'invalid_payload'); // the config's event map
    client.send({ type: 'publish', id: 4, event: event('o2', 5000) });
    const flagged = await client.next((frame) => frame['type'] === 'event' && (frame['event'] as { topic: string }).topic === 'order.flagged');
    assert.equal((flagged['event'] as { data: unknown }).data, { id: 'o2' }); // the config's derived event
    client.close();
    assert.match(out, new RegExp(`audit log: ${audit}`)); // the flag overrode the file's path
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
});

test("the README's config section shows examples/broker.config.ts verbatim", () => {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration file'));
  assert.is(/```ts\n([\s\S]*?)```/.exec(section)?.[1], readFileSync(readmeConfig, 'utf8'));
});

test('precedence: flags > environment > file > defaults, as --print-config shows', async ({ dir }) => {
  const file = writeJson(dir, 'layers.json', { host: '0.0.0.0', heartbeatMs: 1000, maxPayloadBytes: '64kb', port: 4000, historyMaxBytes: '2gb', history: [{ pattern: 'order.#', maxAge: '7d' }] });
  const { code, stdout, stderr } = await runCli(['--config', file, '--heartbeat', '3000', '--print-config'], {
    EVENTWIRE_HEARTBEAT_MS: '2000',
    EVENTWIRE_MAX_PAYLOAD: '128kb',
  });
  assert.is(code, 0, stderr);
  const { config, sources } = JSON.parse(stdout) as { config: Record<string, unknown>; sources: Record<string, string> };
  assert.is(config['heartbeatMs'], 3000);
  assert.is(sources['heartbeatMs'], 'flag --heartbeat');
  assert.is(config['maxPayloadBytes'], 128 * 1024);
  assert.is(sources['maxPayloadBytes'], 'env EVENTWIRE_MAX_PAYLOAD');
  assert.is(config['host'], '0.0.0.0');
  assert.is(sources['host'], `file ${file}`);
  assert.is(config['port'], 4000);
  assert.is(config['historyMaxBytes'], 2 * 1024 ** 3);
  assert.equal(config['history'], [{ pattern: 'order.#', maxAge: 7 * 86_400_000 }]);
  assert.is(config['shutdownTimeoutMs'], 5000);
  assert.is(sources['shutdownTimeoutMs'], 'default');
});

test('--max-payload-depth and EVENTWIRE_MAX_PAYLOAD_DEPTH set maxPayloadDepth; past 1000 is refused by name', async () => {
  const flagged = await runCli(['--max-payload-depth', '64', '--print-config'], { EVENTWIRE_MAX_PAYLOAD_DEPTH: '32' });
  assert.is(flagged.code, 0, flagged.stderr);
  const { config, sources } = JSON.parse(flagged.stdout) as { config: Record<string, unknown>; sources: Record<string, string> };
  assert.equal([config['maxPayloadDepth'], sources['maxPayloadDepth']], [64, 'flag --max-payload-depth']);
  const fromEnv = JSON.parse((await runCli(['--print-config'], { EVENTWIRE_MAX_PAYLOAD_DEPTH: '32' })).stdout) as { config: Record<string, unknown> };
  assert.is(fromEnv.config['maxPayloadDepth'], 32);
  const refused = await runCli(['--max-payload-depth', '5000', '--print-config']);
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /--max-payload-depth: expected at most 1000/);
});

test('--history-max-memory and EVENTWIRE_HISTORY_MAX_MEMORY set historyMaxMemoryBytes, as a size', async () => {
  const flagged = await runCli(['--history-max-memory', '256mb', '--print-config'], { EVENTWIRE_HISTORY_MAX_MEMORY: '64mb' });
  assert.is(flagged.code, 0, flagged.stderr);
  const { config, sources } = JSON.parse(flagged.stdout) as { config: Record<string, unknown>; sources: Record<string, string> };
  assert.equal([config['historyMaxMemoryBytes'], sources['historyMaxMemoryBytes']], [256 * 1024 ** 2, 'flag --history-max-memory']);
  const fromEnv = JSON.parse((await runCli(['--print-config'], { EVENTWIRE_HISTORY_MAX_MEMORY: '64mb' })).stdout) as { config: Record<string, unknown> };
  assert.is(fromEnv.config['historyMaxMemoryBytes'], 64 * 1024 ** 2);
  const refused = await runCli(['--history-max-memory', 'lots', '--print-config']);
  assert.is.not(refused.code, 0);
  assert.match(refused.stderr, /--history-max-memory/);
});

test('EVENTWIRE_CONFIG names the file when --config is not given', async ({ dir }) => {
  const file = writeJson(dir, 'env.json', { port: 4321 });
  const { code, stdout } = await runCli(['--print-config'], { EVENTWIRE_CONFIG: file });
  assert.is(code, 0);
  assert.is((JSON.parse(stdout) as { config: { port: number } }).config.port, 4321);
});

test('--print-config masks secrets: webhook headers, passwords in URLs', async ({ dir }) => {
  const file = writeJson(dir, 'secrets.json', {
    webhooks: [{ url: 'https://bot:hunter2@hooks.example/events', topics: 'order.#', headers: { authorization: 'Bearer s3cr3t' } }],
  });
  const { code, stdout } = await runCli(['--config', file, '--print-config']);
  assert.is(code, 0);
  assert.not.match(stdout, /hunter2|s3cr3t/);
  const { config } = JSON.parse(stdout) as { config: { webhooks: Array<{ url: string; headers: Record<string, string> }> } };
  assert.is(config.webhooks[0]!.url, 'https://bot:***@hooks.example/events');
  assert.equal(config.webhooks[0]!.headers, { authorization: '***' });
});

test('--print-config masks API keys; --max-connections and its variable set the caps', async ({ dir }) => {
  const key = 'svc-key-never-printed-0123';
  const file = writeJson(dir, 'keys.json', { apiKeys: [{ key, user: 'svc', permissions: { publish: ['order.*'] } }], maxConnectionsPerIp: 50 });
  const { code, stdout } = await runCli(['--config', file, '--print-config', '--max-connections', '900'], { EVENTWIRE_MAX_CONNECTIONS_PER_IP: '70' });
  assert.is(code, 0);
  assert.not.match(stdout, new RegExp(key));
  const printed = JSON.parse(stdout) as { config: { apiKeys: Array<{ key: string; user: string }>; maxConnections: number; maxConnectionsPerIp: number }; sources: Record<string, string> };
  assert.equal(printed.config.apiKeys[0], { key: '***', user: 'svc', permissions: { publish: ['order.*'] } });
  assert.is(printed.config.maxConnections, 900);
  assert.is(printed.config.maxConnectionsPerIp, 70);
  assert.match(printed.sources['maxConnectionsPerIp']!, /EVENTWIRE_MAX_CONNECTIONS_PER_IP/);
  const short = await runCli(['--config', writeJson(dir, 'short-key.json', { apiKeys: [{ key: 'tiny-but-secret', user: 'x' }] })]);
  assert.is(short.code, 2);
  assert.not.match(short.stderr, /tiny-but-secret/);
});

test('--jwt-secret turns authentication on from the command line; the secret is masked and never echoed', async ({ dir }) => {
  const secret = 'a-cli-secret-of-enough-length';
  const printed = await runCli(['--jwt-secret', secret, '--print-config']);
  assert.is(printed.code, 0);
  assert.not.match(printed.stdout, new RegExp(secret));
  const short = await runCli(['--jwt-secret', 'tiny-secret']);
  assert.is(short.code, 2);
  assert.not.match(short.stderr, /tiny-secret/);
  const file = writeJson(dir, 'auth.json', { jwtSecret: 'x' });
  const fromFile = await runCli(['--config', file]);
  assert.match(fromFile.stderr, /auth\.json: jwtSecret: expected a secret of at least 16 characters\n/);
  const configured = await createBrokerFromConfig({ port: 0, jwtSecret: secret, jwtAudience: 'shop' });
  const { httpUrl } = await configured.broker.listen();
  try {
    assert.is((await fetch(`${httpUrl}/stats`)).status, 401);
    const { SignJWT } = await import('jose');
    const token = await new SignJWT({ sub: 'ops', aud: 'shop' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
    assert.is((await fetch(`${httpUrl}/stats`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  } finally {
    await configured.close();
  }
});

test('pusher: apps from a JSON config file and from --pusher flags (secrets masked); a bad app is a typed error naming its key path', async ({ dir }) => {
  const file = writeJson(dir, 'pusher.json', { pusher: { apps: [{ id: 'shop', key: 'shop-key', secret: 'shop-secret-123' }], authPath: '/auth/pusher' } });
  const printed = await runCli(['--config', file, '--print-config']);
  assert.is(printed.code, 0);
  assert.not.match(printed.stdout, /shop-secret-123/);
  const flags = await runCli(['--pusher', 'a:ak:a-secret-1', '--pusher', 'b:bk:b-secret-1', '--print-config']);
  const shown = JSON.parse(flags.stdout) as { config: { pusher: { apps: Array<{ id: string }> } } };
  assert.equal(shown.config.pusher.apps.map((app) => app.id), ['a', 'b']);
  assert.not.match(flags.stdout, /a-secret-1/);
  const bad = await runCli(['--pusher', 'only-an-id']);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--pusher: .* is not id:key:secret/);
  const missing = await runCli(['--config', writeJson(dir, 'pusher-bad.json', { pusher: { apps: [{ id: 'x', key: 'k' }] } })]);
  assert.match(missing.stderr, /pusher\.apps\[0\]\.secret/);

  const configured = await createBrokerFromConfig({ ...(await loadBrokerConfigFile(file)), port: 0 });
  const { url, httpUrl } = await configured.broker.listen();
  try {
    const client = await RawClient.open(`${url}/app/shop-key?protocol=7`);
    const established = await client.next((frame) => frame['event'] === 'pusher:connection_established');
    assert.match(JSON.parse(established['data'] as string).socket_id, /^\d+\.\d+$/);
    client.socket.close();
    // The configured auth path answers; the default one is not there.
    assert.is((await fetch(`${httpUrl}/auth/pusher`, { method: 'POST', body: 'socket_id=1.1&channel_name=orders' })).status, 400);
    assert.is((await fetch(`${httpUrl}/broadcasting/auth`, { method: 'POST' })).status, 404);
  } finally {
    await configured.close();
  }
});

test('metrics: --metrics off turns /metrics off; a config names topic groups, and a bad pattern there is a typed error', async ({ dir }) => {
  const off = await runCli(['--metrics', 'off', '--print-config']);
  assert.equal((JSON.parse(off.stdout) as { config: { metrics: unknown } }).config.metrics, false);
  const bad = await runCli(['--config', writeJson(dir, 'metrics-bad.json', { metrics: { topicGroups: ['order..x'] } })]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /metrics\.topicGroups\[0\]: "order\.\.x" is not a valid topic pattern/);
  const configured = await createBrokerFromConfig({ port: 0, metrics: { topicGroups: ['order.#'], path: '/internal/metrics' } });
  const { httpUrl } = await configured.broker.listen();
  try {
    await configured.broker.publish('order.created' as never, {} as never);
    const text = await (await fetch(`${httpUrl}/internal/metrics`)).text();
    assert.match(text, /eventwire_topic_group_events_total\{topic_group="order\.#"\} 1/);
    assert.is((await fetch(`${httpUrl}/metrics`)).status, 404);
  } finally {
    await configured.close();
  }
});

test('each validation error stops the broker with the key path and what was expected, never a stack trace', async ({ dir }) => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown.json', { prot: 80 }, /unknown\.json: prot: unknown key \(did you mean "port"\?\)/],
    ['nested.json', { topicLimits: { maxDepth: 3 } }, /topicLimits\.maxDepth: unknown key/],
    ['type.json', { heartbeatMs: 'fast' }, /heartbeatMs: expected milliseconds \(a number\), got "fast"/],
    ['range.json', { port: 70000 }, /port: expected a port number from 0 to 65535, got 70000/],
    ['size.json', { maxPayloadBytes: 'lots' }, /maxPayloadBytes: "lots" is not a size/],
    ['pattern.json', { webhooks: [{ url: 'https://x.example', topics: 'a.#.b' }] }, /webhooks\[0\]\.topics: "a\.#\.b" is not a valid topic pattern/],
    ['url.json', { webhooks: [{ url: 'ftp://x.example' }] }, /webhooks\[0\]\.url: expected an http\(s\) URL, got "ftp:\/\/x\.example"/],
    ['code.json', { events: {} }, /code\.json: events: needs a TypeScript or JavaScript config file/],
    ['rules.json', { channels: {} }, /rules\.json: channels: needs a TypeScript or JavaScript config file/],
    ['grant.json', { permissions: { anonymous: { publish: ['a.#.b'] } } }, /permissions\.anonymous\.publish\[0\]: "a\.#\.b" is not a valid topic pattern/],
    ['rate.json', { rateLimits: { publish: { perConnection: { perSecond: 0 } } } }, /rateLimits\.publish\.perConnection\.perSecond: expected a rate per second/],
    ['key.json', { apiKeys: [{ key: 'short-key', user: 'svc' }] }, /apiKeys\[0\]\.key: expected a key of at least 16 characters\n/],
    ['array.json', [1], /array\.json: \(the whole config\): expected object/],
    ['syntax.json', '{ "port": 1,', /syntax\.json: not valid JSON/],
    ['cluster.json', { cluster: { url: 'nats://n:4222', nodes: 3 } }, /cluster\.nodes: unknown key/],
    ['replicas.json', { cluster: { url: 'nats://n:4222', history: { replicas: 9 } } }, /cluster\.history\.replicas: .*5/],
    ['stream.json', { cluster: { url: 'nats://n:4222', history: { stream: 'my stream' } } }, /cluster\.history\.stream: expected a JetStream stream name/],
    ['presence.json', { cluster: { url: 'nats://n:4222', presence: { heartbeat: 100 } } }, /cluster\.presence\.heartbeat: unknown key/],
    ['redis.json', { cluster: { url: 'redis://r:6379', redis: { prefix: 7 } } }, /cluster\.redis\.prefix: /],
    ['postgres.json', { cluster: { url: 'postgres://p/db', postgres: { table: 'drop table' } } }, /cluster\.postgres\.table: expected a table name/],
  ];
  for (const [name, content, expected] of cases) {
    const { code, stderr } = await runCli(['--config', writeJson(dir, name, content)]);
    assert.is(code, 2, name);
    assert.match(stderr, expected, `${name}: ${stderr}`);
    assert.not.match(stderr, /\n\s+at /, `${name}: stack trace`);
  }
  for (const [args, env, expected] of [
    [['--config', join(dir, 'missing.ts')], {}, /missing\.ts: no such file/],
    [['--config', fixture('throws.config.ts')], {}, /throws\.config\.ts: failed to load: the database URL is missing/],
    [['--config', fixture('not-an-object.config.mjs')], {}, /not-an-object\.config\.mjs: \(the whole config\): expected object, got 42/],
    [['--config', join(dir, 'config.yaml')], {}, /config\.yaml: a config file must end in/],
    [['--port', 'abc'], {}, /--port: expected a port number, got "abc"/],
    [['--cluster', 'http://n:4222'], {}, /--cluster: expected a nats:\/\/, redis:\/\/ or postgres:\/\/ URL, got "http:\/\/n:4222"/],
    [['--cluster', 'redis://127.0.0.1:1', '--history', 'room.#'], {}, /history in a cluster is kept in JetStream: use a nats:\/\/ cluster, or give every broker the same historyStore/],
    [[], { EVENTWIRE_PORT: '99999' }, /EVENTWIRE_PORT: expected a port number from 0 to 65535, got 99999/],
  ] as Array<[string[], Record<string, string>, RegExp]>) {
    const { code, stderr } = await runCli(args, env);
    assert.is(code, 2, args.join(' '));
    assert.match(stderr, expected, stderr);
    assert.not.match(stderr, /\n\s+at /, `${args.join(' ')}: stack trace`);
  }
});

test('the library API: loadBrokerConfigFile + createBrokerFromConfig, overrides win, errors are typed', async ({ dir }) => {
  const config = await loadBrokerConfigFile(readmeConfig);
  assert.is(config.maxPayloadBytes, 32 * 1024);
  const configured = await createBrokerFromConfig({ ...config, port: 0, auditLog: join(dir, 'audit.jsonl'), webhooks: [] });
  const { httpUrl } = await configured.broker.listen();
  const response = await fetch(`${httpUrl}/pubsub/order.created/publish`, {
    method: 'POST',
    body: JSON.stringify({ payload: { id: 'o1', total: -1 } }),
  });
  assert.is(response.status, 403);
  await configured.close();
  await configured.close(); // idempotent
  try {
    await createBrokerFromConfig({ port: -1 });
    assert.unreachable('accepted port -1');
  } catch (error) {
    assert.instance(error, BrokerConfigError);
    assert.match((error as BrokerConfigError).problems[0]!, /port/);
  }
});

test.run();
