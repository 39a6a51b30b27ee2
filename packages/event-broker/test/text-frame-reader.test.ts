// The wire reads complete text frames itself (wire/text-frame-reader.ts) and
// leaves everything else to ws's Receiver. Property: for any byte stream a
// client can send, split at any chunk boundaries, a WsWire server sees the
// same messages, answers the same pings, reports the same errors and closes
// with the same code as a plain ws server with the broker's options.
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer, type WebSocket } from 'ws';
import { brokerDefaults } from '../src/options.js';
import { readTextFrames } from '../src/wire/text-frame-reader.js';
import { WsWire } from '../src/wire/ws-wire.js';
import { within } from './helpers.js';

const test = suite('text frame reader');

/** What a server did with one client's bytes. */
interface Seen {
  messages: string[];
  errors: string[];
  closeCode: number | undefined;
  /** Frames the server sent back (pongs, its close frame), as `opcode:payload hex`. */
  replies: string[];
}

interface Accepted {
  socket: Socket;
  seen: Seen;
  closed: Promise<void>;
  /** Messages that came through ws's 'message' event rather than the fast path. */
  viaWs: () => number;
}

/** A ws server with the broker's options; `wire` puts each connection behind a WsWire as the broker does. */
async function startServer(maxPayload: number, wire: boolean) {
  const server = new WebSocketServer({ port: 0, maxPayload, perMessageDeflate: false });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const waiting: ((accepted: Accepted) => void)[] = [];
  server.on('connection', (ws: WebSocket) => {
    const seen: Seen = { messages: [], errors: [], closeCode: undefined, replies: [] };
    let viaWs = 0;
    let closed!: () => void;
    const closedPromise = new Promise<void>((resolve) => (closed = resolve));
    const record = (data: Buffer, binary: boolean) => seen.messages.push(describe(data, binary));
    if (wire) {
      ws.on('message', () => viaWs++);
      new WsWire(ws).listen({
        message: record,
        alive() {},
        drained() {},
        error: (error) => seen.errors.push(String((error as { code?: unknown }).code)),
        closed: (code) => {
          seen.closeCode = code;
          closed();
        },
      });
    } else {
      ws.on('message', (data, binary) => record(data as Buffer, binary));
      ws.on('error', (error) => seen.errors.push(String((error as { code?: unknown }).code)));
      ws.on('close', (code) => {
        seen.closeCode = code;
        closed();
      });
    }
    const socket = (ws as unknown as { _socket: Socket })._socket;
    waiting.shift()!({ socket, seen, closed: closedPromise, viaWs: () => viaWs });
  });
  return {
    port: (server.address() as AddressInfo).port,
    next: () => new Promise<Accepted>((resolve) => waiting.push(resolve)),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
type Server = Awaited<ReturnType<typeof startServer>>;

function describe(data: Buffer, binary: boolean): string {
  const bytes = data.length <= 64 ? data.toString('hex') : `${data.length}:${createHash('sha1').update(data).digest('hex')}`;
  return `${binary ? 'binary' : 'text'} ${bytes}`;
}

/** Polls `condition` every turn of the event loop (no timer), up to a deadline. */
async function turnsUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Opens a raw TCP connection, upgrades it, writes `chunks` one at a time
 * (each read by the server before the next is sent, so the server sees these
 * boundaries), half-closes, and returns what the server saw once it closed.
 */
async function feed(server: Server, chunks: readonly Buffer[]): Promise<{ seen: Seen; viaWs: number }> {
  const accepted = server.next();
  const client = connect(server.port, '127.0.0.1');
  client.setNoDelay(true);
  client.on('error', () => {}); // the server may drop the connection while we still write
  const received: Buffer[] = [];
  const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  let upgraded!: () => void;
  const upgradedPromise = new Promise<void>((resolve) => (upgraded = resolve));
  let head: Buffer | undefined = Buffer.alloc(0);
  client.on('data', (data: Buffer) => {
    if (head) {
      head = Buffer.concat([head, data]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      assert.match(head.toString('latin1', 0, 12), /^HTTP\/1\.1 101/);
      if (head.length > end + 4) received.push(head.subarray(end + 4));
      head = undefined;
      upgraded();
      return;
    }
    received.push(data);
  });
  client.on('end', () => client.end());
  client.write(
    'GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const { socket, seen, closed, viaWs } = await within(accepted, 5_000, 'the upgrade');
  await within(upgradedPromise, 5_000, 'the 101');
  const base = socket.bytesRead;
  let sent = 0;
  for (const chunk of chunks) {
    if (socket.destroyed || socket.readableEnded) break;
    client.write(chunk);
    sent += chunk.length;
    await turnsUntil(() => socket.bytesRead >= base + sent || socket.destroyed || socket.readableEnded, 'the server to read a chunk');
  }
  client.end();
  await within(closed, 5_000, 'the server to close');
  await within(clientClosed, 5_000, 'the client to close');
  seen.replies = serverFrames(Buffer.concat(received));
  return { seen, viaWs: viaWs() };
}

/** The frames a server sent (unmasked), as `opcode:payload hex`. */
function serverFrames(bytes: Buffer): string[] {
  const frames: string[] = [];
  let at = 0;
  while (bytes.length - at >= 2) {
    let length = bytes[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) (length = bytes.readUInt16BE(start)), (start += 2);
    else if (length === 127) (length = Number(bytes.readBigUInt64BE(start))), (start += 8);
    frames.push(`${bytes[at]!.toString(16)}:${bytes.subarray(start, start + length).toString('hex')}`);
    at = start + length;
  }
  if (at !== bytes.length) frames.push(`trailing ${bytes.length - at}`);
  return frames;
}

// --- Client frames ---------------------------------------------------------

interface Frame {
  first: number; // FIN, RSV, opcode
  mask: Uint8Array | undefined;
  payload: Buffer;
  /** Length encoding: the shortest, or forced 16-/64-bit (allowed, if wasteful). */
  form?: 16 | 64 | undefined;
}

function encode({ first, mask, payload, form }: Frame): Buffer {
  const length = payload.length;
  const maskBit = mask ? 0x80 : 0;
  let header: Buffer;
  if (form === 64 || length > 65_535) {
    header = Buffer.alloc(10);
    header[1] = maskBit | 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  } else if (form === 16 || length > 125) {
    header = Buffer.alloc(4);
    header[1] = maskBit | 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(2);
    header[1] = maskBit | length;
  }
  header[0] = first;
  if (!mask) return Buffer.concat([header, payload]);
  const masked = Buffer.from(payload);
  for (let index = 0; index < masked.length; index++) masked[index] = masked[index]! ^ mask[index & 3]!;
  return Buffer.concat([header, Buffer.from(mask), masked]);
}

const mask = fc.oneof({ weight: 9, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 4 }) }, { weight: 1, arbitrary: fc.constant(new Uint8Array(4)) });
const form = fc.constantFrom(undefined, undefined, undefined, 16 as const, 64 as const);
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }).map((value) => Buffer.from(value)),
  // Each side of the 7-, 16- and 64-bit length encodings, ASCII and multi-byte.
  fc.tuple(fc.constantFrom(0, 1, 125, 126, 127, 65_535, 65_536), fc.boolean()).map(([bytes, wide]) =>
    Buffer.from(wide && bytes >= 4 ? `${'é'.repeat(Math.floor((bytes - 4) / 2))}${'a'.repeat((bytes - 4) % 2)}🙂` : 'a'.repeat(bytes)),
  ),
  // Publish-sized JSON.
  fc.jsonValue({ maxDepth: 2 }).map((value) => Buffer.from(JSON.stringify({ type: 'publish', event: { data: value } }))),
);
const invalidUtf8 = fc
  .tuple(
    fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x8f, 0xbf, 0xbf], [0x80]),
    fc.nat({ max: 40 }),
    fc.nat({ max: 40 }),
  )
  // ws checks payloads under 24 bytes in JavaScript and longer ones with buffer.isUtf8: both sides of that.
  .map(([bad, before, after]) => Buffer.concat([Buffer.from('a'.repeat(before)), Buffer.from(bad), Buffer.from('é'.repeat(after))]));
const controlPayload = fc.uint8Array({ maxLength: 125 }).map((bytes) => Buffer.from(bytes));

/** Frames a well-behaved client sends. */
const normal = fc.oneof(
  { weight: 10, arbitrary: fc.record({ first: fc.constant(0x81), mask, payload: text, form }) },
  { weight: 1, arbitrary: fc.record({ first: fc.constant(0x82), mask, payload: text, form }) },
  { weight: 1, arbitrary: fc.record({ first: fc.constantFrom(0x89, 0x8a), mask, payload: controlPayload }) },
).map((frame): Frame[] => [frame]);
/** A fragmented message, with control frames between its fragments. */
const fragmented = fc
  .tuple(
    fc.constantFrom(0x01, 0x02),
    fc.array(fc.tuple(text, mask, fc.option(fc.record({ first: fc.constant(0x89), mask, payload: controlPayload }))), { minLength: 2, maxLength: 4 }),
  )
  .map(([opcode, parts]): Frame[] =>
    parts.flatMap(([payload, partMask, control], index) => {
      const last = index === parts.length - 1;
      const first = (last ? 0x80 : 0) | (index === 0 ? opcode : 0x00);
      const frame: Frame = { first, mask: partMask, payload };
      return control && !last ? [frame, control] : [frame];
    }),
  );

/** Frames after which ws closes (or ignores what follows). */
function terminal(maxPayload: number) {
  return fc.oneof(
    fc.record({ first: fc.constant(0x81), mask, payload: invalidUtf8 }).map((frame) => [encode(frame)]),
    fc.record({ first: fc.constant(0x81), mask: fc.constant(undefined), payload: text }).map((frame) => [encode(frame)]),
    fc.record({ first: fc.constantFrom(0x91, 0xa1, 0xc1, 0xf1), mask, payload: text }).map((frame) => [encode(frame)]),
    // Unknown opcodes, a continuation with nothing to continue, a control frame without FIN or too long.
    fc.record({ first: fc.constantFrom(0x83, 0x87, 0x8b, 0x8f, 0x80, 0x09), mask, payload: controlPayload }).map((frame) => [encode(frame)]),
    fc.record({ first: fc.constant(0x89), mask, payload: fc.constant(Buffer.alloc(126, 1)) }).map((frame) => [encode(frame)]),
    // A text frame of maxPayload + 1 bytes: its header alone, or whole when small enough to send.
    fc.tuple(mask, fc.boolean()).map(([frameMask, whole]) => {
      const bytes = encode({ first: 0x81, mask: frameMask, payload: Buffer.alloc(whole && maxPayload < 100_000 ? maxPayload + 1 : 0, 0x61) });
      if (whole && maxPayload < 100_000) return [bytes];
      const header = Buffer.alloc(14);
      header[0] = 0x81;
      header[1] = 0x80 | 127;
      header.writeBigUInt64BE(BigInt(maxPayload + 1), 2);
      header.set(frameMask, 10);
      return [header, Buffer.alloc(16, 0x61)];
    }),
    // A text message whose fragments together exceed maxPayload.
    mask.map((frameMask) => [
      encode({ first: 0x01, mask: frameMask, payload: Buffer.alloc(Math.min(maxPayload, 70_000), 0x61) }),
      encode({ first: 0x80, mask: frameMask, payload: Buffer.alloc(Math.max(1, maxPayload - 70_000 + 1), 0x62) }),
    ]),
    // A new text frame inside a fragmented message.
    mask.map((frameMask) => [encode({ first: 0x01, mask: frameMask, payload: Buffer.from('a') }), encode({ first: 0x81, mask: frameMask, payload: Buffer.from('b') })]),
    fc.record({ first: fc.constant(0x88), mask, payload: fc.tuple(fc.constantFrom(1000, 1001, 4000, 1005, 999), fc.string({ maxLength: 20 })).map(([code, reason]) => {
      const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
      payload.writeUInt16BE(code, 0);
      payload.write(reason, 2);
      return payload;
    }) }).map((frame) => [encode(frame)]),
    fc.record({ first: fc.constant(0x88), mask, payload: fc.constant(Buffer.alloc(0)) }).map((frame) => [encode(frame)]),
    fc.uint8Array({ minLength: 1, maxLength: 40 }).map((bytes) => [Buffer.from(bytes)]),
  );
}

// The broker's ws maxPayload (upgrade.ts); one just over the 16-bit length
// encoding; one small enough that a whole oversize frame arrives in one read.
const configs = [brokerDefaults.maxPayloadBytes * 4, 70_000, 1_000];

/** A client byte stream for one server config, and where it is cut into chunks. */
const stream = fc.constantFrom(...configs.keys()).chain((config) =>
  fc
    .record({
      before: fc.array(fc.oneof({ weight: 6, arbitrary: normal }, { weight: 1, arbitrary: fragmented }), { maxLength: 10 }),
      end: fc.option(terminal(configs[config]!), { nil: undefined }),
      after: fc.array(normal, { maxLength: 2 }),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 10 }),
    })
    .map(({ before, end, after, cuts }) => {
      const bytes = Buffer.concat([...before.flat().map(encode), ...(end ?? []), ...after.flat().map(encode)]);
      const points = [...new Set(cuts.map((cut) => Math.floor(cut * bytes.length)))].sort((a, b) => a - b);
      const chunks: Buffer[] = [];
      let from = 0;
      for (const point of [...points, bytes.length]) {
        if (point > from) chunks.push(bytes.subarray(from, point));
        from = Math.max(from, point);
      }
      return { config, chunks };
    }),
);

let plain: Server[] = [];
let wired: Server[] = [];
test.before(async () => {
  plain = await Promise.all(configs.map((maxPayload) => startServer(maxPayload, false)));
  wired = await Promise.all(configs.map((maxPayload) => startServer(maxPayload, true)));
});
test.after(async () => {
  await Promise.all([...plain, ...wired].map((server) => server.close()));
});

// Streams random chunking rarely produces, where ws is mid-frame or mid-message
// at a chunk boundary (the fast path must leave the next chunk to it), or a
// whole oversize frame arrives in one chunk.
const zeroMask = new Uint8Array(4);
const edgeCases: { config: number; chunks: Buffer[] }[] = [
  // A fragmented text message in progress: a text frame in it is ws's 1002.
  { config: 0, chunks: [encode({ first: 0x01, mask: zeroMask, payload: Buffer.from('a') }), encode({ first: 0x81, mask: zeroMask, payload: Buffer.from('b') })] },
  // ws holds one header byte (0x82, binary): the next chunk starts with what would read as a text frame.
  { config: 0, chunks: [Buffer.from([0x82]), Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69])] },
  // ws holds a partial payload whose rest is, byte for byte, a masked text frame.
  { config: 0, chunks: [Buffer.from([0x82, 0x88, 0, 0, 0, 0]), encode({ first: 0x81, mask: zeroMask, payload: Buffer.from('hi') })] },
  // A whole frame one byte over maxPayload, in one read: ws's 1009.
  { config: 2, chunks: [encode({ first: 0x81, mask: zeroMask, payload: Buffer.alloc(1_001, 0x61) })] },
];

test('a WsWire server sees what a plain ws server sees, for any byte stream and chunking', async () => {
  let fast = 0;
  await fc.assert(
    fc.asyncProperty(stream, async ({ config, chunks }) => {
      const [ours, theirs] = await Promise.all([feed(wired[config]!, chunks), feed(plain[config]!, chunks)]);
      assert.equal(ours.seen, theirs.seen);
      fast += ours.seen.messages.length - ours.viaWs;
    }),
    // Seeded, so CI runs the same streams; TEXT_FRAME_READER_SEED=<n> explores others.
    { numRuns: 200, seed: Number(process.env['TEXT_FRAME_READER_SEED'] ?? 35), examples: edgeCases.map((edge) => [edge]) },
  );
  // The streams did exercise the fast path, not only ws.
  assert.ok(fast > 100, `${fast} messages took the fast path`);
});

test('complete text frames skip ws; from a frame it does not take, the rest of that chunk is ws\'s', async () => {
  const frameMask = new Uint8Array([1, 2, 3, 4]);
  const textFrame = (payload: Buffer) => encode({ first: 0x81, mask: frameMask, payload });
  const chunks = [
    Buffer.concat([
      textFrame(Buffer.from('{"type":"publish"}')),
      textFrame(Buffer.alloc(300, 0x61)),
      encode({ first: 0x82, mask: frameMask, payload: Buffer.from('binary') }),
      textFrame(Buffer.from('after binary é')),
    ]),
    Buffer.concat([
      encode({ first: 0x01, mask: frameMask, payload: Buffer.from('frag') }),
      encode({ first: 0x80, mask: frameMask, payload: Buffer.from('ment') }),
      textFrame(Buffer.from('after fragments')),
    ]),
    // ws is idle again: the fast path takes this one.
    Buffer.concat([textFrame(Buffer.from('last')), encode({ first: 0x88, mask: frameMask, payload: Buffer.from([0x03, 0xe8]) })]),
  ];
  const { seen, viaWs } = await feed(wired[0]!, chunks);
  assert.equal(seen.messages, [
    describe(Buffer.from('{"type":"publish"}'), false),
    describe(Buffer.alloc(300, 0x61), false),
    describe(Buffer.from('binary'), true),
    describe(Buffer.from('after binary é'), false),
    describe(Buffer.from('fragment'), false),
    describe(Buffer.from('after fragments'), false),
    describe(Buffer.from('last'), false),
  ]);
  // binary, 'after binary é' (rest of chunk 1), 'fragment', 'after fragments' (rest of chunk 2).
  assert.is(viaWs, 4);
  assert.is(seen.closeCode, 1000);
});

test('readTextFrames stops at the first frame it does not take and leaves it as received', () => {
  const frameMask = new Uint8Array([9, 8, 7, 6]);
  const good = encode({ first: 0x81, mask: frameMask, payload: Buffer.from('ok') });
  const bad = encode({ first: 0x81, mask: frameMask, payload: Buffer.from([0x61, 0xff]) });
  const chunk = Buffer.concat([good, bad]);
  const copyOfBad = Buffer.from(bad);
  const payloads: string[] = [];
  const read = readTextFrames(chunk, 0, true, (payload) => payloads.push(payload.toString()));
  assert.is(read, good.length);
  assert.equal(payloads, ['ok']);
  assert.ok(chunk.subarray(read).equals(copyOfBad));
});

test.run();
