// A broker's name in the cluster: the library reads no environment (its
// default is the host's name and a random suffix, whatever $HOSTNAME says);
// the CLI names the node after $HOSTNAME (a container's name), and a name in
// the config wins over both.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventBrokerServer } from '../src/index.js';
import { runBrokerCli, waitForOutput, within } from './helpers.js';

const test = suite('cluster node name');
// Nothing listens on port 1: the node is named at construction, reachable or not.
const UNREACHABLE = 'nats://127.0.0.1:1';

test('the library default is os.hostname() and 8 hex digits, not $HOSTNAME', async () => {
  const saved = process.env['HOSTNAME'];
  process.env['HOSTNAME'] = 'from-the-environment';
  try {
    const brokers = [new EventBrokerServer({ cluster: UNREACHABLE }), new EventBrokerServer({ cluster: { url: UNREACHABLE } })];
    const names = brokers.map((broker) => broker.stats().cluster?.node ?? '');
    for (const name of names) assert.match(name, new RegExp(`^${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-[0-9a-f]{8}$`));
    assert.is.not(names[0], names[1], 'two brokers on one host get two names');
    await Promise.all(brokers.map((broker) => broker.close()));
  } finally {
    if (saved === undefined) delete process.env['HOSTNAME'];
    else process.env['HOSTNAME'] = saved;
  }
});

async function cliNode(args: string[], env: Record<string, string>): Promise<string> {
  const cli = runBrokerCli(['--port', '0', '--host', '127.0.0.1', '--quiet', ...args], { env });
  try {
    const [, port] = await waitForOutput(cli.output, /listening on ws:\/\/[\d.]+:(\d+)/, 'the CLI broker');
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { cluster?: { node?: string } };
    return health.cluster?.node ?? '';
  } finally {
    cli.child.kill('SIGTERM');
    await within(cli.exit, 10_000, 'the CLI broker stopped');
  }
}

test('the CLI names the node after $HOSTNAME; a node named in the config wins', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-node-'));
  const config = join(dir, 'broker.config.mjs');
  writeFileSync(config, `export default { cluster: { url: ${JSON.stringify(UNREACHABLE)}, node: 'named-in-config' } };\n`);
  try {
    const [fromEnv, named] = await Promise.all([
      cliNode(['--cluster', UNREACHABLE], { HOSTNAME: 'box-7' }),
      cliNode(['--config', config], { HOSTNAME: 'box-7' }),
    ]);
    assert.match(fromEnv, /^box-7-[0-9a-f]{8}$/);
    assert.is(named, 'named-in-config');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
