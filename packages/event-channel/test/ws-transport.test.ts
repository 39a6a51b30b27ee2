// The ws:// transport's state machine against a scripted, in-process socket
// (the `WebSocket` option), so races can be played in an exact order.
// End-to-end behaviour against a real broker is in event-broker's tests.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel, WsTransport, type WebSocketLike } from '../src/index.js';
import { until, within } from './helpers.js';

/** A WebSocket whose events the test fires by hand. */
class ScriptedSocket implements WebSocketLike {
  static created: ScriptedSocket[] = [];
  readyState = 0;
  bufferedAmount = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: string[] = [];
  closeRequested: number | undefined;

  constructor(readonly url: string) {
    ScriptedSocket.created.push(this);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(code?: number): void {
    this.closeRequested = code ?? 1000;
    this.readyState = 2;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  closed(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

const welcome = { type: 'welcome', protocol: 1, connectionId: 'c1', heartbeatMs: 0, maxPayloadBytes: 1024 };
const test = suite('ws transport (scripted socket)');

test.before.each(() => {
  ScriptedSocket.created = [];
});

test('a welcome that arrives after close() began does not reopen: close resolves, no reconnect', async () => {
  const transport = new WsTransport({ url: 'ws://scripted', WebSocket: ScriptedSocket, backoff: () => 0, closeTimeoutMs: 50 });
  const channel = new EventChannel({ transport });
  await until(() => ScriptedSocket.created.length > 0, 'a socket');
  const socket = ScriptedSocket.created[0]!;
  socket.open(); // connected, hello sent, no welcome yet: state "connecting"
  assert.match(socket.sent[0]!, /"type":"hello"/);
  const closing = channel.close();
  await until(() => socket.closeRequested !== undefined, 'close() to close the socket');
  socket.receive(welcome); // was already on the wire
  socket.closed(1000); // the closing handshake completes
  await within(closing, 1000, 'close() to resolve');
  assert.equal(channel.status, { state: 'closed' });
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.is(ScriptedSocket.created.length, 1, 'no reconnect after close');
});

test('a normal handshake: welcome makes the transport open', async () => {
  const transport = new WsTransport({ url: 'ws://scripted', WebSocket: ScriptedSocket, backoff: () => 0, closeTimeoutMs: 50 });
  const channel = new EventChannel({ transport });
  await until(() => ScriptedSocket.created.length > 0, 'a socket');
  const socket = ScriptedSocket.created[0]!;
  socket.open();
  socket.receive(welcome);
  await within(channel.ready(), 1000, 'open');
  const closing = channel.close();
  await until(() => socket.closeRequested !== undefined, 'the socket close');
  socket.closed(1000);
  await within(closing, 1000, 'close');
});

/** The token of the first hello sent on `socket` (undefined when it carried none). */
async function helloToken(socket: ScriptedSocket): Promise<string | undefined> {
  socket.open();
  await until(() => socket.sent.length > 0, 'a hello');
  const hello = JSON.parse(socket.sent[0]!) as { type: string; token?: string };
  assert.is(hello.type, 'hello');
  return hello.token;
}

async function firstSocket(): Promise<ScriptedSocket> {
  await until(() => ScriptedSocket.created.length > 0, 'a socket');
  return ScriptedSocket.created[0]!;
}

test('credentials: getToken is asked for the hello; a fixed token goes as is', async () => {
  const asked = new WsTransport({ url: 'ws://scripted', WebSocket: ScriptedSocket, getToken: async () => 'fresh-1', closeTimeoutMs: 50 });
  const channel = new EventChannel({ transport: asked });
  assert.is(await helloToken(await firstSocket()), 'fresh-1');
  assert.is(asked.tokensAsked, 1);
  await channel.close();

  ScriptedSocket.created = [];
  const fixed = new WsTransport({ url: 'ws://scripted', WebSocket: ScriptedSocket, token: 'api-key', closeTimeoutMs: 50 });
  const service = new EventChannel({ transport: fixed });
  assert.is(await helloToken(await firstSocket()), 'api-key');
  assert.is(fixed.tokensAsked, 0);
  await service.close();
});

test('credentials: ws.token as a function is the deprecated spelling of getToken, and still works', async () => {
  const legacy = new WsTransport({ url: 'ws://scripted', WebSocket: ScriptedSocket, token: () => 'legacy-1', closeTimeoutMs: 50 });
  const channel = new EventChannel({ transport: legacy });
  assert.is(await helloToken(await firstSocket()), 'legacy-1');
  assert.is(legacy.tokensAsked, 1);
  await channel.close();
});

test("credentials: a URL channel's getToken reaches the ws transport and wins over ws.token", async () => {
  const channel = new EventChannel({
    url: 'ws://scripted',
    ws: { WebSocket: ScriptedSocket, token: 'api-key', closeTimeoutMs: 50 },
    getToken: () => 'from-getToken',
  });
  assert.is(await helloToken(await firstSocket()), 'from-getToken');
  await channel.close();

  ScriptedSocket.created = [];
  const legacy = new EventChannel({ url: 'ws://scripted', ws: { WebSocket: ScriptedSocket, token: () => 'legacy-2', closeTimeoutMs: 50 } });
  assert.is(await helloToken(await firstSocket()), 'legacy-2');
  await legacy.close();
});

test.run();
