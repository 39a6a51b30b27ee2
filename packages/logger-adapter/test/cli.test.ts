// `eventwire` as a real child process against a real broker (and a real
// nats-server): what it prints, and its exit codes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { createJwtAuthenticator, EventBrokerServer } from '@eventwire/event-broker';
import { freePort, natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';
import { until, within } from '../../../scripts/testing/waits.js';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const test = suite('eventwire cli');
/** A child started through tsx: its first output takes seconds on a loaded machine. */
const WAIT = 20_000;

interface Run {
  readonly child: ReturnType<typeof spawn>;
  readonly out: () => string;
  readonly err: () => string;
  readonly exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', cli, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, EVENTWIRE_URL: '', EVENTWIRE_TOKEN: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

async function run(args: string[], env?: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  const running = start(args, env);
  try {
    const code = await within(running.exited, WAIT, `eventwire ${args.join(' ')}`);
    return { code, out: running.out(), err: running.err() };
  } finally {
    running.child.kill('SIGKILL');
  }
}

test('pub --ack, history --last, and sub --since replaying history then live; Ctrl-C exits 0', async () => {
  const broker = new EventBrokerServer({ port: 0, host: '127.0.0.1', history: [{ pattern: 'cli.#', maxEvents: 100 }] });
  const { url } = await broker.listen();
  try {
    for (const n of [1, 2, 3]) {
      const pub = await run(['pub', 'cli.orders', JSON.stringify({ n }), '--ack', '--url', url]);
      assert.is(pub.code, 0, pub.err);
      assert.ok(JSON.parse(pub.out).id, 'acknowledged: prints the event id');
    }
    const history = await run(['history', 'cli.#', '--last', '2', '--json'], { EVENTWIRE_URL: url });
    assert.is(history.code, 0, history.err);
    assert.equal(history.out.trim().split('\n').map((line) => JSON.parse(line).data.n), [2, 3]);

    const sub = start(['sub', 'cli.#', '--since', 'earliest', '--url', url]);
    try {
      await until(() => sub.err().includes('subscribed'), 'sub to subscribe', WAIT);
      const channel = new EventChannel({ url });
      await channel.emit('cli.orders', { n: 4 }, { ack: true });
      await channel.close();
      await until(() => sub.out().includes('{"n":4}'), 'the live event', WAIT);
      assert.equal(sub.out().trim().split('\n').map((line) => JSON.parse(line.slice(line.indexOf('{'))).n), [1, 2, 3, 4]);
      sub.child.kill('SIGINT');
      assert.is(await within(sub.exited, WAIT, 'sub to exit'), 0);
    } finally {
      sub.child.kill('SIGKILL');
    }
  } finally {
    await broker.close();
  }
});

test('one-line errors with the code, and the exit codes: unreachable 3, refused credentials 3, invalid topic 1, not JSON 2', async () => {
  const broker = new EventBrokerServer({ port: 0, host: '127.0.0.1', authenticate: createJwtAuthenticator({ secret: 'a-secret-of-at-least-32-characters!!' }) });
  const open = new EventBrokerServer({ port: 0, host: '127.0.0.1' });
  const [{ url }, opened] = await Promise.all([broker.listen(), open.listen()]);
  try {
    // The four runs at once: each spends its time starting through tsx.
    const [unreachable, refused, invalid, notJson] = await Promise.all([
      freePort().then((port) => run(['pub', 'cli.x', '1', '--url', `ws://127.0.0.1:${port}`, '--timeout', '4000'])),
      run(['pub', 'cli.x', '1', '--url', url], { EVENTWIRE_TOKEN: 'not-a-jwt' }),
      run(['pub', 'cli..x', '1', '--url', opened.url]),
      run(['pub', 'cli.x', '{nope', '--url', opened.url]),
    ]);
    assert.is(unreachable.code, 3, unreachable.err);
    assert.match(unreachable.err, /^eventwire: connection_closed: cannot connect to ws:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    assert.is(unreachable.err.trim().split('\n').length, 1);
    assert.is(refused.code, 3);
    assert.match(refused.err, /^eventwire: unauthorized: /);
    assert.is(invalid.code, 1);
    assert.match(invalid.err, /^eventwire: invalid_topic: /);
    assert.is(notJson.code, 2);
    assert.match(notJson.err, /^eventwire: usage: /);
  } finally {
    await Promise.all([broker.close(), open.close()]);
  }
});

test('nats:// with a real nats-server: pub then sub sees it live', async () => {
  if (!natsServerAvailable()) {
    if (process.env['CI'] === 'true') assert.unreachable('nats-server is required under CI');
    console.log('  skipped: nats-server is not installed');
    return;
  }
  await using nats = await startNatsServer();
  const sub = start(['sub', 'cli.nats.#', '--json', '--url', nats.url]);
  try {
    await until(() => sub.err().includes('subscribed'), 'sub to subscribe', WAIT);
    const pub = await run(['pub', 'cli.nats.one', '{"hello":"nats"}', '--url', nats.url]);
    assert.is(pub.code, 0, pub.err);
    await until(() => sub.out().includes('"hello":"nats"'), 'the event over nats', WAIT);
    assert.is(JSON.parse(sub.out().trim()).topic, 'cli.nats.one');
    sub.child.kill('SIGINT');
    assert.is(await within(sub.exited, WAIT, 'sub to exit'), 0);
  } finally {
    sub.child.kill('SIGKILL');
  }
});

test('presence CHANNEL lists the members (pretty and --json lines) and leaves the channel when done', async () => {
  const broker = new EventBrokerServer({ port: 0, host: '127.0.0.1', authenticate: ({ token }) => (token ? { id: token } : undefined) });
  broker.channel('presence-room.{roomId}', (user) => (user && user.id !== 'mallory' ? { name: user.id.toUpperCase() } : false));
  const { url } = await broker.listen();
  const ada = new EventChannel({ url: `${url}/?token=ada` });
  const bob = new EventChannel({ url: `${url}/?token=bob` });
  try {
    const room = ada.presence('presence-room.7');
    await within(room.ready, WAIT, 'ada in the room');
    const bobRoom = bob.presence('presence-room.7');
    await within(bobRoom.ready, WAIT, 'bob in the room');
    await until(() => room.count === 2, 'ada sees bob');
    const seen: string[] = [];
    room.onJoin((member) => seen.push(`+${member.id}`));
    room.onLeave((member) => seen.push(`-${member.id}`));

    const pretty = await run(['presence', 'presence-room.7', '--url', url, '--token', 'ops']);
    assert.is(pretty.code, 0, pretty.err);
    const lines = pretty.out.trim().split('\n');
    assert.equal(lines, ['ada {"name":"ADA"}', 'bob {"name":"BOB"}', 'ops {"name":"OPS"}']);
    // The CLI is a member while it reads: stderr says so (stdout stays the list alone).
    assert.match(pretty.err, /^eventwire: 3 members on presence-room\.7 \(this CLI's user among them while it reads\)\n$/);
    // The CLI joined to read the list, and left when done: ada saw it come and go, the count is back.
    await until(() => seen.length === 2, 'the CLI to leave');
    assert.equal(seen, ['+ops', '-ops']);
    assert.is(room.count, 2);

    const json = await run(['presence', 'presence-room.7', '--json', '--url', url, '--token', 'ops']);
    assert.is(json.code, 0, json.err);
    assert.equal(
      json.out.trim().split('\n').map((line) => JSON.parse(line)),
      [
        { id: 'ada', info: { name: 'ADA' } },
        { id: 'bob', info: { name: 'BOB' } },
        { id: 'ops', info: { name: 'OPS' } },
      ],
    );
    await until(() => seen.length === 4, 'the CLI to leave again');
    assert.is(room.count, 2);

    // The channel's authorizer refuses this user: exit 1 with the code, one line.
    const refused = await run(['presence', 'presence-room.7', '--url', url, '--token', 'mallory']);
    assert.is(refused.code, 1, refused.err);
    assert.match(refused.err, /^eventwire: forbidden: [^\n]*\n$/);
  } finally {
    await Promise.all([ada.close(), bob.close()]);
    await broker.close();
  }
});

test('eventwire tail is the logs viewer; --help exits 0', async () => {
  const [help, own] = await Promise.all([run(['tail', '--help']), run(['--help'])]);
  assert.is(help.code, 0);
  assert.match(help.out, /eventwire-tail/);
  assert.is(own.code, 0);
  assert.match(own.out, /Exit codes: 0 done, 1 operation failed, 2 usage, 3 cannot connect/);
});

test.run();
