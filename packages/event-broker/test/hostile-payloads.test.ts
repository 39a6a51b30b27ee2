// Property (#37): a payload of any shape — nested thousands deep, tens of
// thousands of keys, long strings, lone surrogates, NULs, numbers past a
// double's range, __proto__ / constructor / prototype keys — published
// through every surface with subscribers present gets the same typed verdict
// on each (an ack, or invalid_payload: never `internal`, never a 5xx); every
// subscriber stays connected and gets the next ordinary event; what is
// accepted arrives unchanged; no prototype in the broker changes.
//
// To extend: a new surface is one more entry in `surfaces` (its publish,
// answering 'ok' or the refusal's code); a new hostile shape one more
// arbitrary in `piece` with the depth and finiteness it has.
import fc from 'fast-check';
import PusherServer from 'pusher';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { payloadLimitDefaults } from '@eventwire/event-channel';
import { createHash } from 'node:crypto';
import { signChannel } from '../src/index.js';
import { signRequest } from '../src/auth/pusher-signature.js';
import { pusherSocket, RawClient, startBroker, within, type TestBroker } from './helpers.js';

const test = suite('hostile payload shapes: one typed verdict on every surface');

const app = { id: 'fz-app', key: 'fz-key', secret: 'fz-secret-0123456789', maxClientEventsPerSecond: 1_000_000 };
const MAX_DEPTH = payloadLimitDefaults.maxDepth;

/** One payload as JSON text, and what an independent reading says of it. */
interface Payload {
  readonly text: string;
  /** Levels of nesting (a scalar is 0). */
  readonly depth: number;
  /** Every number in it survives parse → stringify (no ±Infinity). */
  readonly finite: boolean;
}

/** A payload that prints short in a counterexample (the text may be megabytes of brackets). */
function payloadOf(text: string, depth: number, finite: boolean): Payload {
  const summary = `${text.slice(0, 60)}${text.length > 60 ? '…' : ''} (${text.length} chars, depth ${depth}${finite ? '' : ', not finite'})`;
  return { text, depth, finite, [fc.toStringMethod]: () => summary } as Payload;
}

/** Depth of a small parsed value (recursive: only used on shapes a few levels deep). */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  let deepest = 0;
  for (const key of Object.keys(value)) deepest = Math.max(deepest, depthOf((value as Record<string, unknown>)[key]));
  return deepest + 1;
}

const deep = fc
  .record({ depth: fc.oneof(fc.constantFrom(MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 10_000), fc.integer({ min: 1, max: 20_000 })), array: fc.boolean() })
  .map(({ depth, array }) => payloadOf(array ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth), depth, true));
const wide = fc
  .integer({ min: 1000, max: 30_000 })
  .map((keys) => payloadOf(`{${Array.from({ length: keys }, (_, index) => `"k${index}":${index}`).join(',')}}`, 1, true));
const longString = fc.integer({ min: 1, max: 200_000 }).map((length) => payloadOf(JSON.stringify('x'.repeat(length)), 0, true));
const oddStrings = fc
  .constantFrom('"\\ud800"', '"a\\udc00b\\ud800"', '"\\u0000"', '"nul\\u0000in the middle"', '"\\uffff\\ufffe"', '"\\ud83d\\ude00"')
  .map((text) => payloadOf(text, 0, true));
const numbers = fc
  .constantFrom('1e400', '-1e400', '1e-400', '-0', '5e-324', '1.7976931348623157e308', '1.8e308', '123456789012345678901234567890', '0.1')
  .map((text) => payloadOf(text, 0, Number.isFinite(Number(text))));
const protoKeys = fc
  .constantFrom(
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"prototype":{"polluted":"yes"},"__proto__":[1]}',
    '[{"__proto__":null},{"toString":"x","hasOwnProperty":1}]',
  )
  .map((text) => payloadOf(text, depthOf(JSON.parse(text)), true));
const ordinary = fc.jsonValue({ maxDepth: 4 }).map((value) => payloadOf(JSON.stringify(value), depthOf(value), true));

const piece = fc.oneof(deep, wide, longString, oddStrings, numbers, protoKeys, ordinary);
/** A piece as it is, or inside an ordinary object or array (one level more). */
const payload = fc.tuple(piece, fc.constantFrom('bare', 'object', 'array')).map(([inner, wrap]): Payload => {
  if (wrap === 'bare') return inner;
  const text = wrap === 'object' ? `{"order":"o-1","inner":${inner.text}}` : `[1,"two",${inner.text}]`;
  return payloadOf(text, inner.depth + 1, inner.finite);
});

/** What the broker must answer for a payload, on every surface. */
function expected(payload: Payload): string {
  return payload.depth > MAX_DEPTH || !payload.finite ? 'invalid_payload' : 'ok';
}

interface Fixture {
  server: TestBroker<never>;
  publisher: RawClient;
  native: RawClient;
  synap: RawClient;
  broadcasting: RawClient;
  pusherSender: RawClient;
  pusherReceiver: RawClient;
  pusherApi: PusherServer;
}

/** A surface's publish of `text`: 'ok' when accepted, else the refusal's code. */
type Surface = (fixture: Fixture, text: string, round: string) => Promise<string>;

async function post(server: TestBroker<never>, path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${server.httpUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const json = (await response.json()) as Record<string, unknown>;
  assert.ok(response.status < 500, `${path} answered ${response.status}: ${JSON.stringify(json).slice(0, 300)}`);
  return { status: response.status, json };
}

const codeOf = (json: Record<string, unknown>): string => String((json['error'] as { code?: unknown } | undefined)?.code ?? json['code']);

/** Each surface and the topic its publishes go to (every one has subscribers). */
const surfaces: ReadonlyArray<{ name: string; topic: string; publish: Surface }> = [
  {
    name: 'native',
    topic: 'fz.native',
    publish: async ({ publisher }, text, round) => {
      const id = `p-${round}`;
      publisher.send(`{"type":"publish","id":"${id}","event":{"id":"${id}","topic":"fz.native","source":"fuzz","time":"${new Date().toISOString()}","data":${text}}}`);
      const answer = await publisher.next((frame) => frame['id'] === id, 10_000);
      return answer['type'] === 'ack' ? 'ok' : String(answer['code']);
    },
  },
  {
    name: 'synap REST',
    topic: 'fz.synap',
    publish: async ({ server }, text) => {
      const { status, json } = await post(server, '/pubsub/fz.synap/publish', `{"payload":${text}}`);
      return status === 200 ? 'ok' : codeOf(json);
    },
  },
  {
    name: 'synap command API',
    topic: 'fz.command',
    publish: async ({ server }, text, round) => {
      const { json } = await post(server, '/api/v1/command', `{"command":"pubsub.publish","request_id":"r-${round}","payload":{"topic":"fz.command","payload":${text}}}`);
      return json['success'] === true ? 'ok' : codeOf(json);
    },
  },
  {
    name: 'synap legacy stream',
    topic: 'fz.legacy',
    publish: async ({ server }, text) => {
      const { status, json } = await post(server, '/api/stream', `{"operation":"pubsub.publish","target":"fz.legacy","data":{"payload":${text}}}`);
      return status === 200 ? 'ok' : codeOf(json);
    },
  },
  {
    name: 'pusher HTTP API (pusher library)',
    topic: 'fz-pusher',
    publish: async ({ pusherApi }, text) => {
      try {
        // A string goes as it is: the event's data is this JSON text, as Pusher's protocol sends it.
        await pusherApi.trigger('fz-pusher', 'fuzz', text);
        return 'ok';
      } catch (error) {
        const { status, body } = error as { status?: number; body?: string };
        assert.ok(status !== undefined && status < 500, `pusher HTTP answered ${String(status)}: ${String(body).slice(0, 300)}`);
        return codeOf(JSON.parse(body!) as Record<string, unknown>);
      }
    },
  },
  {
    name: 'pusher HTTP API (batch, data as JSON)',
    topic: 'fz-batch',
    publish: async ({ server }, text) => {
      // Some clients send data as JSON, not a string: then it is not measured
      // from a string. A string payload goes as its JSON text (a string's
      // content is itself parsed as JSON on this surface).
      const data = text.startsWith('"') ? JSON.stringify(text) : text;
      const body = `{"batch":[{"name":"ordinary","channel":"fz-batch-other","data":"{}"},{"name":"fuzz","channel":"fz-batch","data":${data}}]}`;
      const path = `/apps/${app.id}/batch_events`;
      const query: Record<string, string> = {
        auth_key: app.key,
        auth_timestamp: String(Math.floor(Date.now() / 1000)),
        auth_version: '1.0',
        body_md5: createHash('md5').update(body).digest('hex'),
      };
      query['auth_signature'] = signRequest(app.secret, 'POST', path, query);
      const { status, json } = await post(server, `${path}?${new URLSearchParams(query)}`, body);
      return status === 200 ? 'ok' : codeOf(json);
    },
  },
  {
    name: 'pusher client event',
    topic: 'private-fz',
    publish: async ({ pusherSender }, text) => {
      const before = pusherSender.received.length;
      pusherSender.send(`{"event":"client-fuzz","channel":"private-fz","data":${JSON.stringify(text)}}`);
      // Frames are handled in order: an error for the event comes before the pong.
      pusherSender.send({ event: 'pusher:ping', data: {} });
      await pusherSender.next((frame) => frame['event'] === 'pusher:pong', 10_000);
      const error = pusherSender.received.slice(before).find((frame) => frame['event'] === 'pusher:error');
      return error ? String((error['data'] as { error_code?: unknown }).error_code) : 'ok';
    },
  },
  {
    name: 'server-side publish',
    topic: 'fz.api',
    publish: async ({ server }, text) => {
      try {
        await server.broker.publish('fz.api' as never, JSON.parse(text) as never);
        return 'ok';
      } catch (error) {
        return String((error as { code?: unknown }).code);
      }
    },
  },
];

/** Own properties of the prototypes a polluting payload would reach. */
function prototypes(): string {
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype]
    .map((prototype) => Object.getOwnPropertyNames(prototype).sort().join(','))
    .join('|');
}

async function pusherSubscribe(client: RawClient, socketId: string, channel: string): Promise<void> {
  const auth = channel.startsWith('private-') ? { auth: signChannel(app.key, app.secret, socketId, channel) } : {};
  client.send({ event: 'pusher:subscribe', data: { channel, ...auth } });
  await client.next((frame) => frame['event'] === 'pusher_internal:subscription_succeeded' && frame['channel'] === channel);
}

test('every surface answers a payload of any shape with the same typed verdict; subscribers stay and get the next event', async () => {
  const server = (await startBroker({ pusher: { apps: [app] } }, (broker) => {
    broker.channel('private-fz', () => true);
  })) as TestBroker<never>;
  const publisher = await RawClient.native(server.url);
  const native = await RawClient.native(server.url);
  for (const [index, pattern] of ['fz.#', 'fz-pusher', 'fz-batch', 'fz-batch-other', 'private-fz'].entries()) {
    native.send({ type: 'subscribe', id: `s${index}`, pattern });
    await native.next((frame) => frame['id'] === `s${index}` && frame['type'] === 'ack');
  }
  const synap = await RawClient.open(`${server.url}/pubsub/ws?topics=fz.%23`);
  await synap.next((frame) => frame['type'] === 'connected');
  const broadcasting = await RawClient.open(`${server.url}/api/v1/broadcasting/ws`);
  await broadcasting.next((frame) => frame['event'] === 'connected');
  broadcasting.send({ event: 'subscribe', channel: 'fz.#' });
  await broadcasting.next((frame) => frame['event'] === 'subscribed');
  const sender = await pusherSocket(server, app.key);
  await pusherSubscribe(sender.client, sender.socketId, 'private-fz');
  const receiver = await pusherSocket(server, app.key);
  for (const channel of ['private-fz', 'fz-pusher', 'fz-health']) await pusherSubscribe(receiver.client, receiver.socketId, channel);
  const fixture: Fixture = {
    server,
    publisher,
    native,
    synap,
    broadcasting,
    pusherSender: sender.client,
    pusherReceiver: receiver.client,
    pusherApi: new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(server.port), useTLS: false }),
  };
  const sockets = [publisher, native, synap, broadcasting, sender.client, receiver.client];
  const prototypesBefore = prototypes();
  // How many frames of each socket were looked at for `internal` already.
  const checked = sockets.map(() => 0);
  let round = 0;
  try {
    await fc.assert(
      fc.asyncProperty(payload, async (sent) => {
        round++;
        const want = expected(sent);
        const canonical = want === 'ok' ? JSON.stringify(JSON.parse(sent.text)) : undefined;
        const seenBefore = native.received.length;
        for (const surface of surfaces) {
          const verdict = await surface.publish(fixture, sent.text, String(round));
          assert.is(verdict, want, `${surface.name} on ${fc.stringify(sent)}`);
          if (canonical === undefined) continue;
          // Accepted: delivered, and unchanged (nothing lost, no number turned into null).
          const delivered = await native.next((frame) => frame['type'] === 'event' && (frame['event'] as { topic: string }).topic === surface.topic, 10_000);
          assert.ok(JSON.stringify((delivered['event'] as { data: unknown }).data) === canonical, `${surface.name}: the data arrived changed`);
        }
        // Frames that are not publishes carry the same text where a name or
        // list belongs: a typed refusal, and the socket stays (its pong comes back).
        native.send(`{"type":"subscribe","id":"x-${round}","pattern":${sent.text}}`);
        native.send(`{"type":"resume","id":"y-${round}","patterns":${sent.text},"since":"earliest"}`);
        native.send({ type: 'ping', id: `alive-${round}` });
        await native.next((frame) => frame['type'] === 'pong' && frame['id'] === `alive-${round}`, 10_000);
        sender.client.send(`{"event":"pusher:subscribe","data":${sent.text}}`);
        sender.client.send(`{"event":${sent.text},"data":{}}`);
        sender.client.send({ event: 'pusher:ping', data: {} });
        await sender.client.next((frame) => frame['event'] === 'pusher:pong', 10_000);
        synap.send(`{"type":${sent.text}}`);
        synap.send({ type: 'ping' });
        await synap.next((frame) => frame['type'] === 'pong', 10_000);
        broadcasting.send(`{"event":${sent.text},"channel":"fz.x"}`);
        broadcasting.send({ event: 'ping' });
        await broadcasting.next((frame) => frame['event'] === 'pong', 10_000);
        // The next ordinary event reaches every subscriber.
        publisher.send({ type: 'publish', id: `h-${round}`, event: { id: `h-${round}`, topic: 'fz.health', source: 'fuzz', time: new Date().toISOString(), data: { round } } });
        await publisher.next((frame) => frame['id'] === `h-${round}` && frame['type'] === 'ack', 10_000);
        const isHealth = (data: unknown): boolean => (data as { round?: unknown } | null)?.round === round;
        await native.next((frame) => frame['type'] === 'event' && isHealth((frame['event'] as { data: unknown }).data), 10_000);
        // A refused batch is refused whole: its ordinary first event was not published either.
        const batchedBeside = native.received.slice(seenBefore).filter((frame) => (frame['event'] as { topic?: unknown } | undefined)?.topic === 'fz-batch-other');
        assert.is(batchedBeside.length, want === 'ok' ? 1 : 0, 'the batch is published whole or not at all');
        await synap.next((frame) => frame['type'] === 'message' && frame['topic'] === 'fz.health' && isHealth(frame['payload']), 10_000);
        await broadcasting.next((frame) => frame['channel'] === 'fz.health' && isHealth(frame['data']), 10_000);
        await server.broker.publish('fz-health' as never, { round } as never);
        await receiver.client.next((frame) => frame['channel'] === 'fz-health' && isHealth(JSON.parse(frame['data'] as string)), 10_000);
        for (const socket of sockets) assert.is(socket.socket.readyState, socket.socket.OPEN, 'every connection is still open');
        // Never `internal`, on any socket or in what the broker reported.
        for (const [index, socket] of sockets.entries()) {
          for (const frame of socket.received.slice(checked[index])) {
            const failure = (frame['event'] === 'pusher:error' ? frame['data'] : frame) as { code?: unknown; error_code?: unknown };
            assert.is.not(failure.code === 'internal' || failure.error_code === 'internal', true, `internal escaped to a client: ${JSON.stringify(frame).slice(0, 300)}`);
          }
          checked[index] = socket.received.length;
        }
        assert.equal(server.errors.filter((error) => error.code === 'internal'), [], 'the broker reported no internal error');
        assert.is(prototypes(), prototypesBefore, 'no prototype changed');
        assert.is(({} as { polluted?: unknown }).polluted, undefined);
      }),
      {
        numRuns: 30,
        includeErrorInReport: true,
        seed: 37,
        // The issue's own cases, always run first.
        examples: [
          [payloadOf('['.repeat(10_000) + ']'.repeat(10_000), 10_000, true)],
          [payloadOf('{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000), 10_000, true)],
          [payloadOf('{"n":1e400}', 1, false)],
        ],
      },
    );
  } finally {
    for (const socket of sockets) socket.close();
    await within(server.stop(), 10_000, 'the broker to stop');
  }
});

test.run();
