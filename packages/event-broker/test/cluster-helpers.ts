// What the cluster tests share, whatever the engine: a cluster of brokers over
// a real NATS cluster (three nats-servers routed together, a broker on each),
// a broker that has joined its cluster, waiting for a route to exist across
// brokers (subscriptions spread asynchronously), joining a presence channel
// with a raw client, and reading a channel's members.
//
// Extending: a fixture more than one cluster test needs goes here, built on
// helpers.ts (startBroker) and scripts/testing/nats-server.ts; it stops what
// it started if it fails half-way, and what it returns has `stop()` and
// `[Symbol.asyncDispose]`. A test's own kind of broker (presence heartbeats,
// JetStream history) stays in the test, passed to the fixture as a function.
import type { EventChannel, EventMap } from '@eventwire/event-channel';
import * as assert from 'uvu/assert';
import { startNatsCluster, type NatsServer, type NatsServerOptions } from '../../../scripts/testing/nats-server.js';
import type { BrokerOptions, EventBrokerServer } from '../src/index.js';
import { RawClient, startBroker, until, waitDefaults, type TestBroker } from './helpers.js';

const WAIT = waitDefaults.deadlineMs;

/** Brokers, one on each server of a NATS cluster: `brokers[i]` is on `servers[i]`. */
export interface BrokerCluster<TEvents extends EventMap> extends AsyncDisposable {
  readonly servers: NatsServer[];
  readonly brokers: TestBroker<TEvents>[];
  /** Stops every broker, then every nats-server. */
  stop(): Promise<void>;
  /** `await using cluster = await startBrokerCluster(…)` stops it on scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface BrokerClusterOptions extends Omit<NatsServerOptions, 'routes' | 'clusterPort' | 'name'> {
  /** How many nats-servers (and brokers). @default 3 */
  readonly size?: number;
  /** The brokers' node names are `<prefix>-a`, `<prefix>-b`, … @default 'node' */
  readonly nodePrefix?: string;
}

/**
 * Starts `size` nats-servers routed into one cluster, then one broker on each
 * (in order, so node a exists before node b), made by `startOn(server, node)`.
 * Fails cleanly: what started before a failure is stopped.
 */
export async function startBrokerCluster<TEvents extends EventMap>(
  startOn: (server: NatsServer, node: string) => Promise<TestBroker<TEvents>>,
  options: BrokerClusterOptions = {},
): Promise<BrokerCluster<TEvents>> {
  const { size = 3, nodePrefix = 'node', ...serverOptions } = options;
  const servers = await startNatsCluster(size, serverOptions);
  const brokers: TestBroker<TEvents>[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(brokers.map((broker) => broker.stop()));
    await Promise.all(servers.map((server) => server.stop()));
  };
  try {
    for (const [index, server] of servers.entries()) brokers.push(await startOn(server, `${nodePrefix}-${String.fromCharCode(97 + index)}`));
  } catch (error) {
    await stop();
    throw error;
  }
  return { servers, brokers, stop, [Symbol.asyncDispose]: stop };
}

/**
 * Starts a broker with `options` (its `cluster` set by the caller) and waits
 * until it has joined its cluster: its engine's connection is open (bounded).
 */
export async function startClusterBroker<TEvents extends EventMap>(
  node: string,
  options: BrokerOptions<TEvents>,
  setup?: (broker: EventBrokerServer<TEvents>) => void,
): Promise<TestBroker<TEvents>> {
  const handle = await startBroker<TEvents>(options, setup);
  try {
    await until(() => handle.broker.stats().cluster?.state === 'open', `${node} joined its cluster`, WAIT);
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}

/**
 * Runs `probe` until `seen()` says it arrived: the subscription behind it has
 * reached every server on the way (bounded). `what` names the route in a failure.
 */
export async function untilRouted(probe: () => Promise<unknown> | void, seen: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!seen()) {
    if (Date.now() > deadline) throw new Error(`no route for ${what} within ${WAIT} ms`);
    await probe();
    await until(seen, 'the probe', 50).catch(() => {});
  }
}

/** Emits `probe` (a topic) from `publisher` until `seen()` says it arrived (bounded). */
export function awaitRoute(publisher: EventChannel, probe: string, seen: () => boolean): Promise<void> {
  return untilRouted(() => publisher.emit(probe, { probe: true }, { ack: true }), seen, probe);
}

let frames = 0;
/** A raw native client on `broker` as `user`, subscribed to a presence channel; the member list it was given. */
export async function joinPresence(broker: TestBroker<never>, user: string | undefined, channel: string): Promise<{ client: RawClient; members: Array<{ id: string }> }> {
  const client = await RawClient.open(user ? `${broker.url}/?token=${user}` : broker.url);
  client.send({ type: 'hello', protocol: 1 });
  await client.next((frame) => frame['type'] === 'welcome');
  const id = `p${++frames}`;
  client.send({ type: 'subscribe', id, pattern: channel });
  const answer = await client.next((frame) => frame['id'] === id);
  assert.is(answer['type'], 'ack', JSON.stringify(answer));
  const presence = await client.next((frame) => frame['type'] === 'presence');
  return { client, members: presence['members'] as Array<{ id: string }> };
}

/** The channel's members as this broker's HTTP API lists them. */
export async function memberIds(broker: TestBroker<never>, channel: string): Promise<string[]> {
  const response = await fetch(`${broker.httpUrl}/channels/${channel}/members`, { headers: { authorization: 'Bearer observer' } });
  return ((await response.json()) as { members: Array<{ id: string }> }).members.map((member) => member.id).sort();
}

/** Until this broker lists exactly `expected` (bounded). */
export async function untilMembers(broker: TestBroker<never>, channel: string, expected: string[], what: string): Promise<void> {
  let seen: string[] = [];
  const wanted = JSON.stringify([...expected].sort());
  await until(async () => JSON.stringify((seen = await memberIds(broker, channel))) === wanted, what, WAIT).catch(() => {
    throw new Error(`${what}: members ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`);
  });
}

/** The member_added / member_removed frames a raw client received, as `type:id`. */
export const memberChanges = (client: RawClient): string[] =>
  client.received.filter((frame) => frame['type'] === 'member_added' || frame['type'] === 'member_removed').map((frame) => `${frame['type']}:${(frame['member'] as { id: string }).id}`);
