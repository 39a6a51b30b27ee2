// The event-broker command, run as a real process.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, type ChannelStatus } from '@eventwire/event-channel';
import { RawClient, runBrokerCli, until, waitForOutput, within } from './helpers.js';
import { runAndInterrupt } from '../../../scripts/testing/interrupt.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const test = suite('event-broker CLI');

const run = (args: string[], env: Record<string, string> = {}) => runBrokerCli(args, { env });
const waitFor = (output: () => string, pattern: RegExp, what: string) => waitForOutput(output, pattern, what, 15_000);

// The runs that only print and exit start together, before the first test:
// each spends its time loading the broker through tsx, not running. The
// deadline on their exit is a hang guard, long enough for seven at once on a
// loaded machine.
const EXIT_DEADLINE = 30_000;
const namedDir = mkdtempSync(join(tmpdir(), 'eventwire-cli-'));
const namedConfigs = ['named.config.mjs', 'named.config.ts'];
const early = new Map<string, ReturnType<typeof run>>();
const started = (args: string[]): ReturnType<typeof run> => early.get(args.join(' '))!;
test.before(() => {
  for (const file of namedConfigs) writeFileSync(join(namedDir, file), 'export const config = { port: 0 };\n');
  const runs = [['--help'], ['--max-payload', 'lots'], ['--frobnicate'], ['--version'], ['--fsync', 'sometimes'], ...namedConfigs.map((file) => ['--config', join(namedDir, file)])];
  for (const args of runs) early.set(args.join(' '), run(args));
});
test.after(async () => {
  await Promise.all([...early.values()].map((started) => started[Symbol.asyncDispose]()));
  rmSync(namedDir, { recursive: true, force: true });
});

test('--help prints usage and exits 0', async () => {
  const { output, exit } = started(['--help']);
  assert.is(await within(exit, EXIT_DEADLINE, 'exit'), 0);
  assert.match(output(), /Usage: event-broker/);
  assert.match(output(), /EVENTWIRE_PORT/);
});

test('bad options exit 2 with a clear message', async () => {
  const bad = started(['--max-payload', 'lots']);
  assert.is(await within(bad.exit, EXIT_DEADLINE, 'exit'), 2);
  assert.match(bad.output(), /--max-payload: "lots" is not a size/);
  const unknown = started(['--frobnicate']);
  assert.is(await within(unknown.exit, EXIT_DEADLINE, 'exit'), 2);
});

test('--version prints the package version and exits 0', async () => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  const { output, exit } = started(['--version']);
  assert.is(await within(exit, EXIT_DEADLINE, 'exit'), 0);
  assert.match(output(), new RegExp(`^event-broker ${version.replace(/\./g, '\\.')} `));
});

test('--fsync with a bad value lists the valid ones', async () => {
  const bad = started(['--fsync', 'sometimes']);
  assert.is(await within(bad.exit, EXIT_DEADLINE, 'exit'), 2);
  assert.match(bad.output(), /--fsync: expected always, never or a number of milliseconds/);
});

test('a config file with only a named export says there is no default export', async () => {
  for (const file of namedConfigs) {
    const bad = started(['--config', join(namedDir, file)]);
    assert.is(await within(bad.exit, EXIT_DEADLINE, 'exit'), 2);
    assert.match(bad.output(), new RegExp(`${file}: no default export \\(it exports config\\)`));
    assert.not.match(bad.output(), /unknown key/);
  }
});

test('a busy port is one line without the --help hint (a runtime error, not a usage error)', async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  try {
    const busy = run(['--port', String((taken.address() as AddressInfo).port)]);
    assert.is(await within(busy.exit, 15_000, 'exit'), 2);
    assert.match(busy.output(), /^event-broker: cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE.*\n$/);
    assert.not.match(busy.output(), /--help/);
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test('examples/auth.config.ts with JWT_SECRET unset refuses to start (never runs with authentication off)', async () => {
  const config = fileURLToPath(new URL('../examples/auth.config.ts', import.meta.url));
  const { JWT_SECRET: _, ...env } = process.env;
  const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', cli, '--config', config, '--port', '0'], {
    env: { ...env, ORDERS_API_KEY: 'orders-key-0123456789abcdef' },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exit = new Promise<number | null>((resolve) => child.on('exit', resolve));
  try {
    assert.is(await within(exit, 15_000, 'exit'), 2, output);
    assert.match(output, /set JWT_SECRET/);
    assert.not.match(output, /listening on/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('the start-up line names /metrics and /dashboard when on, and on 0.0.0.0 a connectable host', async () => {
  const { child, output, exit } = run(['--host', '0.0.0.0', '--port', '0', '--metrics', 'on', '--dashboard', 'on']);
  try {
    const [line] = await waitFor(output, /listening on .*\n/, 'listening line');
    assert.match(line!, new RegExp(`listening on ws://${hostname()}:\\d+ \\(all interfaces\\)`));
    assert.not.match(line!, /0\.0\.0\.0/);
    assert.match(line!, /http: .*\/metrics/);
    assert.match(line!, /http: .*\/dashboard/);
  } finally {
    child.kill('SIGTERM');
    await within(exit, 15_000, 'exit');
  }
});

/** `count` distinct ports free a moment ago (all held open together, so no two are the same). */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

test('--log-format json: every line is a JSON object with level, time and msg; a connection carries conn, a failing webhook its code, URL, status and retry; --log-level warn leaves info out', async () => {
  const hook = createHttpServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(503).end());
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const webhook = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const records = (text: string) => text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  try {
    // Under --log-level warn the listening line is not written: the ports are chosen here (free a moment ago).
    const ports = await freePorts(2);
    // Both levels at once: two brokers on their own ports, each output read on its own.
    await Promise.all(['info', 'warn'].map(async (level, index) => {
      const httpPort = ports[index]!;
      const { child, output, exit } = run(['--port', String(httpPort), '--log-format', 'json', '--log-level', level, '--webhook', `${webhook}?token=s3cret`]);
      try {
        await until(() => fetch(`http://127.0.0.1:${httpPort}/health`).then((r) => r.ok, () => false), 'the broker answers', 15_000);
        if (level === 'info') {
          const client = await RawClient.open(`ws://127.0.0.1:${httpPort}`);
          await waitFor(output, /"conn":"[^"]+"/, 'a conn record');
          client.close();
        }
        const publish = await fetch(`http://127.0.0.1:${httpPort}/pubsub/logs.test/publish`, { method: 'POST', body: '{"payload":1}' });
        assert.is(publish.status, 200);
        await waitFor(output, /"level":"warn"/, 'the webhook retry record');
      } finally {
        child.kill('SIGTERM');
        await within(exit, 15_000, 'exit');
      }
      const lines = records(output());
      for (const line of lines) {
        assert.type(line['level'], 'string');
        assert.type(line['time'], 'number');
        assert.type(line['msg'], 'string');
      }
      const retry = lines.find((line) => line['level'] === 'warn')!;
      assert.equal(
        [retry['code'], retry['url'], retry['status'], retry['retry'], retry['hook']],
        ['connection_closed', webhook, 503, 1, `webhook ${webhook}`],
      );
      assert.not.match(output(), /s3cret/);
      if (level === 'info') {
        assert.ok(lines.some((line) => typeof line['conn'] === 'string' && / open native /.test(String(line['msg']))), 'a conn record');
        assert.ok(lines.some((line) => line['msg'] === 'stopped'));
      } else {
        assert.equal(lines.filter((line) => line['level'] === 'info'), [], 'no info records under --log-level warn');
      }
    }));
  } finally {
    await new Promise((resolve) => hook.close(resolve));
  }
});

test('serves, logs one line per connection, and stops cleanly on SIGTERM (env config)', async () => {
  const { child, output, exit } = run([], { EVENTWIRE_PORT: '0', EVENTWIRE_MAX_PAYLOAD: '64kb' });
  try {
    const [, url] = await waitFor(output, /listening on (ws:\/\/[\d.]+:\d+)/, 'listening line');
    const client = await RawClient.open(url!);
    client.send({ type: 'hello', protocol: 1 });
    const welcome = await client.next();
    assert.is(welcome['maxPayloadBytes'], 65_536);
    await waitFor(output, /conn \S+ open native from 127\.0\.0\.1/, 'connection line');
    client.close();
    await waitFor(output, /conn \S+ closed 1005|conn \S+ closed 1000/, 'close line');
    child.kill('SIGTERM');
    assert.is(await within(exit, 15_000, 'exit'), 0);
    assert.match(output(), /SIGTERM received/);
    assert.match(output(), /stopped/);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a broker killed with SIGKILL and restarted on its port: the channel recovers by itself', async () => {
  const first = run(['--port', '0']);
  let second: ReturnType<typeof run> | undefined;
  const [, url, port] = await waitFor(first.output, /listening on (ws:\/\/[\d.]+:(\d+))/, 'first broker');
  const channel = new EventChannel({ url: url!, ws: { backoff: () => 10 } });
  try {
    const statuses: ChannelStatus['state'][] = [];
    channel.onStatus((status) => statuses.push(status.state));
    const got: unknown[] = [];
    channel.on('crash.test', (data) => void got.push(data));
    await channel.ready();
    first.child.kill('SIGKILL'); // no close frames: the socket just dies (1006)
    await within(first.exit, 15_000, 'first broker gone');
    second = run(['--port', port!]);
    await waitFor(second.output, /listening on/, 'second broker');
    await until(() => channel.status.state === 'open', 'channel open again', 15_000);
    assert.ok(statuses.includes('reconnecting'));
    await channel.emit('crash.test', 'after restart', { ack: true });
    await until(() => got.length > 0, 'own event after restart (resubscribed)');
    assert.equal(got, ['after restart']);
  } finally {
    await channel.close();
    first.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
  }
});

test('Ctrl-C (pressed three times) stops it cleanly while clients are connected', async () => {
  let client: EventChannel | undefined;
  const run = await runAndInterrupt(cli, ['--port', '0'], {
    when: (out) => {
      const url = /listening on (ws:\/\/[\d.]+:\d+)/.exec(out)?.[1];
      if (url && !client) client = new EventChannel({ url, ws: { backoff: () => 10_000 } });
      return /conn \S+ open native/.test(out);
    },
    repeat: 2,
  });
  await client?.close();
  assert.is(run.code, 0, `exit ${run.code ?? run.signal}\n${run.stderr}`);
  assert.is(run.stderr, '');
  assert.match(run.stdout, /SIGINT received[\s\S]*stopped\n$/);
});

test.run();
