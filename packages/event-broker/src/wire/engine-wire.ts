// One Engine.IO v4 session as a Wire: it owns the session's current
// transport — long-polling (a series of HTTP requests), then a WebSocket
// after an upgrade, or a WebSocket from the start — so the Connection above
// it never sees the switch. It frames every message as a packet (`4…`),
// keeps the session's liveness with Engine.IO's own pings (per-session
// deadlines, not the broker's heartbeat tick) and reports `closed` itself.
// Its WebSocket half keeps the broker's fast path: prepared frames, shared by
// every recipient of an event, written under the WsWire's per-tick cork.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PreparedTextFrame } from '../prepared-frame.js';
import { decodePacket, decodePayload, encodePollingPacket, payloadSeparator, type EnginePacket } from './engine-packet.js';
import type { Wire, WireEvents } from './wire.js';

/**
 * The timings and bound of an endpoint's sessions (see EngineOptions for
 * what each means): one object shared by all of them, not one per session.
 */
export interface EngineSessionOptions {
  readonly pingInterval: number;
  readonly pingTimeout: number;
  readonly maxPayload: number;
  readonly upgradeTimeout: number;
  /** Headers every HTTP answer of this session carries (CORS). */
  headers(request: IncomingMessage): Record<string, string>;
  /** The session is over: forget its sid. */
  gone(wire: EngineWire): void;
}

/**
 * How long a close waits for the client's next poll to carry the close packet.
 * A polling client is without a waiting GET only between an answer and its
 * next request; past this (a client that stopped polling) the session just
 * ends. Its own timer, kept referenced: a broker closing must not see its
 * process exit with the session half-closed.
 */
const CLOSE_WAIT_MS = 1000;

/** A close the peer asked for, or one the session decided, as a WebSocket close code and reason. */
const closeCodes = { client: 1000, error: 1002, timeout: 1001, terminated: 1006 } as const;

/** The bytes, not characters, a string holds queued (what a slow-reader bound counts). */
function byteLength(packet: string | Buffer): number {
  return typeof packet === 'string' ? Buffer.byteLength(packet) : Math.ceil(packet.length / 3) * 4 + 1;
}

/** EngineWire's handlers of its carriers' events (set in its static block: they reach its private state). */
let carrier: {
  message(wire: EngineWire, socket: Wire, data: Buffer, binary: boolean): void;
  drained(wire: EngineWire, socket: Wire): void;
  error(wire: EngineWire, socket: Wire, error: Error): void;
  closed(wire: EngineWire, socket: Wire, code: number, reason: string): void;
};

export class EngineWire implements Wire {
  readonly sid: string;
  readonly ownsLiveness = true;
  readonly #options: EngineSessionOptions;
  #events: WireEvents | undefined;
  // The WebSocket carrying the session, once it has one (from the start or after an upgrade).
  #socket: Wire | undefined;
  // A WebSocket probing an upgrade: `2probe` answered, waiting for `5`.
  #probe: Wire | undefined;
  #upgrading = false;
  #upgradeTimer: ReturnType<typeof setTimeout> | undefined;
  // Long-polling: packets waiting for the next GET, and that GET while it waits.
  #queue: Array<string | Buffer> = [];
  #queuedBytes = 0;
  #poll: ServerResponse | undefined;
  #flushScheduled = false;
  #posting = false;
  /** A close is queued for the next GET (the server closed a session no GET was waiting on). */
  #closing = false;
  /** The close packet waits for the answer carrying what was queued before it (see close). */
  #closeAfterQueue = false;
  #ended = false;
  #endedWith: { code: number; reason: string } | undefined;
  #watchingDrain = false;
  #heartbeat: ReturnType<typeof setTimeout> | undefined;
  #pingDue = 0;
  #polledIn = 0;
  #polledOut = 0;

  /**
   * Session `sid` on `socket` (a WebSocket handshake), or on long-polling
   * when it is undefined. The open packet is sent (or queued) at once and
   * not kept.
   */
  constructor(options: EngineSessionOptions, sid: string, socket?: Wire) {
    this.sid = sid;
    this.#options = options;
    const { pingInterval, pingTimeout, maxPayload } = options;
    const open = `0${JSON.stringify({ sid, upgrades: socket ? [] : ['websocket'], pingInterval, pingTimeout, maxPayload })}`;
    if (socket) {
      this.#socket = socket;
      socket.send(open);
    } else this.#queue.push(open);
    this.#schedulePing();
  }

  /** `polling` until an upgrade completes; `websocket` after, or from the start. */
  get transport(): 'polling' | 'websocket' {
    return this.#socket ? 'websocket' : 'polling';
  }

  get open(): boolean {
    if (this.#ended || this.#closing) return false;
    return this.#socket ? this.#socket.open : true;
  }

  get unsentBytes(): number {
    return this.#socket ? this.#socket.unsentBytes : this.#queuedBytes;
  }

  get traffic(): { readonly received: number; readonly sent: number } {
    const socket = this.#socket?.traffic ?? { received: 0, sent: 0 };
    return { received: this.#polledIn + socket.received, sent: this.#polledOut + socket.sent };
  }

  listen(events: WireEvents): void {
    this.#events = events;
    if (this.#ended) {
      const { code, reason } = this.#endedWith!;
      queueMicrotask(() => events.closed(code, reason));
      return;
    }
    if (this.#socket) this.#listenTo(this.#socket);
  }

  send(text: string): void {
    this.#write(`4${text}`);
  }

  sendPrepared(frame: PreparedTextFrame): void {
    if (this.#socket) return this.#socket.sendPrepared(frame.prefixed('4'));
    this.#write(`4${frame.text}`);
  }

  /** Raw on a WebSocket (Engine.IO v4 binary frames carry no type), `b<base64>` on polling. */
  sendBinary(bytes: Buffer): void {
    if (this.#ended) return;
    if (this.#socket) return this.#socket.sendBinary(bytes);
    this.#enqueue(bytes);
  }

  /** On a WebSocket, the WsWire's per-tick cork; a poll's answer gathers a tick's packets by itself. */
  batch(flushed: () => void): boolean {
    return this.#socket ? this.#socket.batch(flushed) : false;
  }

  watchDrain(): void {
    this.#watchingDrain = true;
    this.#socket?.watchDrain();
  }

  /** Engine.IO keeps its own liveness (see #schedulePing): nothing for the broker's heartbeat to do. */
  probe(): void {}

  /**
   * The server closes the session: a WebSocket gets its close frame; a
   * waiting poll is answered with the close packet `1`, else the packet
   * waits for the next poll (the connection's grace period bounds the wait).
   */
  close(code: number, reason: string): void {
    if (this.#ended || this.#closing) return;
    if (this.#socket) return this.#socket.close(code, reason);
    this.#closing = true;
    this.#endedWith = { code, reason };
    // As engine.io (close after drain): what is queued goes out in its own
    // answer, the close packet in the next. socket.io-client hands a
    // payload's packets to its sockets a tick late but acts on its close at
    // once, so a `41` sharing the close's answer would be lost.
    if (this.#queue.length === 0) this.#queue.push('1');
    else this.#closeAfterQueue = true;
    if (this.#poll) return this.#answerPoll();
    clearTimeout(this.#heartbeat);
    this.#heartbeat = setTimeout(() => this.#end(code, reason, undefined), CLOSE_WAIT_MS);
  }

  terminate(): void {
    if (this.#ended) return;
    this.#socket?.terminate();
    this.#end(closeCodes.terminated, 'terminated', '1');
  }

  /**
   * Ends the session now if its client owes a pong past the deadline, and
   * says whether it is over. Asked by every request that names the session,
   * so a timer fired late (a busy event loop) never lets a dead session
   * answer: the deadline holds from the clock, not from the timer.
   */
  expireIfOverdue(): boolean {
    if (!this.#ended && Date.now() >= this.#pingDue + this.#options.pingTimeout) this.#end(closeCodes.timeout, 'ping timeout', '1');
    return this.#ended;
  }

  /** A long-polling GET: answered now with what is queued, or held until a packet is. */
  poll(request: IncomingMessage, response: ServerResponse): void {
    if (this.#poll) {
      // engine.io-protocol: a second concurrent GET closes the session; the first is told `1`.
      this.#refuse(response, request, 'overlapping poll');
      this.#end(closeCodes.error, 'overlapping poll', '1');
      return;
    }
    this.#poll = response;
    response.on('close', () => {
      if (this.#poll === response) this.#poll = undefined;
    });
    // While an upgrade probes, polls are let go at once: the packets wait for the WebSocket.
    if (this.#upgrading) return this.#answer('6');
    if (this.#queue.length > 0) this.#answerPoll();
  }

  /** A long-polling POST: its packets, answered `ok`. */
  post(request: IncomingMessage, response: ServerResponse): void {
    if (this.#posting) {
      this.#refuse(response, request, 'overlapping post');
      this.#end(closeCodes.error, 'overlapping post', '6');
      return;
    }
    const declared = Number(request.headers['content-length']);
    if (declared > this.#options.maxPayload) return this.#tooLarge(request, response);
    this.#posting = true;
    const chunks: Buffer[] = [];
    let length = 0;
    const settle = (): void => {
      this.#posting = false;
    };
    request.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > this.#options.maxPayload) {
        settle();
        request.removeAllListeners('data');
        return this.#tooLarge(request, response);
      }
      chunks.push(chunk);
    });
    // A client that gives up mid-body frees the session for its next POST.
    request.on('error', settle);
    request.on('close', settle);
    request.on('end', () => {
      if (!this.#posting) return;
      settle();
      this.#polledIn += length;
      let packets: EnginePacket[];
      try {
        packets = decodePayload(Buffer.concat(chunks, length).toString('utf8'));
      } catch {
        this.#refuse(response, request, 'invalid packet');
        return this.#end(closeCodes.error, 'invalid packet', '6');
      }
      response.writeHead(200, { 'content-type': 'text/html', 'content-length': 2, ...this.#options.headers(request) });
      response.end('ok');
      for (const packet of packets) this.#receive(packet, false);
    });
  }

  /**
   * A WebSocket for this polling session (`?sid=`): it proves itself with
   * `2probe` → `3probe`, the waiting poll is let go with a noop, and `5`
   * moves the session onto it with what was queued. An upgrade that does not
   * complete within upgradeTimeout is dropped and polling goes on.
   */
  upgrade(socket: Wire): void {
    if (this.#ended || this.#socket || this.#probe) return socket.close(1008, 'no upgrade for this session');
    this.#probe = socket;
    this.#listenTo(socket);
    this.#upgradeTimer = setTimeout(() => this.#dropProbe(), this.#options.upgradeTimeout);
    this.#upgradeTimer.unref();
  }

  /** Whether a WebSocket upgrade may still come for this session. */
  get upgradable(): boolean {
    return !this.#ended && !this.#socket && !this.#probe;
  }

  #listenTo(socket: Wire): void {
    socket.listen(new CarrierEvents(this, socket));
  }

  // What a carrier (the WebSocket, or a probe) reports, through CarrierEvents.
  static {
    carrier = {
      message: (wire, socket, data, binary) => {
        if (binary) return wire.#receive({ type: 'message', data }, socket === wire.#probe);
        let packet: EnginePacket;
        try {
          packet = decodePacket(data.toString('utf8'), false);
        } catch {
          if (socket === wire.#probe) return wire.#dropProbe();
          return wire.#end(closeCodes.error, 'invalid packet', '6');
        }
        wire.#receive(packet, socket === wire.#probe);
      },
      drained: (wire, socket) => {
        if (socket === wire.#socket) wire.#events?.drained();
      },
      error: (wire, socket, error) => {
        if (socket === wire.#socket) wire.#events?.error(error);
      },
      closed: (wire, socket, code, reason) => {
        if (socket === wire.#probe) return wire.#dropProbe();
        if (socket === wire.#socket) wire.#end(code, reason, undefined);
      },
    };
  }

  #receive(packet: EnginePacket, fromProbe: boolean): void {
    if (this.#ended) return;
    if (fromProbe) return this.#receiveProbe(packet);
    switch (packet.type) {
      case 'message':
        return this.#events?.message(typeof packet.data === 'string' ? Buffer.from(packet.data, 'utf8') : packet.data, typeof packet.data !== 'string');
      case 'pong':
        return this.#schedulePing();
      case 'close':
        // Polling's answer to a close the client asked for is a noop to the waiting poll (engine.io's polling onClose).
        return this.#end(closeCodes.client, 'client close', '6');
      case 'noop':
      case 'ping':
      case 'upgrade':
        return;
      default:
        // `0` from a client is no packet it may send.
        return this.#end(closeCodes.error, 'invalid packet', '6');
    }
  }

  #receiveProbe(packet: EnginePacket): void {
    const probe = this.#probe!;
    if (packet.type === 'ping' && packet.data === 'probe') {
      probe.send('3probe');
      this.#upgrading = true;
      if (this.#poll) this.#answer('6');
      return;
    }
    if (packet.type === 'upgrade' && this.#upgrading) return this.#switchToProbe();
    // Anything else on a probe ends the probe, not the session.
    this.#dropProbe();
  }

  #switchToProbe(): void {
    const socket = this.#probe!;
    clearTimeout(this.#upgradeTimer);
    this.#probe = undefined;
    this.#upgrading = false;
    this.#socket = socket;
    if (this.#poll) this.#answer('6');
    if (this.#watchingDrain) socket.watchDrain();
    // What waited for a poll leaves first, in order, on the WebSocket.
    const queued = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const packet of queued) {
      if (typeof packet === 'string') socket.send(packet);
      else socket.sendBinary(packet);
    }
  }

  #dropProbe(): void {
    const probe = this.#probe;
    if (!probe) return;
    clearTimeout(this.#upgradeTimer);
    this.#probe = undefined;
    this.#upgrading = false;
    probe.terminate();
    if (this.#poll && this.#queue.length > 0) this.#answerPoll();
  }

  /** One text packet to the client on the current transport. */
  #write(packet: string): void {
    if (this.#ended) return;
    if (this.#socket) return this.#socket.send(packet);
    this.#enqueue(packet);
  }

  #enqueue(packet: string | Buffer): void {
    if (this.#closing) return;
    this.#queue.push(packet);
    this.#queuedBytes += byteLength(packet);
    if (!this.#poll || this.#upgrading || this.#flushScheduled) return;
    // A tick's packets leave in one answer.
    this.#flushScheduled = true;
    process.nextTick(() => {
      this.#flushScheduled = false;
      if (this.#poll && !this.#upgrading && this.#queue.length > 0) this.#answerPoll();
    });
  }

  /** Answers the waiting poll with every queued packet, joined as a payload. */
  #answerPoll(): void {
    const body = this.#queue.map(encodePollingPacket).join(payloadSeparator);
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#answer(body);
    if (this.#watchingDrain) this.#events?.drained();
    if (this.#closeAfterQueue) {
      this.#closeAfterQueue = false;
      this.#queue.push('1');
      clearTimeout(this.#heartbeat);
      this.#heartbeat = setTimeout(() => this.#end(this.#endedWith!.code, this.#endedWith!.reason, undefined), CLOSE_WAIT_MS);
      return;
    }
    if (this.#closing) this.#end(this.#endedWith!.code, this.#endedWith!.reason, undefined);
  }

  #answer(body: string): void {
    const response = this.#poll;
    if (!response) return;
    this.#poll = undefined;
    const bytes = Buffer.from(body, 'utf8');
    this.#polledOut += bytes.length;
    response.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8', 'content-length': bytes.length, ...this.#options.headers(response.req) });
    response.end(bytes);
  }

  #refuse(response: ServerResponse, request: IncomingMessage, message: string): void {
    if (response.headersSent) return;
    const body = JSON.stringify({ code: 3, message: `Bad request: ${message}` });
    response.writeHead(400, { 'content-type': 'application/json', ...this.#options.headers(request) });
    response.end(body);
  }

  #tooLarge(request: IncomingMessage, response: ServerResponse): void {
    if (!response.headersSent) {
      response.writeHead(413, { connection: 'close', ...this.#options.headers(request) });
      response.end();
    }
    this.#end(closeCodes.error, 'payload too large', '6');
  }

  /**
   * `2` every pingInterval, and the session is over if no `3` comes within
   * pingTimeout of it. The deadline counts from when the ping was due, so a
   * late timer never gives a dead client more than interval + timeout.
   */
  #schedulePing(): void {
    clearTimeout(this.#heartbeat);
    if (this.#ended) return;
    this.#pingDue = Date.now() + this.#options.pingInterval;
    this.#heartbeat = setTimeout(() => {
      this.#write('2');
      const left = Math.max(0, this.#pingDue + this.#options.pingTimeout - Date.now());
      this.#heartbeat = setTimeout(() => this.#end(closeCodes.timeout, 'ping timeout', '1'), left);
      this.#heartbeat.unref();
    }, this.#options.pingInterval);
    this.#heartbeat.unref();
  }

  /**
   * The session is over: a waiting poll is answered with `lastPacket` (`6`
   * when the client closed or broke the protocol, `1` when the server ended
   * it), the sid is forgotten, and the connection hears `closed` once.
   */
  #end(code: number, reason: string, lastPacket: '1' | '6' | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endedWith = { code, reason };
    clearTimeout(this.#heartbeat);
    clearTimeout(this.#upgradeTimer);
    this.#probe?.terminate();
    this.#probe = undefined;
    if (this.#poll) this.#answer(lastPacket ?? '1');
    this.#queue = [];
    this.#queuedBytes = 0;
    if (this.#socket) {
      const socket = this.#socket;
      if (socket.open) socket.close(code === closeCodes.terminated ? 1000 : code, reason);
    }
    this.#options.gone(this);
    this.#events?.closed(code, reason);
  }
}

/**
 * One carrier's events for its session: an object of two fields whose
 * methods are shared, where a literal of five closures (and their context)
 * would be kept per session for its whole life.
 */
class CarrierEvents implements WireEvents {
  readonly #wire: EngineWire;
  readonly #socket: Wire;

  constructor(wire: EngineWire, socket: Wire) {
    this.#wire = wire;
    this.#socket = socket;
  }

  message(data: Buffer, binary: boolean): void {
    carrier.message(this.#wire, this.#socket, data, binary);
  }

  // Engine.IO's liveness is its own pings (EngineWire's heartbeat), not the WebSocket's pongs.
  alive(): void {}

  drained(): void {
    carrier.drained(this.#wire, this.#socket);
  }

  error(error: Error): void {
    carrier.error(this.#wire, this.#socket, error);
  }

  closed(code: number, reason: string): void {
    carrier.closed(this.#wire, this.#socket, code, reason);
  }
}
