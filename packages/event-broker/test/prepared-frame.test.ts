// Event frames are built once per publish and written as raw bytes to every
// subscriber's socket. They must be byte-for-byte what `ws` itself would
// send, at every length encoding, and keep their order with the frames ws
// writes (acks, pongs) on the same socket.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ws from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { Connection } from '../src/connection.js';
import { TickFlusher, WsWire } from '../src/wire/ws-wire.js';
import { PreparedTextFrame } from '../src/prepared-frame.js';
import { RawClient, startBroker, within } from './helpers.js';

interface FrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}
// ws exports its frame builder (Sender.frame); @types/ws does not declare it.
const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } };

/** Texts whose UTF-8 length sits on each side of the 7-bit, 16-bit and 64-bit length encodings. */
const boundaryTexts = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000].flatMap((bytes) => [
  'a'.repeat(bytes),
  // Multi-byte characters: the frame length is in bytes, not UTF-16 units.
  bytes >= 4 ? `${'é'.repeat(Math.floor((bytes - 4) / 2))}${'a'.repeat((bytes - 4) % 2)}🙂` : 'a'.repeat(bytes),
]);

test('a prepared frame is exactly the frame ws builds for the same text', () => {
  for (const text of boundaryTexts) {
    const ours = new PreparedTextFrame(text).bytes;
    const theirs = Buffer.concat(Sender.frame(Buffer.from(text), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }));
    assert.ok(ours.equals(theirs), `frame for a ${Buffer.byteLength(text)}-byte text differs from ws's`);
  }
});

// Wrapped in an event frame, the texts land in each length encoding (not on
// its exact edge; the test above covers the edges).
test('native and Synap subscribers receive events of every frame length intact and in order with acks', async () => {
  const server = await startBroker({ maxPayloadBytes: 256 * 1024 });
  try {
    const native = await RawClient.native(server.url);
    native.send({ type: 'subscribe', id: 'sub', pattern: 'sizes.#' });
    await native.next((frame) => frame['type'] === 'ack');
    const synap = await RawClient.open(`${server.url}/pubsub/ws?topics=sizes.%23`);
    await synap.next((frame) => frame['type'] === 'connected');

    for (const [index, text] of boundaryTexts.entries()) {
      // The native client publishes to its own pattern: the broker writes the
      // event (prepared bytes) and then the ack (through ws) on its socket.
      native.send({
        type: 'publish',
        id: index,
        event: { id: `e${index}`, topic: 'sizes.check', source: 'test', time: new Date().toISOString(), data: { text } },
      });
      const event = await native.next((frame) => frame['type'] === 'event' || frame['type'] === 'ack');
      assert.is(event['type'], 'event', `frame ${index}: the ack overtook the event`);
      assert.is((event['event'] as { data: { text: string } }).data.text, text);
      const ack = await native.next();
      assert.equal([ack['type'], ack['id']], ['ack', index]);
      const message = await synap.next((frame) => frame['type'] === 'message');
      assert.is((message['payload'] as { text: string }).text, text);
    }
    native.close();
    synap.close();
  } finally {
    await server.stop();
  }
});

test('with permessage-deflate negotiated, prepared frames go through ws and keep their order', async () => {
  // The broker never enables compression; this guards the day it does. ws
  // deflates asynchronously and queues, so raw bytes would overtake 'first'.
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const accepted = new Promise<ws.WebSocket>((resolve) => server.once('connection', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
    const received: string[] = [];
    const both = new Promise<void>((resolve) =>
      client.on('message', (data) => {
        received.push(String(data));
        if (received.length === 2) resolve();
      }),
    );
    const socket = await accepted;
    assert.is.not(socket.extensions, '', 'compression was not negotiated');
    const connection = new Connection({
      id: 'c1',
      wire: new WsWire(socket),
      surface: 'native',
      remote: 'test',
      maxOutboundBytes: 1_048_576,
      slowConsumerMs: 1000,
      onSlow: () => {},
    });
    connection.send('first');
    connection.sendPrepared(new PreparedTextFrame('second'));
    await within(both, 2000, 'two messages');
    assert.equal(received, ['first', 'second']);
    client.close();
  } finally {
    for (const socket of server.clients) socket.terminate();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** Two plain ws connections accepted by a server of our own, each behind a WsWire sharing one TickFlusher. */
async function twoConnections(): Promise<{ connections: Connection[]; received: Promise<string[]>[]; stop(): Promise<void> }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const flusher = new TickFlusher();
  const connections: Connection[] = [];
  const received: Promise<string[]>[] = [];
  for (const id of ['c1', 'c2']) {
    const accepted = new Promise<ws.WebSocket>((resolve) => server.once('connection', resolve));
    const client = new WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
    const messages: string[] = [];
    received.push(
      new Promise((resolve) => {
        client.on('message', (data, isBinary) => messages.push(isBinary ? `binary:${String(data)}` : String(data)));
        client.on('close', (code) => resolve([...messages, `close:${code}`]));
      }),
    );
    const socket = await accepted;
    const wire = new WsWire(socket, flusher);
    connections.push(new Connection({ id, wire, surface: 'native', remote: 'test', maxOutboundBytes: 1_048_576, slowConsumerMs: 1000, onSlow: () => {} }));
  }
  return {
    connections,
    received,
    stop: async () => {
      for (const socket of server.clients) socket.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

test('prepared frames held for the tick keep their order with text, binary and close frames sent between them', async () => {
  const { connections, received, stop } = await twoConnections();
  try {
    const frames = ['p1', 'p2', 'p3', 'p4'].map((text) => new PreparedTextFrame(text));
    // One tick, as a read of several publishes gives: both connections get the
    // same prepared frames (a fan-out), with ws's own sends in between.
    for (const connection of connections) {
      connection.sendPrepared(frames[0]!);
      connection.sendPrepared(frames[1]!);
      connection.send('ack-1');
      connection.sendPrepared(frames[2]!);
      connection.sendBinary(Buffer.from('b'));
      connection.sendPrepared(frames[3]!);
      connection.close(4000, 'done', 1000);
    }
    const expected = ['p1', 'p2', 'ack-1', 'p3', 'binary:b', 'p4', 'close:4000'];
    for (const messages of received) assert.equal(await within(messages, 2000, 'the messages and the close'), expected);
  } finally {
    await stop();
  }
});

test("a flush joins a fan-out's frames once for every wire holding the same ones", () => {
  const flusher = new TickFlusher();
  const [a, b, c] = ['a', 'b', 'c'].map((text) => new PreparedTextFrame(text).bytes) as [Buffer, Buffer, Buffer];
  const first = flusher.join([a, b], a.length + b.length);
  assert.is(flusher.join([a, b], a.length + b.length), first, 'the same frames in the same order: the same Buffer');
  const other = flusher.join([a, c], a.length + c.length);
  assert.is.not(other, first, 'other frames: other bytes');
  assert.ok(other.equals(Buffer.concat([a, c])));
  assert.ok(flusher.join([b, a], a.length + b.length).equals(Buffer.concat([b, a])), 'the same frames in another order are joined in that order');
});

test.run();
