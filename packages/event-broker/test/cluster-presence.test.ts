// Presence across brokers: three nats-server processes routed together, a
// broker on each. A member on any broker is a member of the channel on all
// of them, a user on two brokers is one member (added with the first,
// removed after the last), and a broker killed with members on it has them
// removed everywhere within three heartbeats.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import type { EventBrokerServer } from '../src/index.js';
import { joinPresence as join, memberChanges as changes, memberIds, startBrokerCluster, startClusterBroker, untilMembers, type BrokerCluster } from './cluster-helpers.js';
import { RawClient, runBrokerCli, until, waitForOutput, within, type TestBroker } from './helpers.js';

const available = natsServerAvailable();
const WAIT = 5000;
const HEARTBEAT_MS = 100;

type Context = BrokerCluster<never>;

const test = suite<Context>('presence across a broker cluster');

function presenceBroker(server: NatsServer, node: string): Promise<TestBroker<never>> {
  return startClusterBroker<never>(
    node,
    {
      authenticate: ({ token }) => (token ? { id: token } : undefined),
      // One member a part: a broker's list always travels in several.
      cluster: { url: server.url, node, reconnectTimeWaitMs: 50, presence: { heartbeatMs: HEARTBEAT_MS, membersPerPart: 1 } },
    },
    (broker: EventBrokerServer<never>) => void broker.channel('presence-room.{roomId}', (user) => ({ name: (user?.id ?? 'guest').toUpperCase() })),
  );
}

if (!available) {
  test.skip('(nats-server not installed: the cluster presence tests are skipped)', () => {});
} else {
  test.before(async (context) => {
    Object.assign(context, await startBrokerCluster(presenceBroker, { nodePrefix: 'p' }));
  });
  test.after((context) => context.stop?.());

  test('a member on one broker is a member on all; a user on two brokers is one member, removed after the last', async ({ brokers }) => {
    const [a, b, c] = brokers as [TestBroker<never>, TestBroker<never>, TestBroker<never>];
    const channel = 'presence-room.shared';
    const ada = await join(a, 'ada', channel);
    await untilMembers(b, channel, ['ada'], 'B sees ada');
    const bob = await join(b, 'bob', channel);
    assert.equal(bob.members.map((member) => member.id).sort(), ['ada', 'bob'], 'bob, on B, is told ada (on A) is here');
    await until(() => changes(ada.client).includes('member_added:bob'), 'ada hears bob joined, across brokers', WAIT);
    await untilMembers(c, channel, ['ada', 'bob'], 'C, with no member of its own, lists both');
    // Ada on a second broker: the same member, nobody is told she joined again.
    const adaOnC = await join(c, 'ada', channel);
    assert.equal(adaOnC.members.map((member) => member.id).sort(), ['ada', 'bob']);
    ada.client.close();
    await untilMembers(a, channel, ['ada', 'bob'], 'ada still here through C');
    adaOnC.client.close();
    await until(() => changes(bob.client).includes('member_removed:ada'), 'bob hears ada left after her last connection', WAIT);
    assert.equal(changes(bob.client), ['member_removed:ada'], 'bob heard one removal and no second added');
    await untilMembers(a, channel, ['bob'], 'A');
    await untilMembers(c, channel, ['bob'], 'C');
    bob.client.close();
    await untilMembers(a, channel, [], 'A, at the end');
  });

  test('a broker that joins later learns every member (its list came in parts of one member)', async ({ servers, brokers }) => {
    const [a, b] = brokers as [TestBroker<never>, TestBroker<never>];
    const joined = [await join(a, 'ann', 'presence-room.x'), await join(a, 'al', 'presence-room.x'), await join(b, 'bea', 'presence-room.y')];
    await untilMembers(b, 'presence-room.x', ['al', 'ann'], 'B sees A’s members');
    const late = await presenceBroker(servers[2]!, 'p-late');
    try {
      // No change was sent after it joined: what it lists came from the others' lists.
      await untilMembers(late, 'presence-room.x', ['al', 'ann'], 'the late broker, room x');
      await untilMembers(late, 'presence-room.y', ['bea'], 'the late broker, room y');
    } finally {
      for (const member of joined) member.client.close();
      await late.stop();
    }
  });

  test('a broker that joins while another is still asking for the lists keeps its members there', async ({ servers }) => {
    // The first broker's sync waits this long for answers; the second joins within it and was never asked.
    const syncTimeoutMs = 1500;
    const start = (node: string): Promise<TestBroker<never>> =>
      startClusterBroker<never>(
        node,
        {
          authenticate: ({ token }) => (token ? { id: token } : undefined),
          cluster: { url: servers[0]!.url, node, reconnectTimeWaitMs: 50, presence: { heartbeatMs: 1000, syncTimeoutMs } },
        },
        (broker: EventBrokerServer<never>) => void broker.channel('presence-room.{roomId}', () => ({})),
      );
    const first = await start('p-sync-1');
    const openedAt = Date.now();
    const second = await start('p-sync-2');
    const sue = await join(second, 'sue', 'presence-room.sync');
    try {
      await untilMembers(first, 'presence-room.sync', ['sue'], 'the first broker lists sue');
      assert.ok(Date.now() - openedAt < syncTimeoutMs, 'sue was listed while the first broker was still syncing (else this test proves nothing)');
      // The sync's own deadline: a wait on the clock, the behaviour under test being what happens when it passes.
      await until(() => Date.now() - openedAt > syncTimeoutMs + 200, 'the first broker\'s sync over', syncTimeoutMs + 1000);
      assert.equal(await memberIds(first, 'presence-room.sync'), ['sue'], 'still listed after the sync');
    } finally {
      sue.client.close();
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  test('malformed presence messages on NATS are ignored: no crash, no member made up', async ({ servers, brokers }) => {
    const [a] = brokers as [TestBroker<never>];
    const channel = 'presence-room.garbage';
    const watcher = await join(a, 'watcher', channel);
    const plain = await connect({ servers: servers[0]!.url });
    try {
      for (const body of ['not json', '{}', '{"node":"x","channel":1}', '{"node":"x","channel":"presence-room.garbage","member":{"id":5},"present":true}', '{"node":"x","snapshot":"s","channels":[{"channel":"presence-room.garbage","members":[{"id":"ghost"}]}],"last":"yes"}']) {
        plain.publish('_EVENTWIRE.presence.change', body);
        plain.publish('_EVENTWIRE.presence.snapshot', body);
      }
      // One well-formed change after the garbage: it is the only member that appears.
      plain.publish('_EVENTWIRE.presence.change', JSON.stringify({ node: 'plain', channel, member: { id: 'real', info: {} }, present: true }));
      await plain.flush();
      await untilMembers(a, channel, ['real', 'watcher'], 'A after the garbage');
      // (The made-up broker "plain" goes silent after this, so its member is removed again later.)
      assert.equal(changes(watcher.client).filter((change) => change.startsWith('member_added:')), ['member_added:real']);
    } finally {
      await plain.close();
      watcher.client.close();
    }
  });

  test('NATS restarts: a member who left meanwhile is gone everywhere once the brokers are back, the others stay', async () => {
    const server = await startNatsServer();
    const one = await presenceBroker(server, 'solo-1');
    const two = await presenceBroker(server, 'solo-2');
    const channel = 'presence-room.restart';
    const ada = await join(one, 'ada', channel);
    const bob = await join(one, 'bob', channel);
    const watcher = await join(two, 'watcher', channel);
    try {
      await untilMembers(two, channel, ['ada', 'bob', 'watcher'], 'before');
      await server.stop();
      await until(() => one.broker.stats().cluster?.state !== 'open' && two.broker.stats().cluster?.state !== 'open', 'both see NATS gone', WAIT);
      ada.client.close(); // leaves while the brokers cannot tell each other
      await untilMembers(one, channel, ['bob'], 'broker one knows at once');
      await server.start();
      await until(() => one.broker.stats().cluster?.state === 'open' && two.broker.stats().cluster?.state === 'open', 'both back', WAIT);
      await untilMembers(two, channel, ['bob', 'watcher'], 'after: ada gone, bob still here');
    } finally {
      bob.client.close();
      watcher.client.close();
      await Promise.all([one.stop(), two.stop()]);
      await server.stop();
    }
  });

  test('a broker killed with members on it: the others remove them within three heartbeats', async ({ servers, brokers }) => {
    const [a] = brokers as [TestBroker<never>];
    const channel = 'presence-room.doomed';
    const dir = mkdtempSync(joinPath(tmpdir(), 'cluster-presence-'));
    const config = joinPath(dir, 'broker.config.mjs');
    writeFileSync(
      config,
      `export default { cluster: { url: ${JSON.stringify(servers[1]!.url)}, node: 'p-doomed', presence: { heartbeatMs: ${HEARTBEAT_MS} } }, channels: { 'presence-room.{roomId}': () => ({ name: 'GUEST' }) } };\n`,
    );
    const doomed = runBrokerCli(['--port', '0', '--host', '127.0.0.1', '--config', config, '--quiet']);
    const watcher = await join(a, 'watcher', channel);
    try {
      const [, url] = await waitForOutput(doomed.output, /listening on (ws:\/\/[\d.]+:\d+)/, 'the CLI broker');
      await waitForOutput(doomed.output, /cluster: node p-doomed joined/, 'the CLI broker on NATS');
      const guest = await join({ url: url! } as TestBroker<never>, undefined, channel);
      assert.equal(guest.members.length, 2, 'the guest (on the doomed broker) sees the watcher (on A)');
      await until(() => changes(watcher.client).some((change) => change.startsWith('member_added:')), 'the watcher hears the guest', WAIT);
      doomed.child.kill('SIGKILL');
      await within(doomed.exit, WAIT, 'the broker gone');
      await until(() => changes(watcher.client).some((change) => change.startsWith('member_removed:')), 'the guest removed after the broker died', WAIT);
      await untilMembers(a, channel, ['watcher'], 'A');
    } finally {
      doomed.child.kill('SIGKILL');
      watcher.client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test.run();
