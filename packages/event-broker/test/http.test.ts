// The HTTP side of the broker: every answer is JSON with a stable code, bad
// input is the client's 4xx (never a 500), WebSocket paths say how to connect.
import fc from 'fast-check';
import { request } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { defineEvents } from '@eventwire/event-channel';
import { startBroker, type TestBroker } from './helpers.js';

const shop = defineEvents({ 'order.created': z.object({ id: z.string(), total: z.number() }) });
const test = suite<{ server: TestBroker<typeof shop> }>('HTTP API');

test.before(async (context) => {
  context.server = await startBroker({ events: shop, allowUnknownTopics: true, maxPayloadBytes: 4096 });
});
test.after(async (context) => {
  await context.server.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: { error?: { code: string; message: string; topic?: string; issues?: Array<{ message: string; path?: unknown[] }> } } & Record<string, unknown>;
}

/** A raw HTTP request: the path goes on the wire exactly as given (fetch would normalise it). */
function send(server: TestBroker<typeof shop>, method: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    const outgoing = request({ host: '127.0.0.1', port: server.port, method, path, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        try {
          resolve({ status: response.statusCode ?? 0, headers: response.headers, json: JSON.parse(text) });
        } catch {
          reject(new Error(`${method} ${path}: not JSON (${response.statusCode}): ${text.slice(0, 200)}`));
        }
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

test('a plain GET on a WebSocket path answers 426 with Upgrade: websocket and says how to connect', async ({ server }) => {
  for (const [path, hint] of [['/', /EventChannel/], ['/ws', /ws:\/\/127\.0\.0\.1:\d+\/ws/], ['/pubsub/ws', /\/pubsub\/ws\?topics=/], ['/pubsub/ws?topics=a.b', /\/pubsub\/ws\?topics=/]] as const) {
    const answer = await send(server, 'GET', path);
    assert.is(answer.status, 426, path);
    assert.is(answer.headers['upgrade'], 'websocket');
    assert.is(answer.json.error?.code, 'upgrade_required');
    assert.match(answer.json.error!.message, hint);
  }
});

test('malformed percent-encoding in a path is a 400 invalid_url, on every route', async ({ server }) => {
  for (const [method, path] of [
    ['GET', '/pubsub/%ZZ/info'],
    ['POST', '/pubsub/%E0%A4%A/publish'],
    ['GET', '/pubsub/%/info'],
  ] as const) {
    const answer = await send(server, method, path, method === 'POST' ? '{"payload":1}' : undefined);
    assert.is(answer.status, 400, path);
    assert.is(answer.json.error?.code, 'invalid_url', path);
  }
});

test('a path that looks like an authority (//host/…) stays a path', async ({ server }) => {
  const answer = await send(server, 'GET', '//health');
  assert.is(answer.status, 404);
  assert.is(answer.json.error?.code, 'not_found');
  assert.match(answer.json.error!.message, /\/\/health/);
});

test('a payload failing its schema answers 400 with the issues: which field, and why', async ({ server }) => {
  const answer = await send(server, 'POST', '/pubsub/order.created/publish', JSON.stringify({ payload: { id: 'o1', total: 'lots' } }));
  assert.is(answer.status, 400);
  assert.is(answer.json.error?.code, 'invalid_payload');
  assert.is(answer.json.error?.topic, 'order.created');
  assert.equal(answer.json.error?.issues?.map((issue) => issue.path), [['total']]);
});

test('a request Node cannot parse still gets a JSON error with a code', async ({ server }) => {
  const { connect } = await import('node:net');
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.end('NOT A REQUEST\r\n\r\n'));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*\r\n\r\n\{"error":\{"code":"invalid_frame"/);
});

// Hostile requests: random methods, paths (with %-escapes, dots, slashes,
// unicode) and bodies. Every answer is JSON with a known code and a status
// below 500, and the broker keeps answering.
const pathPart = fc.oneof(
  fc.constantFrom('pubsub', 'publish', 'info', 'stats', 'topics', 'health', 'ws', 'api', 'v1', 'command', 'stream', 'subscribe', 'unsubscribe', '%', '%ZZ', '%E0%A4%A', '%2F', '..', '.', '', '#', '*', 'a.b', '__proto__'),
  fc.string({ maxLength: 12 }).map((text) => encodeURIComponent(text)),
  fc.string({ unit: 'binary', maxLength: 6 }).map((text) => encodeURI(text).replace(/%25/g, '%')),
);
const path = fc.array(pathPart, { minLength: 0, maxLength: 5 }).map((parts) => `/${parts.join('/')}`);
const commandBody = fc
  .record(
    {
      command: fc.oneof(fc.constantFrom('pubsub.publish', 'pubsub.subscribe', 'pubsub.unsubscribe', 'pubsub.info', 'pubsub.stats', 'pubsub.topics', 'kv.set'), fc.string({ maxLength: 10 })),
      request_id: fc.oneof(fc.uuid(), fc.jsonValue({ maxDepth: 1 })),
      payload: fc.oneof(
        fc.record({ topic: fc.oneof(fc.constantFrom('a.b', '', 'a.*', 'a..b'), fc.string({ maxLength: 8 })), payload: fc.jsonValue({ maxDepth: 2 }), topics: fc.jsonValue({ maxDepth: 1 }), subscriber_id: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] }),
        fc.jsonValue({ maxDepth: 2 }),
      ),
    },
    { requiredKeys: [] },
  )
  .map((value) => JSON.stringify(value));
const body = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)), commandBody);

test('fuzz: any method, path and body gets a JSON answer with a stable code and no 5xx', async ({ server }) => {
  await fc.assert(
    fc.asyncProperty(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), fc.oneof(path, fc.constantFrom('/api/v1/command', '/api/stream', '/pubsub/subscribe')), body, async (method, target, payload) => {
      const answer = await send(server, method, target, payload);
      assert.ok(answer.status < 500, `${method} ${target} → ${answer.status} ${JSON.stringify(answer.json)}`);
      // REST errors are { error: { code } }; Synap's command API answers { success: false, error, code }.
      const error: unknown = answer.json.error;
      if (answer.status >= 400) assert.type(typeof error === 'string' ? answer.json['code'] : answer.json.error?.code, 'string');
    }),
    { numRuns: 300 },
  );
  const health = await send(server, 'GET', '/health');
  assert.is(health.status, 200);
});

test.run();
