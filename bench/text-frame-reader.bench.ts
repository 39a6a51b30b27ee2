// What the broker pays to get a publish frame out of a socket read (#35): ws's
// Receiver alone against the same Receiver with the wire's text-frame reader
// installed (wire/text-frame-reader.ts), on what a saturated fan-in read looks
// like — a 64 KiB chunk of ~270 masked 230-byte publish frames. Each round
// copies the masked chunk into a work buffer first (both paths unmask in
// place); "copy alone" is that copy. The Receiver here is bare: in the broker
// ws's path adds the WebSocket's own 'message' re-emit on top.
// Allocation: heapUsed growth over 10 chunks (no GC in between: a 64 MiB new
// space), per frame — approximate.
// Run: cd bench && node --expose-gc --max-semi-space-size=64 --import tsx text-frame-reader.bench.ts
import * as ws from 'ws';
import type { WebSocket } from 'ws';
import { installTextFrameReader } from '../packages/event-broker/src/wire/text-frame-reader.js';

interface Receiver {
  write(chunk: Buffer): boolean;
  on(event: 'message', listener: (data: Buffer, binary: boolean) => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
}
// ws exports its Receiver; @types/ws does not declare it.
const { Receiver } = ws as unknown as { Receiver: new (options: object) => Receiver };
const maxPayload = 4 * 1_048_576; // the broker's (upgrade.ts)

function publishFrame(index: number): Buffer {
  const text = JSON.stringify({
    type: 'publish',
    event: { id: `01J${String(index).padStart(23, '0')}`, topic: 'fanin.room', source: 'bench', time: new Date(0).toISOString(), data: { n: index, pad: 'x'.repeat(60) } },
  });
  const payload = Buffer.from(text.padEnd(230, ' '));
  const mask = Buffer.from([index & 0xff, 0x5a, 0xa5, 0x3c]);
  const header = Buffer.from([0x81, 0x80 | 126, 0, 0]);
  header.writeUInt16BE(payload.length, 2);
  for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i & 3]!;
  return Buffer.concat([header, mask, payload]);
}

const frames: Buffer[] = [];
for (let size = 0, index = 0; ; index++) {
  const frame = publishFrame(index);
  if (size + frame.length > 65_536) break;
  frames.push(frame);
  size += frame.length;
}
const masked = Buffer.concat(frames);
const perChunk = frames.length;

let bytes = 0;
const onMessage = (data: Buffer): void => {
  bytes += data.length;
};

function receiver(fast: boolean): Receiver {
  const r = new Receiver({ isServer: true, maxPayload, binaryType: 'nodebuffer' });
  r.on('message', onMessage);
  r.on('error', (error) => {
    throw error;
  });
  // The reader reads a WebSocket's `_receiver` and `extensions`: a stand-in with both.
  if (fast && !installTextFrameReader({ _receiver: r, extensions: '' } as unknown as WebSocket, onMessage)) throw new Error('not installed');
  return r;
}

async function nsPerFrame(target: Receiver | undefined, chunks: number): Promise<number> {
  const work = Buffer.allocUnsafe(masked.length);
  let elapsed = 0n;
  for (let done = 0; done < chunks; done += 100) {
    const start = process.hrtime.bigint();
    for (let index = 0; index < 100; index++) {
      masked.copy(work);
      target?.write(work);
    }
    elapsed += process.hrtime.bigint() - start;
    // Let the Receiver's Writable run its after-write ticks ('drain') between batches.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return Number(elapsed) / (chunks * perChunk);
}

function bytesPerFrame(target: Receiver): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  const work = Array.from({ length: 10 }, () => Buffer.from(masked));
  gc();
  const before = process.memoryUsage().heapUsed;
  for (const chunk of work) target.write(chunk);
  const after = process.memoryUsage().heapUsed;
  return (after - before) / (10 * perChunk);
}

console.log(`${perChunk} frames of ${frames[0]!.length} bytes (230-byte payload) per ${masked.length}-byte chunk`);
const wsReceiver = receiver(false);
const fastReceiver = receiver(true);
await nsPerFrame(wsReceiver, 2_000);
await nsPerFrame(fastReceiver, 2_000);
for (let run = 0; run < 3; run++) {
  const copy = await nsPerFrame(undefined, 5_000);
  const plain = await nsPerFrame(wsReceiver, 5_000);
  const fast = await nsPerFrame(fastReceiver, 5_000);
  console.log(
    `run ${run + 1}: copy alone ${copy.toFixed(1)} ns/frame; ws Receiver ${plain.toFixed(1)} ns/frame; with the text-frame reader ${fast.toFixed(1)} ns/frame`,
  );
}
console.log(`heap per frame: ws Receiver ~${bytesPerFrame(wsReceiver).toFixed(0)} B; with the text-frame reader ~${bytesPerFrame(fastReceiver).toFixed(0)} B`);
if (bytes === 0) throw new Error('no message read');
