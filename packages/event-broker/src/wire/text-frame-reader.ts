// A fast path for what a broker mostly receives: complete, unfragmented,
// masked text frames. ws's Receiver parses every frame as a state machine over
// Buffer views (2 header bytes, the mask, the payload, a fragments array, a
// concat, a 'message' emit through two EventEmitters): on the fan-in profile
// that was ~15 % of the broker's busy time and ~760 B per publish (bench/
// RESULTS.md #35). Here such frames are read straight from the socket's chunk:
// unmasked in place (as ws does), UTF-8 checked (as ws does, 1007 otherwise),
// and handed on as one view of the chunk. Everything else — a partial frame at
// the end of a chunk, a control frame, a fragment, a binary frame, an unmasked
// frame, RSV bits, an oversize length, an invalid UTF-8 payload — goes to ws's
// own Receiver from that byte on, so the close handshake, pings and every
// protocol close (1002/1007/1009) stay ws's. While ws holds part of a frame or
// message, every chunk is ws's until it is idle again.
import { isUtf8 } from 'node:buffer';
import type { WebSocket } from 'ws';

/** ws's Receiver (ws 8, lib/receiver.js): the fields that say it is idle, and its options. */
interface WsReceiver {
  write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean;
  /** 0 (GET_INFO): between frames. */
  readonly _state: number;
  /** Bytes of a frame not yet complete. */
  readonly _bufferedBytes: number;
  /** The opcode of a fragmented message in progress, else 0. */
  readonly _fragmented: number;
  readonly _errored: boolean;
  /** 8 after a close frame: ws ignores whatever follows it. */
  readonly _opcode: number;
  readonly _maxPayload: number;
  readonly _isServer: boolean;
  readonly _allowSynchronousEvents: boolean;
  readonly _skipUTF8Validation: boolean;
  readonly _writableState: { readonly length: number; readonly ending: boolean; readonly destroyed: boolean; readonly errored: unknown };
}

const GET_INFO = 0;
const CLOSE = 0x08;
/** FIN set, RSV1–3 clear, opcode 1 (text). */
const FIN_TEXT = 0x81;
const MASKED = 0x80;

/**
 * Reads complete masked text frames from the chunks a server-side `socket`
 * receives and passes each payload to `message`, before ws's Receiver sees
 * them. Returns false (and installs nothing) where it cannot keep ws's exact
 * behaviour: not a server socket, an extension negotiated (permessage-deflate
 * sets RSV1 and inflates asynchronously), `allowSynchronousEvents: false`
 * (ws then defers each message to its own macrotask), or a WebSocket without
 * ws 8's Receiver.
 *
 * It replaces this one Receiver's `write`: ws's socket 'data' listener and its
 * socket-close path both hand chunks to `receiver.write(chunk)`, so every byte
 * passes here first, and nothing of ws is patched for other sockets.
 */
export function installTextFrameReader(socket: WebSocket, message: (payload: Buffer) => void): boolean {
  const receiver = (socket as unknown as { _receiver?: WsReceiver })._receiver;
  if (
    !receiver ||
    typeof receiver.write !== 'function' ||
    typeof receiver._state !== 'number' ||
    typeof receiver._bufferedBytes !== 'number' ||
    typeof receiver._fragmented !== 'number' ||
    typeof receiver._writableState !== 'object' ||
    socket.extensions !== '' ||
    receiver._isServer !== true ||
    receiver._allowSynchronousEvents !== true
  ) {
    return false;
  }
  const write = receiver.write;
  const maxPayload = receiver._maxPayload;
  const validate = !receiver._skipUTF8Validation;
  receiver.write = function writeFast(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (encoding !== undefined || callback !== undefined || !Buffer.isBuffer(chunk) || !isIdle(receiver)) {
      return write.call(receiver, chunk, encoding, callback);
    }
    const read = readTextFrames(chunk, maxPayload, validate, message);
    if (read === chunk.length) return true;
    return write.call(receiver, read === 0 ? chunk : chunk.subarray(read));
  };
  return true;
}

/** Between frames, no message in progress, nothing queued, not failed or closed. */
function isIdle(receiver: WsReceiver): boolean {
  const state = receiver._writableState;
  return (
    receiver._state === GET_INFO &&
    receiver._bufferedBytes === 0 &&
    receiver._fragmented === 0 &&
    !receiver._errored &&
    receiver._opcode !== CLOSE &&
    state.length === 0 &&
    !state.ending &&
    !state.destroyed &&
    !state.errored
  );
}

/**
 * Hands every complete masked text frame at the start of `chunk` to `message`
 * and returns the offset of the first byte it did not take (the chunk's
 * length when it took them all). A frame it stops at is left as received.
 */
export function readTextFrames(chunk: Buffer, maxPayload: number, validate: boolean, message: (payload: Buffer) => void): number {
  const size = chunk.length;
  let at = 0;
  // 6 bytes: the shortest masked frame (2 header bytes, 4 mask bytes).
  while (size - at >= 6) {
    if (chunk[at] !== FIN_TEXT) break;
    const second = chunk[at + 1]!;
    if ((second & MASKED) === 0) break;
    let length = second & 0x7f;
    let maskAt = at + 2;
    if (length === 126) {
      if (size - at < 8) break;
      length = chunk.readUInt16BE(maskAt);
      maskAt += 2;
    } else if (length === 127) {
      if (size - at < 14) break;
      // Above 4 GiB: ws's 1009 (or its maxPayload's).
      if (chunk.readUInt32BE(maskAt) !== 0) break;
      length = chunk.readUInt32BE(maskAt + 4);
      maskAt += 8;
    }
    if (maxPayload > 0 && length > maxPayload) break;
    const start = maskAt + 4;
    const end = start + length;
    if (end > size) break;
    xorMask(chunk, maskAt, start, end);
    const payload = chunk.subarray(start, end);
    if (validate && !isUtf8(payload)) {
      // Masked again, as received: ws reads the frame and closes with 1007.
      xorMask(chunk, maskAt, start, end);
      break;
    }
    at = end;
    message(payload);
  }
  return at;
}

/** XORs bytes `start`–`end` with the 4-byte mask at `maskAt` (its own inverse). */
function xorMask(bytes: Buffer, maskAt: number, start: number, end: number): void {
  const m0 = bytes[maskAt]!;
  const m1 = bytes[maskAt + 1]!;
  const m2 = bytes[maskAt + 2]!;
  const m3 = bytes[maskAt + 3]!;
  if ((m0 | m1 | m2 | m3) === 0) return;
  let index = start;
  for (const whole = start + ((end - start) & ~3); index < whole; index += 4) {
    bytes[index] = bytes[index]! ^ m0;
    bytes[index + 1] = bytes[index + 1]! ^ m1;
    bytes[index + 2] = bytes[index + 2]! ^ m2;
    bytes[index + 3] = bytes[index + 3]! ^ m3;
  }
  const left = end - index;
  if (left > 0) bytes[index] = bytes[index]! ^ m0;
  if (left > 1) bytes[index + 1] = bytes[index + 1]! ^ m1;
  if (left > 2) bytes[index + 2] = bytes[index + 2]! ^ m2;
}
