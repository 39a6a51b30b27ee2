// createTransport: a URL's scheme picks the transport from one table, and the
// option bag under that transport's key reaches it. Nothing connects here
// (a transport opens only on connect), so no server is needed.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, MemoryHub, createTransport, type EventwireError } from '../src/index.js';

const test = suite('createTransport');

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    return (error as EventwireError).code;
  }
  return undefined;
};

test('each scheme picks its transport (case-insensitive, as URLs are)', () => {
  const cases: [string, string][] = [
    ['memory://resolve-test', 'memory'],
    ['ws://localhost:15500', 'ws'],
    ['wss://broker.example', 'ws'],
    ['WS://localhost:15500', 'ws'],
    ['nats://localhost:4222', 'nats'],
    ['nats://a:4222,b:4222', 'nats'],
    ['NATS://localhost:4222', 'nats'],
    ['redis://localhost:6379', 'redis'],
    ['rediss://localhost:6380', 'redis'],
    ['postgres://app@db/shop', 'postgres'],
    ['postgresql://app@db/shop', 'postgres'],
  ];
  for (const [url, kind] of cases) assert.is(createTransport(url).kind, kind, url);
  assert.is(createTransport(['ws://a:1', 'wss://b:2']).kind, 'ws');
  assert.is(createTransport(['nats://a:4222', 'nats://b:4222']).kind, 'nats');
});

test('the memoryHub option is the hub memory:// attaches to, and the URL names the bus', async () => {
  const hub = new MemoryHub();
  const channel = new EventChannel({ url: 'memory://shop/eu/', memoryHub: hub });
  await channel.ready();
  assert.equal(hub.busNames(), ['shop/eu']);
  await channel.close();
  const bare = new EventChannel({ url: 'memory://', memoryHub: hub });
  await bare.ready();
  assert.equal(hub.busNames(), ['default']);
  await bare.close();
});

test('bad URLs and lists get typed errors', () => {
  assert.is(codeOf(() => createTransport([])), 'invalid_url');
  assert.is(codeOf(() => createTransport('carrier-pigeon://x')), 'unsupported_transport');
  assert.is(codeOf(() => createTransport('not a url')), 'invalid_url');
  assert.is(codeOf(() => createTransport('redis://[bad')), 'invalid_url');
  assert.is(codeOf(() => createTransport('ws://[bad')), 'invalid_url');
  // Only ws:// and nats:// take several servers; a list never mixes transports.
  assert.is(codeOf(() => createTransport(['redis://a:6379', 'redis://b:6379'])), 'invalid_url');
  assert.is(codeOf(() => createTransport(['memory://a', 'memory://b'])), 'invalid_url');
  assert.is(codeOf(() => createTransport(['carrier-pigeon://a', 'carrier-pigeon://b'])), 'invalid_url');
  assert.is(codeOf(() => createTransport(['ws://a:1', 'nats://b:4222'])), 'invalid_url');
  assert.is(codeOf(() => createTransport(['nats://a:4222', 'redis://b:6379'])), 'invalid_url');
});

test.run();
