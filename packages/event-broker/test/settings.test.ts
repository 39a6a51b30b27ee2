// Configuration declared once: every setting in settings.ts is reachable
// through a config file, an environment variable and a flag, each giving the
// same value, and absent everywhere it gets its one default. The flags and the
// usage text are the table's and nothing else. To extend: a new setting needs
// one sample below (the `satisfies` makes a missing one a compile error).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_PAYLOAD_DEPTH, topicLimitDefaults } from '@eventwire/event-channel';
import { brokerOptionsOf } from '../src/broker-from-config.js';
import { defaultMaxConnections } from '../src/capacity.js';
import { commandFlags, commandLineOptions, readCommandLine, usage, type CommandLine } from '../src/command-line.js';
import { BrokerConfigError, maskConfig, type ResolvedBrokerConfig } from '../src/config.js';
import { brokerDefaults, resolveBrokerOptions } from '../src/options.js';
import { settingEntries, type SettingKey } from '../src/settings.js';
import { within } from './helpers.js';

/** A value for one setting as a file writes it, as a flag or variable writes it, and what both become. */
interface Sample {
  readonly file: unknown;
  /** A list is a repeatable flag given once per item (the variable joins them with ","). */
  readonly text: string | readonly string[];
  /** The companion flag's text (`--webhook-topics`). */
  readonly companion?: string;
  readonly expected: unknown;
}

const samples = {
  port: { file: 4001, text: '4001', expected: 4001 },
  host: { file: '0.0.0.0', text: '0.0.0.0', expected: '0.0.0.0' },
  tlsCert: { file: '/etc/eventwire/cert.pem', text: '/etc/eventwire/cert.pem', expected: '/etc/eventwire/cert.pem' },
  tlsKey: { file: '/etc/eventwire/key.pem', text: '/etc/eventwire/key.pem', expected: '/etc/eventwire/key.pem' },
  allowUnknownTopics: { file: true, text: 'on', expected: true },
  maxPayloadBytes: { file: '64kb', text: '64kb', expected: 65_536 },
  maxPayloadDepth: { file: 64, text: '64', expected: 64 },
  maxSubscriptionsPerConnection: { file: 50, text: '50', expected: 50 },
  topicLimits: { file: { maxLength: 100 }, text: '{"maxLength":100}', expected: { ...topicLimitDefaults, maxLength: 100 } },
  maxOutboundBytes: { file: '2mb', text: '2mb', expected: 2 * 1024 ** 2 },
  maxTotalOutboundBytes: { file: '64mb', text: '64mb', expected: 64 * 1024 ** 2 },
  slowConsumerMs: { file: 2500, text: '2500', expected: 2500 },
  heartbeatMs: { file: 3000, text: '3000', expected: 3000 },
  helloTimeoutMs: { file: 4000, text: '4000', expected: 4000 },
  interceptTimeoutMs: { file: 1500, text: '1500', expected: 1500 },
  observerTimeoutMs: { file: 20_000, text: '20000', expected: 20_000 },
  maxDerivedDepth: { file: 3, text: '3', expected: 3 },
  shutdownTimeoutMs: { file: 2000, text: '2000', expected: 2000 },
  source: { file: 'urn:test:broker', text: 'urn:test:broker', expected: 'urn:test:broker' },
  history: {
    file: [{ pattern: 'order.#', maxEvents: 10, maxAge: '24h' }, { pattern: 'chat.#' }],
    text: ['order.#:10:24h', 'chat.#'],
    expected: [{ pattern: 'order.#', maxEvents: 10, maxAge: 86_400_000 }, { pattern: 'chat.#' }],
  },
  cluster: { file: 'nats://127.0.0.1:4222', text: 'nats://127.0.0.1:4222', expected: { url: 'nats://127.0.0.1:4222' } },
  dataDir: { file: '/var/lib/broker', text: '/var/lib/broker', expected: '/var/lib/broker' },
  historyFsync: { file: 'always', text: 'always', expected: 'always' },
  historyMaxBytes: { file: '2gb', text: '2gb', expected: 2 * 1024 ** 3 },
  historyMaxMemoryBytes: { file: '256mb', text: '256mb', expected: 256 * 1024 ** 2 },
  maxReplayEvents: { file: 500, text: '500', expected: 500 },
  allowAnonymous: { file: false, text: 'off', expected: false },
  permissions: {
    file: { anonymous: { publish: [] }, users: { svc: { publish: ['order.*'] } } },
    text: '{"anonymous":{"publish":[]},"users":{"svc":{"publish":["order.*"]}}}',
    expected: { anonymous: { publish: [] }, users: { svc: { publish: ['order.*'] } } },
  },
  rateLimits: {
    file: { publish: { perConnection: { perSecond: 10, burst: 20 } } },
    text: '{"publish":{"perConnection":{"perSecond":10,"burst":20}}}',
    expected: { publish: { perConnection: { perSecond: 10, burst: 20 } } },
  },
  maxConnections: { file: 900, text: '900', expected: 900 },
  maxConnectionsPerIp: { file: 70, text: '70', expected: 70 },
  trustedProxies: { file: ['10.0.0.5', '10.0.0.6'], text: '10.0.0.5,10.0.0.6', expected: ['10.0.0.5', '10.0.0.6'] },
  broadcastingPath: { file: false, text: 'off', expected: false },
  pusher: { file: { apps: [{ id: 'a', key: 'ak', secret: 'a-secret-1' }] }, text: ['a:ak:a-secret-1'], expected: { apps: [{ id: 'a', key: 'ak', secret: 'a-secret-1' }] } },
  socketio: {
    file: { path: '/io/', cors: { origin: '*' }, pingInterval: 300, clientJoin: 'subscribe', redis: 'redis://127.0.0.1:6390' },
    text: '{"path":"/io/","cors":{"origin":"*"},"pingInterval":300,"clientJoin":"subscribe"}',
    companion: 'redis://127.0.0.1:6390',
    expected: { path: '/io/', cors: { origin: '*' }, pingInterval: 300, clientJoin: 'subscribe', redis: 'redis://127.0.0.1:6390' },
  },
  metrics: { file: false, text: 'off', expected: false },
  dashboard: { file: true, text: 'on', expected: true },
  serveClient: { file: false, text: 'off', expected: false },
  asyncapi: { file: true, text: 'on', expected: true },
  maxPresenceMembers: { file: 10, text: '10', expected: 10 },
  cacheChannelTtlMs: { file: 60000, text: '60000', expected: 60000 },
  auditLog: { file: '/var/log/audit.jsonl', text: '/var/log/audit.jsonl', expected: '/var/log/audit.jsonl' },
  webhooks: {
    file: [{ url: 'https://hooks.example/events', topics: 'order.#' }],
    text: 'https://hooks.example/events',
    companion: 'order.#',
    expected: [{ url: 'https://hooks.example/events', topics: 'order.#' }],
  },
  logFormat: { file: 'json', text: 'json', expected: 'json' },
  logLevel: { file: 'warn', text: 'warn', expected: 'warn' },
  quiet: { file: true, text: '1', expected: true },
  jwtSecret: { file: 'a-secret-of-enough-length', text: 'a-secret-of-enough-length', expected: 'a-secret-of-enough-length' },
  jwksUrl: { file: 'https://auth.example/jwks.json', text: 'https://auth.example/jwks.json', expected: 'https://auth.example/jwks.json' },
  jwtAudience: { file: 'shop', text: 'shop', expected: 'shop' },
  jwtIssuer: { file: 'https://auth.example', text: 'https://auth.example', expected: 'https://auth.example' },
  jwtClockToleranceSec: { file: 30, text: '30', expected: 30 },
  pusherWebhooks: { file: [{ app: 'a', url: 'https://hooks.example/pusher' }], text: ['a=https://hooks.example/pusher'], expected: [{ app: 'a', url: 'https://hooks.example/pusher' }] },
  apiKeys: { file: [{ key: 'svc-key-0123456789abc', user: 'svc' }], text: '[{"key":"svc-key-0123456789abc","user":"svc"}]', expected: [{ key: 'svc-key-0123456789abc', user: 'svc' }] },
} satisfies Record<SettingKey, Sample>;

const test = suite<{ dir: string }>('settings declared once');
test.before((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'broker-settings-'));
});
test.after((context) => rmSync(context.dir, { recursive: true, force: true }));

function run(commandLine: CommandLine): Extract<CommandLine, { kind: 'run' }> {
  if (commandLine.kind !== 'run') throw new Error('expected a config, got help');
  return commandLine;
}

test('every setting has a flag and a variable of its own, and a sample here', () => {
  const flags = new Set<string>();
  const variables = new Set<string>();
  for (const [key, setting] of settingEntries) {
    assert.ok(key in samples, `${key}: no sample in settings.test.ts`);
    for (const { flag, env } of [setting, ...(setting.companion ? [setting.companion] : [])]) {
      assert.match(flag, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/, `${key}: flag ${flag}`);
      assert.match(env, /^EVENTWIRE_[A-Z0-9_]+$/, `${key}: variable ${env}`);
      assert.not.ok(flags.has(flag) || flag in commandFlags, `${key}: --${flag} declared twice`);
      assert.not.ok(variables.has(env) || env === commandFlags.config.env, `${key}: ${env} declared twice`);
      flags.add(flag);
      variables.add(env);
    }
  }
  // The parser takes exactly the declared flags and the command's own: none added by hand.
  assert.equal(Object.keys(commandLineOptions).sort(), [...flags, ...Object.keys(commandFlags)].sort());
  // The usage text names each flag (and its variable) once, and no other flag.
  const named = [...usage.matchAll(/^  (?:-h, )?--([a-z0-9-]+)/gm)].map((match) => match[1]!);
  assert.equal(named.sort(), [...flags, ...Object.keys(commandFlags)].sort());
  for (const variable of variables) assert.ok(usage.includes(variable), `usage lacks ${variable}`);
});

test('every setting: a config file, a variable and a flag each give the same value', async ({ dir }) => {
  for (const [key, setting] of settingEntries) {
    const sample: Sample = samples[key];
    const file = join(dir, `${key}.json`);
    writeFileSync(file, JSON.stringify({ [key]: sample.file }));
    const list = typeof sample.text === 'string' ? [sample.text] : sample.text;
    const env: Record<string, string> = { [setting.env]: list.join(',') };
    const argv = setting.arg === undefined ? [`--${setting.flag}`] : list.flatMap((text) => [`--${setting.flag}`, text]);
    if (sample.companion !== undefined && setting.companion) {
      env[setting.companion.env] = sample.companion;
      argv.push(`--${setting.companion.flag}`, sample.companion);
    }
    const fromFile = run(await readCommandLine(['--config', file], {}));
    const fromEnv = run(await readCommandLine([], env));
    const fromFlag = run(await readCommandLine(argv, {}));
    assert.equal(fromFile.config[key], sample.expected, `${key} from the file`);
    assert.equal(fromEnv.config[key], sample.expected, `${key} from ${setting.env}`);
    assert.equal(fromFlag.config[key], sample.expected, `${key} from --${setting.flag}`);
    assert.is(fromFile.sources[key], `file ${file}`);
    assert.is(fromEnv.sources[key], `env ${setting.env}`);
    assert.is(fromFlag.sources[key], `flag --${setting.flag}`);
    // A sample equal to the default would prove nothing.
    assert.not.equal(run(await readCommandLine([], {})).config[key], sample.expected, `${key}: the sample is the default`);
    // And the broker takes it: an option reaches resolveBrokerOptions as the entry turns it into one.
    if (setting.kind === 'option') {
      const option = (brokerOptionsOf(fromFlag.config) as Record<string, unknown>)[key];
      assert.ok(option !== undefined, `${key}: lost on the way to the broker`);
      const resolved = (resolveBrokerOptions(brokerOptionsOf(fromFlag.config)) as Record<string, unknown>)[key];
      assert.equal(resolved, setting.resolve ? setting.resolve(option) : option, `${key}: resolveBrokerOptions keeps it`);
    }
  }
});

test('every setting absent everywhere gets its one default: in the config, in brokerDefaults, in resolveBrokerOptions', async () => {
  const { config, sources } = run(await readCommandLine([], {}));
  const fromConfig = resolveBrokerOptions(brokerOptionsOf(config)) as Record<string, unknown>;
  const fromNothing = resolveBrokerOptions({}) as Record<string, unknown>;
  for (const [key, setting] of settingEntries) {
    if (setting.default !== undefined) {
      assert.equal(config[key], setting.default, key);
      assert.is(sources[key], 'default', key);
    } else if (key === 'maxConnections') {
      assert.is(config[key], defaultMaxConnections().value); // shown by --print-config, with its reason
    } else assert.is(config[key], undefined, `${key}: a default outside the table`);
    if (setting.kind !== 'option') continue;
    assert.equal((brokerDefaults as Record<string, unknown>)[key], setting.default, `brokerDefaults.${key}`);
    const declared = setting.default ?? setting.defaultOf?.({});
    const expected = setting.resolve ? setting.resolve(declared) : declared;
    assert.equal(fromNothing[key], expected, `resolveBrokerOptions({}).${key}`);
    assert.equal(fromConfig[key], expected, `${key} through the CLI's defaults`);
  }
});

test('the real command reads every variable and every flag (one process each, --print-config)', async () => {
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const env: Record<string, string> = {};
  const argv: string[] = [];
  for (const [key, setting] of settingEntries) {
    const sample: Sample = samples[key];
    const list = typeof sample.text === 'string' ? [sample.text] : sample.text;
    env[setting.env] = list.join(',');
    argv.push(...(setting.arg === undefined ? [`--${setting.flag}`] : list.flatMap((text) => [`--${setting.flag}`, text])));
    if (sample.companion !== undefined && setting.companion) {
      env[setting.companion.env] = sample.companion;
      argv.push(`--${setting.companion.flag}`, sample.companion);
    }
  }
  const printed = (args: string[], extra: Record<string, string>) =>
    within(
      new Promise<{ config: Record<string, unknown>; sources: Record<string, string> }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', cli, ...args, '--print-config'], { env: { ...process.env, ...extra } });
        let out = '';
        let errors = '';
        child.stdout.on('data', (chunk) => (out += chunk));
        child.stderr.on('data', (chunk) => (errors += chunk));
        child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${errors}`))));
      }),
      30_000,
      'event-broker --print-config',
    );
  for (const [how, { config, sources }] of [
    ['environment', await printed([], env)],
    ['flags', await printed(argv, {})],
  ] as const) {
    for (const [key, setting] of settingEntries) {
      assert.match(sources[key] ?? '', how === 'flags' ? `flag --${setting.flag}` : `env ${setting.env}`, `${key} from the ${how}`);
      // As --print-config shows it: secrets masked.
      const expected = maskConfig({ [key]: (samples as Record<string, Sample>)[key]!.expected } as ResolvedBrokerConfig)[key];
      assert.equal(config[key], expected, `${key} from the ${how}`);
    }
  }
});

test('resolveBrokerOptions: given values kept, off is undefined, on is the default options, defaults worked out once', () => {
  const log = (): void => {};
  const given = resolveBrokerOptions({ port: 0, broadcastingPath: '/bc', metrics: { path: '/m' }, pusher: true, dashboard: false, log, history: [{ pattern: 'a.#' }] });
  assert.is(given.port, 0);
  assert.is(given.broadcastingPath, '/bc');
  assert.equal(given.metrics, { path: '/m' });
  assert.equal(given.pusher, {});
  assert.is(given.dashboard, undefined);
  assert.is(given.log, log); // what only code can give passes through
  assert.equal(given.history, [{ pattern: 'a.#' }]);
  const off = resolveBrokerOptions({ broadcastingPath: false, metrics: false });
  assert.is(off.broadcastingPath, undefined);
  assert.is(off.metrics, undefined);
  assert.is(off.pusher, undefined);
  const none = resolveBrokerOptions({});
  assert.is(none.broadcastingPath, '/api/v1/broadcasting/ws');
  assert.equal(none.metrics, {});
  assert.equal(none.topicLimits, topicLimitDefaults);
  assert.is(none.maxConnectionsPerIp, Infinity);
  assert.equal(none.trustedProxies, []);
  assert.is(none.maxPayloadDepth, 128);
  assert.is(none.allowAnonymous, true);
  assert.is(resolveBrokerOptions({ authenticate: () => undefined }).allowAnonymous, false);
  assert.is(resolveBrokerOptions({ authenticate: () => undefined, allowAnonymous: true }).allowAnonymous, true);
  assert.ok(none.maxTotalOutboundBytes > 0 && none.historyMaxMemoryBytes > 0 && none.maxConnections > 0);
  // What server.ts's payloadDepth() refuses.
  for (const bad of [0, MAX_PAYLOAD_DEPTH + 1, 1.5]) assert.throws(() => resolveBrokerOptions({ maxPayloadDepth: bad }), RangeError, String(bad));
  assert.is(resolveBrokerOptions({ maxPayloadDepth: MAX_PAYLOAD_DEPTH }).maxPayloadDepth, MAX_PAYLOAD_DEPTH);
});

test('--socketio-redis alone turns the socketio surface on with its bridge', async () => {
  assert.equal(run(await readCommandLine(['--socketio-redis', 'redis://127.0.0.1:6390'], {})).config.socketio, { redis: 'redis://127.0.0.1:6390' });
  assert.equal(run(await readCommandLine([], { EVENTWIRE_SOCKETIO_REDIS: 'redis://127.0.0.1:6390' })).config.socketio, { redis: 'redis://127.0.0.1:6390' });
});

test('--socketio-redis adds the bridge to a config file\'s socketio options, keeping them', async ({ dir }) => {
  const file = join(dir, 'socketio-merge.json');
  writeFileSync(file, JSON.stringify({ socketio: { cors: { origin: ['http://127.0.0.1:3000'] }, clientJoin: 'join' } }));
  assert.equal(run(await readCommandLine(['--config', file, '--socketio-redis', 'redis://127.0.0.1:6390'], {})).config.socketio, {
    cors: { origin: ['http://127.0.0.1:3000'] },
    clientJoin: 'join',
    redis: 'redis://127.0.0.1:6390',
  });
});

test('a bad flag, variable or JSON value is an invalid_config error naming it', async () => {
  for (const [argv, env, expected] of [
    [['--frobnicate'], {}, /frobnicate/],
    [['--permissions', '{not json'], {}, /--permissions: expected JSON/],
    [[], { EVENTWIRE_RATE_LIMITS: '{"publish":{"perConnection":{"perSecond":0}}}' }, /EVENTWIRE_RATE_LIMITS: expected a rate per second/],
    [['--allow-anonymous', 'maybe'], {}, /--allow-anonymous: expected on or off/],
    [['--broadcasting-path', 'no-slash'], {}, /--broadcasting-path: expected a path/],
    [[], { EVENTWIRE_TOPIC_LIMITS: '{"maxDepth":3}' }, /EVENTWIRE_TOPIC_LIMITS: unknown key|maxDepth: unknown key/],
    [['--socketio-redis', 'http://127.0.0.1:6379'], {}, /--socketio-redis: expected a redis:\/\/ or rediss:\/\/ URL/],
  ] as Array<[string[], Record<string, string>, RegExp]>) {
    try {
      await readCommandLine(argv, env);
      assert.unreachable(`${argv.join(' ')} ${JSON.stringify(env)} accepted`);
    } catch (error) {
      assert.instance(error, BrokerConfigError);
      assert.is((error as BrokerConfigError).code, 'invalid_config');
      assert.match((error as BrokerConfigError).message, expected);
    }
  }
});

test.run();
