// The broker config: a TypeScript and a JSON file, precedence (flags >
// environment > file > defaults), every kind of validation error, and secrets
// masked by --print-config. How flags, variables and files resolve is
// readCommandLine's job (cli.ts only prints its result through maskConfig, or
// exits 2 with its error), so those cases call it in-process with the CLI's
// inputs; the real process runs where the process is the subject: the README
// config serving, the printed JSON, and the exit-2 one-line refusals.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readCommandLine } from '../src/command-line.js';
import { maskConfig } from '../src/config.js';
import { BrokerConfigError, createBrokerFromConfig, loadBrokerConfigFile } from '../src/index.js';
import { RawClient, until, within } from './helpers.js';

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

interface Printed {
  config: Record<string, unknown>;
  sources: Record<string, string>;
}

/**
 * What `event-broker …argv --print-config` prints, computed in-process:
 * readCommandLine on the same argv and environment the CLI would get, then
 * the same maskConfig and JSON round trip as cli.ts.
 */
async function printConfig(argv: string[], env: Record<string, string> = {}): Promise<Printed> {
  const line = await readCommandLine(argv, { ...process.env, ...env });
  assert.is(line.kind, 'run');
  if (line.kind !== 'run') throw new Error('unreachable');
  assert.ok(line.printConfig, '--print-config read');
  return JSON.parse(JSON.stringify({ config: maskConfig(line.config), sources: line.sources })) as Printed;
}

/** The error readCommandLine refuses `argv` with (the CLI prints its message and exits 2); fails if it accepts it. */
async function refusal(argv: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    await readCommandLine(argv, { ...process.env, ...env });
  } catch (error) {
    assert.instance(error, BrokerConfigError, String(error));
    assert.is((error as BrokerConfigError).code, 'invalid_config');
    const { message } = error as BrokerConfigError;
    assert.not.match(message, /\n\s+at /, `${argv.join(' ')}: stack trace`);
    return message;
  }
  assert.unreachable(`accepted ${argv.join(' ')}`);
  throw new Error('unreachable');
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
  const { config, sources } = await printConfig(['--config', file, '--heartbeat', '3000', '--print-config'], {
    EVENTWIRE_HEARTBEAT_MS: '2000',
    EVENTWIRE_MAX_PAYLOAD: '128kb',
  });
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

test('the real CLI prints --print-config as JSON: exactly the resolved config and sources, secrets masked, exit 0', async ({ dir }) => {
  const file = writeJson(dir, 'printed.json', {
    heartbeatMs: 1000,
    webhooks: [{ url: 'https://bot:hunter2@hooks.example/events', topics: 'order.#', headers: { authorization: 'Bearer s3cr3t' } }],
  });
  const argv = ['--config', file, '--heartbeat', '3000', '--print-config'];
  const env = { EVENTWIRE_MAX_PAYLOAD: '128kb' };
  const { code, stdout, stderr } = await runCli(argv, env);
  assert.is(code, 0, stderr);
  assert.is(stderr, '');
  assert.not.match(stdout, /hunter2|s3cr3t/);
  const printed = JSON.parse(stdout) as Printed;
  assert.equal(printed, await printConfig(argv, env));
  assert.equal([printed.config['heartbeatMs'], printed.sources['heartbeatMs']], [3000, 'flag --heartbeat']);
  assert.equal([printed.config['maxPayloadBytes'], printed.sources['maxPayloadBytes']], [128 * 1024, 'env EVENTWIRE_MAX_PAYLOAD']);
});

test('--max-payload-depth and EVENTWIRE_MAX_PAYLOAD_DEPTH set maxPayloadDepth; past 1000 is refused by name', async () => {
  const { config, sources } = await printConfig(['--max-payload-depth', '64', '--print-config'], { EVENTWIRE_MAX_PAYLOAD_DEPTH: '32' });
  assert.equal([config['maxPayloadDepth'], sources['maxPayloadDepth']], [64, 'flag --max-payload-depth']);
  const fromEnv = await printConfig(['--print-config'], { EVENTWIRE_MAX_PAYLOAD_DEPTH: '32' });
  assert.is(fromEnv.config['maxPayloadDepth'], 32);
  assert.match(await refusal(['--max-payload-depth', '5000', '--print-config']), /--max-payload-depth: expected at most 1000/);
});

test('--socketio on/off and EVENTWIRE_SOCKETIO: off leaves the surface unset, as its default is', async () => {
  assert.equal((await printConfig(['--socketio', 'on', '--print-config'])).config['socketio'], {});
  assert.is((await printConfig(['--socketio', 'off', '--print-config'])).config['socketio'], undefined);
  assert.is((await printConfig(['--print-config'], { EVENTWIRE_SOCKETIO: 'off' })).config['socketio'], undefined);
});

test('socketio: false and pusher: false in a config file are off, as their default is (the schema refused them)', async ({ dir }) => {
  const off = await printConfig(['--config', writeJson(dir, 'off.json', { socketio: false, pusher: false }), '--print-config']);
  assert.is(off.config['socketio'], undefined);
  assert.is(off.config['pusher'], undefined);
  const on = await printConfig(['--config', writeJson(dir, 'on.json', { socketio: true, pusher: true }), '--print-config']);
  assert.equal(on.config['socketio'], {});
  assert.equal(on.config['pusher'], {});
  const configured = await createBrokerFromConfig({ socketio: false, pusher: false, port: 0 });
  try {
    assert.is(configured.broker.socketio, undefined, 'no Socket.IO surface');
  } finally {
    await configured.close();
  }
});

test('--history-max-memory and EVENTWIRE_HISTORY_MAX_MEMORY set historyMaxMemoryBytes, as a size', async () => {
  const { config, sources } = await printConfig(['--history-max-memory', '256mb', '--print-config'], { EVENTWIRE_HISTORY_MAX_MEMORY: '64mb' });
  assert.equal([config['historyMaxMemoryBytes'], sources['historyMaxMemoryBytes']], [256 * 1024 ** 2, 'flag --history-max-memory']);
  const fromEnv = await printConfig(['--print-config'], { EVENTWIRE_HISTORY_MAX_MEMORY: '64mb' });
  assert.is(fromEnv.config['historyMaxMemoryBytes'], 64 * 1024 ** 2);
  assert.match(await refusal(['--history-max-memory', 'lots', '--print-config']), /--history-max-memory/);
});

test('EVENTWIRE_CONFIG names the file when --config is not given', async ({ dir }) => {
  const file = writeJson(dir, 'env.json', { port: 4321 });
  assert.is((await printConfig(['--print-config'], { EVENTWIRE_CONFIG: file })).config['port'], 4321);
});

test('--print-config masks secrets: webhook headers, passwords in URLs', async ({ dir }) => {
  const file = writeJson(dir, 'secrets.json', {
    webhooks: [{ url: 'https://bot:hunter2@hooks.example/events', topics: 'order.#', headers: { authorization: 'Bearer s3cr3t' } }],
  });
  const printed = await printConfig(['--config', file, '--print-config']);
  assert.not.match(JSON.stringify(printed, null, 2), /hunter2|s3cr3t/);
  const { config } = printed as unknown as { config: { webhooks: Array<{ url: string; headers: Record<string, string> }> } };
  assert.is(config.webhooks[0]!.url, 'https://bot:***@hooks.example/events');
  assert.equal(config.webhooks[0]!.headers, { authorization: '***' });
});

test('--print-config masks API keys; --max-connections and its variable set the caps', async ({ dir }) => {
  const key = 'svc-key-never-printed-0123';
  const file = writeJson(dir, 'keys.json', { apiKeys: [{ key, user: 'svc', permissions: { publish: ['order.*'] } }], maxConnectionsPerIp: 50 });
  const resolved = await printConfig(['--config', file, '--print-config', '--max-connections', '900'], { EVENTWIRE_MAX_CONNECTIONS_PER_IP: '70' });
  assert.not.match(JSON.stringify(resolved, null, 2), new RegExp(key));
  const printed = resolved as unknown as { config: { apiKeys: Array<{ key: string; user: string }>; maxConnections: number; maxConnectionsPerIp: number }; sources: Record<string, string> };
  assert.equal(printed.config.apiKeys[0], { key: '***', user: 'svc', permissions: { publish: ['order.*'] } });
  assert.is(printed.config.maxConnections, 900);
  assert.is(printed.config.maxConnectionsPerIp, 70);
  assert.match(printed.sources['maxConnectionsPerIp']!, /EVENTWIRE_MAX_CONNECTIONS_PER_IP/);
  assert.not.match(await refusal(['--config', writeJson(dir, 'short-key.json', { apiKeys: [{ key: 'tiny-but-secret', user: 'x' }] })]), /tiny-but-secret/);
});

test('--jwt-secret turns authentication on from the command line; the secret is masked and never echoed', async ({ dir }) => {
  const secret = 'a-cli-secret-of-enough-length';
  assert.not.match(JSON.stringify(await printConfig(['--jwt-secret', secret, '--print-config']), null, 2), new RegExp(secret));
  assert.not.match(await refusal(['--jwt-secret', 'tiny-secret']), /tiny-secret/);
  const file = writeJson(dir, 'auth.json', { jwtSecret: 'x' });
  // The line ends there: the value is not echoed after it.
  assert.match(await refusal(['--config', file]), /auth\.json: jwtSecret: expected a secret of at least 16 characters$/m);
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
  assert.not.match(JSON.stringify(await printConfig(['--config', file, '--print-config']), null, 2), /shop-secret-123/);
  const flags = await printConfig(['--pusher', 'a:ak:a-secret-1', '--pusher', 'b:bk:b-secret-1', '--print-config']);
  const shown = flags as unknown as { config: { pusher: { apps: Array<{ id: string }> } } };
  assert.equal(shown.config.pusher.apps.map((app) => app.id), ['a', 'b']);
  assert.not.match(JSON.stringify(flags, null, 2), /a-secret-1/);
  assert.match(await refusal(['--pusher', 'only-an-id']), /--pusher: .* is not id:key:secret/);
  assert.match(await refusal(['--config', writeJson(dir, 'pusher-bad.json', { pusher: { apps: [{ id: 'x', key: 'k' }] } })]), /pusher\.apps\[0\]\.secret/);

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

test('pusher webhooks from a JSON config file: headers masked, a bad event type a typed error naming its key path, and the broker posts them', async ({ dir }) => {
  const bodies: string[] = [];
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      bodies.push(body);
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  const app = { id: 'shop', key: 'shop-key', secret: 'shop-secret-123', webhooks: [{ url, eventTypes: ['channel_occupied'], headers: { authorization: 'Bearer hook-token' }, batchMs: 0 }] };
  const file = writeJson(dir, 'pusher-hooks.json', { pusher: { apps: [app], webhookRemovalDelayMs: 0 } });
  assert.not.match(JSON.stringify(await printConfig(['--config', file, '--print-config'])), /hook-token/);
  const bad = writeJson(dir, 'pusher-hooks-bad.json', { pusher: { apps: [{ ...app, webhooks: [{ url, eventTypes: ['channel_exploded'] }] }] } });
  assert.match(await refusal(['--config', bad]), /pusher\.apps\[0\]\.webhooks\[0\]\.eventTypes\[0\]/);

  const configured = await createBrokerFromConfig({ ...(await loadBrokerConfigFile(file)), port: 0 });
  const { url: brokerUrl } = await configured.broker.listen();
  try {
    const client = await RawClient.open(`${brokerUrl}/app/shop-key?protocol=7`);
    await client.next((frame) => frame['event'] === 'pusher:connection_established');
    client.send({ event: 'pusher:subscribe', data: { channel: 'orders' } });
    await until(() => bodies.length > 0, 'the occupied webhook');
    assert.equal((JSON.parse(bodies[0]!) as { events: unknown }).events, [{ name: 'channel_occupied', channel: 'orders' }]);
    client.socket.close();
  } finally {
    await configured.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  }
});

test('--pusher-webhook app=url: every event type of that app to the URL; a malformed flag or an app not served is invalid_config', async () => {
  const bodies: string[] = [];
  const receiver = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    request.on('end', () => {
      bodies.push(body);
      response.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  assert.match(await refusal(['--pusher-webhook', 'no-equals-sign']), /--pusher-webhook: .*is not app-id=url/);
  const line = await readCommandLine(['--pusher', 'shop:shop-key:shop-secret-123', '--pusher-webhook', `shop=${url}`], process.env);
  if (line.kind !== 'run') throw new Error('expected a run');
  try {
    await createBrokerFromConfig({ ...line.config, pusherWebhooks: [{ app: 'blog', url }], port: 0 });
    assert.unreachable('an app not served was accepted');
  } catch (error) {
    assert.instance(error, BrokerConfigError);
    assert.is((error as BrokerConfigError).code, 'invalid_config');
  }
  const configured = await createBrokerFromConfig({ ...line.config, port: 0 });
  const { url: brokerUrl } = await configured.broker.listen();
  try {
    const client = await RawClient.open(`${brokerUrl}/app/shop-key?protocol=7`);
    await client.next((frame) => frame['event'] === 'pusher:connection_established');
    client.send({ event: 'pusher:subscribe', data: { channel: 'orders' } });
    await until(() => bodies.length > 0, 'the occupied webhook', 5000);
    assert.equal((JSON.parse(bodies[0]!) as { events: unknown }).events, [{ name: 'channel_occupied', channel: 'orders' }]);
    client.socket.close();
  } finally {
    await configured.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  }
});

test('metrics: --metrics off turns /metrics off; a config names topic groups, and a bad pattern there is a typed error', async ({ dir }) => {
  assert.equal((await printConfig(['--metrics', 'off', '--print-config'])).config['metrics'], false);
  assert.match(
    await refusal(['--config', writeJson(dir, 'metrics-bad.json', { metrics: { topicGroups: ['order..x'] } })]),
    /metrics\.topicGroups\[0\]: "order\.\.x" is not a valid topic pattern/,
  );
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

test('each validation error names the key path and what was expected, never a stack trace', async ({ dir }) => {
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
    ['key.json', { apiKeys: [{ key: 'short-key', user: 'svc' }] }, /apiKeys\[0\]\.key: expected a key of at least 16 characters$/m],
    ['array.json', [1], /array\.json: \(the whole config\): expected object/],
    ['syntax.json', '{ "port": 1,', /syntax\.json: not valid JSON/],
    ['cluster.json', { cluster: { url: 'nats://n:4222', nodes: 3 } }, /cluster\.nodes: unknown key/],
    ['replicas.json', { cluster: { url: 'nats://n:4222', history: { replicas: 9 } } }, /cluster\.history\.replicas: .*5/],
    ['stream.json', { cluster: { url: 'nats://n:4222', history: { stream: 'my stream' } } }, /cluster\.history\.stream: expected a JetStream stream name/],
    ['presence.json', { cluster: { url: 'nats://n:4222', presence: { heartbeat: 100 } } }, /cluster\.presence\.heartbeat: unknown key/],
    ['redis.json', { cluster: { url: 'redis://r:6379', redis: { prefix: 7 } } }, /cluster\.redis\.prefix: /],
    ['postgres.json', { cluster: { url: 'postgres://p/db', postgres: { table: 'drop table' } } }, /cluster\.postgres\.table: expected a table name/],
    ['kafka.json', { cluster: { url: 'kafka://k:9092', kafka: { partitions: 0 } } }, /cluster\.kafka\.partitions: expected a whole number/],
    ['kafka-fn.json', { cluster: { url: 'kafka://k:9092', kafka: { ensureTopic: 'x' } } }, /cluster\.kafka\.ensureTopic: unknown key/],
  ];
  for (const [name, content, expected] of cases) {
    const message = await refusal(['--config', writeJson(dir, name, content)]);
    assert.match(message, expected, `${name}: ${message}`);
  }
  for (const [args, env, expected] of [
    [['--config', join(dir, 'missing.ts')], {}, /missing\.ts: no such file/],
    [['--config', fixture('throws.config.ts')], {}, /throws\.config\.ts: failed to load: the database URL is missing/],
    [['--config', fixture('not-an-object.config.mjs')], {}, /not-an-object\.config\.mjs: \(the whole config\): expected object, got 42/],
    [['--config', join(dir, 'config.yaml')], {}, /config\.yaml: a config file must end in/],
    [['--port', 'abc'], {}, /--port: expected a port number, got "abc"/],
    [['--cluster', 'http://n:4222'], {}, /--cluster: expected a nats:\/\/, redis:\/\/, rediss:\/\/, postgres:\/\/, postgresql:\/\/ or kafka:\/\/ URL, got "http:\/\/n:4222"/],
    [[], { EVENTWIRE_PORT: '99999' }, /EVENTWIRE_PORT: expected a port number from 0 to 65535, got 99999/],
  ] as Array<[string[], Record<string, string>, RegExp]>) {
    const message = await refusal(args, env);
    assert.match(message, expected, message);
  }
});

test('the real CLI refuses a bad config, flag or variable, or a failing setup, with exit 2 and event-broker: lines, never a stack trace', async ({ dir }) => {
  // Started together: each process spends its time loading the broker through tsx.
  const cases: Array<[string[], Record<string, string>, RegExp, { usage: boolean }]> = [
    [['--config', writeJson(dir, 'refused.json', { prot: 80 })], {}, /^event-broker: .*refused\.json: prot: unknown key \(did you mean "port"\?\)\n/, { usage: true }],
    [['--config', fixture('throws.config.ts')], {}, /^event-broker: .*throws\.config\.ts: failed to load: the database URL is missing\n/, { usage: true }],
    [['--port', 'abc'], {}, /^event-broker: --port: expected a port number, got "abc"\n/, { usage: true }],
    [[], { EVENTWIRE_PORT: '99999' }, /^event-broker: EVENTWIRE_PORT: expected a port number from 0 to 65535, got 99999\n/, { usage: true }],
    [['--config', writeJson(dir, 'two-problems.json', { prot: 80, heartbeatMs: 'fast' })], {}, /^event-broker: .*: heartbeatMs: expected milliseconds.*\nevent-broker: .*two-problems\.json: prot: unknown key/, { usage: true }],
    // Valid settings the broker cannot be built from: a setup failure, not a usage error.
    [['--cluster', 'redis://127.0.0.1:1', '--history', 'room.#'], {}, /^event-broker: setup failed: history in a cluster is kept in JetStream or Kafka: use a nats:\/\/ or kafka:\/\/ cluster, or give every broker the same historyStore/, { usage: false }],
  ];
  const runs = await Promise.all(cases.map(([args, env]) => runCli(args, env)));
  cases.forEach(([args, , expected, { usage }], index) => {
    const { code, stdout, stderr } = runs[index]!;
    const what = args.join(' ') || 'EVENTWIRE_PORT=99999';
    assert.is(code, 2, `${what}: ${stderr}`);
    assert.is(stdout, '', what);
    assert.match(stderr, expected, stderr);
    assert.not.match(stderr, /\n\s+at /, `${what}: stack trace`);
    const lines = stderr.trimEnd().split('\n');
    if (usage) assert.is(lines.pop(), 'Run event-broker --help for usage.', what);
    else assert.not.match(stderr, /--help/, what);
    for (const line of lines) assert.match(line, /^event-broker: /, `${what}: ${line}`);
  });
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
