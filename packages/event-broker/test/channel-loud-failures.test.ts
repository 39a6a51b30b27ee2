// A channel that cannot reach its broker says why: the status's reason, the
// error's cause, onError, and ready({ within }) — against real sockets (a port
// nobody listens on, an unresolvable name, TLS against a plain port, a broker
// refusing the credentials). And a gap nobody listens for is not silent.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, EventwireError, type ChannelStatus } from '@eventwire/event-channel';
import { createJwtAuthenticator } from '../src/index.js';
import { freePort } from '../../../scripts/testing/server-process.js';
import { startBroker, until, within } from './helpers.js';

const test = suite('channel loud failures');
type Reconnecting = Extract<ChannelStatus, { state: 'reconnecting' }>;

/** The first `reconnecting` status whose reason is set, bounded. */
function nextFailure(channel: EventChannel): Promise<Reconnecting> {
  return within(
    new Promise<Reconnecting>((resolve) => {
      const off = channel.onStatus((status) => {
        if (status.state !== 'reconnecting') return;
        off();
        resolve(status);
      });
    }),
    10_000,
    'a reconnecting status',
  );
}

/** The Node error code at the end of `error`'s cause chain. */
function rootCode(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && current.cause !== undefined) current = current.cause;
  return (current as { code?: unknown }).code;
}

test('a port nobody listens on: reason refused, the socket error kept, said once through onError however many attempts', async () => {
  const url = `ws://127.0.0.1:${await freePort()}`;
  const errors: EventwireError[] = [];
  const channel = new EventChannel({ url, ws: { backoff: () => 5 }, onError: (error) => errors.push(error) });
  try {
    const status = await nextFailure(channel);
    assert.is(status.reason, 'refused');
    assert.is(status.error?.code, 'connection_closed');
    assert.is(rootCode(status.error), 'ECONNREFUSED');
    await until(() => channel.status.state === 'reconnecting' && channel.status.attempt >= 4, 'four attempts');
    assert.equal(errors.map((error) => error.code), ['connection_closed']);
  } finally {
    await channel.close();
  }
});

test('ready({ within }) on an unreachable broker rejects with timeout after the bound, the refusal as its cause', async () => {
  const channel = new EventChannel({ url: `ws://127.0.0.1:${await freePort()}`, ws: { backoff: () => 5 }, onError: () => {} });
  try {
    const started = Date.now();
    const error = await within(
      channel.ready({ within: 300 }).then(
        (): never => {
        throw new Error('ready resolved');
      },
        (failure: unknown) => failure,
      ),
      5000,
      'ready to reject',
    );
    assert.instance(error, EventwireError);
    assert.is((error as EventwireError).code, 'timeout');
    assert.ok(Date.now() - started >= 290, 'not before the bound');
    const cause = (error as EventwireError).cause;
    assert.instance(cause, EventwireError);
    assert.is((cause as EventwireError).code, 'connection_closed');
    assert.is(rootCode(error), 'ECONNREFUSED');
  } finally {
    await channel.close();
  }
});

test('an unresolvable host name: reason dns', async () => {
  const channel = new EventChannel({ url: 'ws://nonexistent.invalid:15500', ws: { backoff: () => 50 }, onError: () => {} });
  try {
    const status = await nextFailure(channel);
    assert.is(status.reason, 'dns');
    assert.ok(['ENOTFOUND', 'EAI_AGAIN'].includes(String(rootCode(status.error))), String(rootCode(status.error)));
  } finally {
    await channel.close();
  }
});

test('wss:// against a plain port: reason tls', async () => {
  await using server = await startBroker();
  const channel = new EventChannel({ url: server.url.replace(/^ws:/, 'wss:'), ws: { backoff: () => 50 }, onError: () => {} });
  try {
    const status = await nextFailure(channel);
    assert.is(status.reason, 'tls');
  } finally {
    await channel.close();
  }
});

test('a broker refusing the credentials: closed with reason unauthorized; ready rejects channel_closed with the refusal as cause', async () => {
  await using server = await startBroker({ authenticate: createJwtAuthenticator({ secret: 'a-secret-of-at-least-32-characters!!' }) });
  const errors: EventwireError[] = [];
  const channel = new EventChannel({ url: server.url, ws: { backoff: () => 5, token: 'not-a-jwt' }, onError: (error) => errors.push(error) });
  const closed = new Promise<ChannelStatus>((resolve) => channel.onStatus((status) => status.state === 'closed' && resolve(status)));
  const error = await within(
    channel.ready({ within: 5000 }).then(
      (): never => {
        throw new Error('ready resolved');
      },
      (failure: unknown) => failure as EventwireError,
    ),
    10_000,
    'ready to reject',
  );
  assert.is(error.code, 'channel_closed');
  assert.is((error.cause as EventwireError).code, 'unauthorized');
  const status = await within(closed, 5000, 'closed');
  assert.is(status.state === 'closed' && status.reason, 'unauthorized');
  assert.ok(errors.some((reported) => reported.code === 'unauthorized'));
});

test('a gap with no onGap listener is reported through onError, once per pattern; an onGap listener silences it', async () => {
  await using server = await startBroker();
  const errors: EventwireError[] = [];
  const channel = new EventChannel({ url: server.url, onError: (error) => errors.push(error) });
  const heard = new EventChannel({ url: server.url, onError: (error) => errors.push(error) });
  try {
    await channel.on('gap.a', () => {}, { since: 'earliest' }).ready;
    await channel.on('gap.a', () => {}, { since: 'earliest' }).ready;
    await channel.on('gap.b', () => {}, { since: 'earliest' }).ready;
    await until(() => channel.stats().gaps === 3, 'three gaps');
    assert.equal(errors.map((error) => error.code), ['gap', 'gap']);
    heard.onGap(() => {});
    await heard.on('gap.c', () => {}, { since: 'earliest' }).ready;
    await until(() => heard.stats().gaps === 1, 'a heard gap');
    assert.is(errors.length, 2);
  } finally {
    await channel.close();
    await heard.close();
  }
});

test.run();
