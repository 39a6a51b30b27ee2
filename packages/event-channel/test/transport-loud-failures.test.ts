// A channel over nats://, redis:// or postgres:// that cannot reach its
// server says why, as ws:// does (event-broker/test/channel-loud-failures):
// the status's reason (refused, dns, unauthorized), the transport's own
// error kept as the cause, and ready({ within }) rejecting with that cause.
// One case table, run against each transport's real server: nothing
// listening, a name under .invalid, and a server refusing the credentials.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../../../scripts/testing/server-process.js';
import { natsServerAvailable, startNatsServer } from '../../../scripts/testing/nats-server.js';
import { redisServerAvailable, startRedisServer } from '../../../scripts/testing/redis-server.js';
import { postgresAvailable, startPostgres } from '../../../scripts/testing/postgres-server.js';
import { EventChannel, EventwireError, type EventChannelOptions, type UntypedEvents, type ChannelStatus, type DisconnectReason } from '../src/index.js';
import { within } from './helpers.js';

const test = suite('transport loud failures');
type Failed = Extract<ChannelStatus, { state: 'reconnecting' | 'closed' }>;

interface Target {
  /** The URL to connect to. */
  readonly url: string;
  /** Stops the server the case started, if any. */
  readonly stop?: () => Promise<void>;
}

interface TransportCase {
  readonly name: string;
  readonly available: () => boolean;
  /** Quick retries, but not a flood: a resolver asked for a .invalid name a hundred times at once stalls for seconds. */
  readonly options: (url: string, onError: (error: EventwireError) => void) => EventChannelOptions<UntypedEvents>;
  /** A URL on a port nobody listens on. */
  readonly refused: () => Promise<Target>;
  readonly dns: () => Promise<Target>;
  /** A running server that wants credentials, and a URL giving the wrong ones. */
  readonly wrongCredentials: () => Promise<Target>;
}

const fast = () => 50;
const transports: readonly TransportCase[] = [
  {
    name: 'nats',
    available: natsServerAvailable,
    options: (url, onError) => ({ url, nats: { backoff: fast, reconnectTimeWaitMs: 50 }, onError }),
    refused: async () => ({ url: `nats://127.0.0.1:${await freePort()}` }),
    dns: async () => ({ url: 'nats://nonexistent.invalid:4222' }),
    wrongCredentials: async () => {
      const server = await startNatsServer({ auth: { user: 'app', password: 'right' } });
      return { url: `nats://app:wrong@127.0.0.1:${server.port}`, stop: () => server.stop() };
    },
  },
  {
    name: 'redis',
    available: redisServerAvailable,
    options: (url, onError) => ({ url, redis: { backoff: fast }, onError }),
    refused: async () => ({ url: `redis://127.0.0.1:${await freePort()}` }),
    dns: async () => ({ url: 'redis://nonexistent.invalid:6379' }),
    wrongCredentials: async () => {
      const server = await startRedisServer({ password: 'right' });
      return { url: `redis://:wrong@127.0.0.1:${server.port}`, stop: () => server.stop() };
    },
  },
  {
    name: 'postgres',
    available: postgresAvailable,
    options: (url, onError) => ({ url, postgres: { backoff: fast }, onError }),
    refused: async () => ({ url: `postgres://eventwire@127.0.0.1:${await freePort()}/postgres` }),
    dns: async () => ({ url: 'postgres://eventwire@nonexistent.invalid:5432/postgres' }),
    wrongCredentials: async () => {
      const server = await startPostgres({ password: 'right' });
      return { url: `postgres://eventwire:wrong@127.0.0.1:${server.port}/postgres`, stop: () => server.stop() };
    },
  },
];

/** The first status that reports a failure (reconnecting, or closed by a transport that gave up), bounded. */
function firstFailure(channel: EventChannel): Promise<Failed> {
  return within(
    new Promise<Failed>((resolve) => {
      const check = (status: ChannelStatus): boolean => {
        if ((status.state !== 'reconnecting' && status.state !== 'closed') || status.error === undefined) return false;
        resolve(status);
        return true;
      };
      if (check(channel.status)) return;
      const off = channel.onStatus((status) => {
        if (check(status)) off();
      });
    }),
    10_000,
    'a failure status',
  );
}

/** What `ready({ within })` rejected with (it must reject). */
async function readyFailure(channel: EventChannel, ms: number): Promise<EventwireError> {
  const outcome = await within(
    channel.ready({ within: ms }).then(
      () => undefined,
      (error: unknown) => error,
    ),
    10_000,
    'ready to settle',
  );
  assert.instance(outcome, EventwireError, 'ready rejected with an EventwireError');
  return outcome as EventwireError;
}

/** Every error in a cause chain, outermost first. */
function chain(error: unknown): unknown[] {
  const found: unknown[] = [];
  for (let current = error; current !== undefined && found.length < 10; current = (current as { cause?: unknown }).cause) found.push(current);
  return found;
}

const nodeCodes = (error: unknown): unknown[] => chain(error).map((each) => (each as { code?: unknown }).code);

for (const transport of transports) {
  const cases: ReadonlyArray<readonly [string, () => Promise<Target>, DisconnectReason, string | undefined]> = [
    ['nothing listening', transport.refused, 'refused', 'ECONNREFUSED'],
    ['an unresolvable host (.invalid)', transport.dns, 'dns', 'ENOTFOUND'],
    ['wrong credentials', transport.wrongCredentials, 'unauthorized', undefined],
  ];
  for (const [what, target, reason, nodeCode] of cases) {
    test(`${transport.name}: ${what} — status.reason ${reason}, the transport's error as cause, ready({ within }) rejects with it`, async () => {
      if (!transport.available()) return;
      const { url, stop } = await target();
      const errors: EventwireError[] = [];
      const channel = new EventChannel(transport.options(url, (error) => errors.push(error)));
      try {
        const status = await firstFailure(channel);
        assert.is(status.reason, reason, `${status.state}: ${status.error?.code} ${status.error?.message}`);
        if (nodeCode) assert.ok(nodeCodes(status.error).includes(nodeCode), `${nodeCode} in the cause chain: ${nodeCodes(status.error).join(' < ')}`);
        // onError heard it too: the same failure, not a silent retry loop.
        assert.ok(errors.length >= 1, 'onError called');
        assert.is(errors[0]!.code, status.error!.code);

        const error = await readyFailure(channel, 200);
        // Still retrying: a timeout whose cause is the last failure; given up: channel_closed with the reason as cause.
        assert.ok(error.code === 'timeout' || error.code === 'channel_closed', error.code);
        const cause = error.cause;
        assert.instance(cause, EventwireError, 'the failure is the cause');
        if (nodeCode) assert.ok(nodeCodes(error).includes(nodeCode), `${nodeCode} in ready's cause chain: ${nodeCodes(error).join(' < ')}`);
        else assert.ok(chain(error).some((each) => each instanceof EventwireError && each.code === reason), `${reason} in ready's cause chain`);
      } finally {
        await channel.close();
        await stop?.();
      }
    });
  }
}

test.run();
