// What the cluster tests share, whatever the engine: waiting for a route to
// exist across brokers (subscriptions spread asynchronously), joining a
// presence channel with a raw client, and reading a channel's members.
import type { EventChannel } from '@eventwire/event-channel';
import * as assert from 'uvu/assert';
import { RawClient, until, type TestBroker } from './helpers.js';

const WAIT = 5000;

/**
 * Emits `probe` from `publisher` until `seen()` says it arrived: the
 * subscription behind it has reached every server on the way (bounded).
 */
export async function awaitRoute(publisher: EventChannel, probe: string, seen: () => boolean): Promise<void> {
  const deadline = Date.now() + WAIT;
  while (!seen()) {
    if (Date.now() > deadline) throw new Error(`no route for ${probe} within ${WAIT} ms`);
    await publisher.emit(probe, { probe: true }, { ack: true });
    await until(seen, 'the probe', 50).catch(() => {});
  }
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
  const deadline = Date.now() + WAIT;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    seen = await memberIds(broker, channel);
    if (JSON.stringify(seen) === JSON.stringify([...expected].sort())) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${what}: members ${JSON.stringify(seen)}, expected ${JSON.stringify(expected)}`);
}

/** The member_added / member_removed frames a raw client received, as `type:id`. */
export const memberChanges = (client: RawClient): string[] =>
  client.received.filter((frame) => frame['type'] === 'member_added' || frame['type'] === 'member_removed').map((frame) => `${frame['type']}:${(frame['member'] as { id: string }).id}`);
