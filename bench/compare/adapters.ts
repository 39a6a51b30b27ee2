// One client connection per compared system, behind the same four operations.
// Subscribers hand the raw received text to `onMessage` without parsing it:
// the harness only extracts the send time, the same way for every system, so
// client cost stays equal and the server is what differs.
//
// Topics and patterns arrive in eventwire's syntax (dot-separated, `*` for one
// segment); each adapter writes them the way its system does (MQTT: `a/+/c`).
// Systems without wildcards (bare ws, Socket.IO) are only ever given exact topics.
import { randomUUID } from 'node:crypto';
import mqtt from 'mqtt';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { ClientKey } from './systems.js';

export interface BenchConnection {
  subscribe(pattern: string): Promise<void>;
  /** `payload` is a JSON object text; systems wrap it in their own frame. */
  publish(topic: string, payload: string): void;
  /** Resolves once the server has handled everything this connection sent before. */
  barrier(): Promise<void>;
  onMessage: (text: string) => void;
  close(): void;
}

export async function connect(system: ClientKey, url: string): Promise<BenchConnection> {
  switch (system) {
    case 'eventwire':
      return eventwire(url, false);
    case 'eventwire-synap':
      return eventwire(url, true);
    case 'eventwire-pusher':
      return pusherProtocol(url);
    case 'ws':
      return bareWs(url);
    case 'socketio':
      return socketIo(url);
    case 'nats':
      return nats(url);
    case 'mqtt':
      return mqttOverWs(url);
  }
}

function openSocket(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Correlates request ids with their answers on one socket. */
class Pending {
  #next = 1;
  readonly #waiting = new Map<number | string, () => void>();
  id(): number {
    return this.#next++;
  }
  wait(id: number | string): Promise<void> {
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }
  settle(id: number | string): void {
    this.#waiting.get(id)?.();
    this.#waiting.delete(id);
  }
}

async function eventwire(url: string, synapSubscribers: boolean): Promise<BenchConnection> {
  let socket = await openSocket(url);
  const pending = new Pending();
  // Event ids must be unique across connections: a broker keeping history
  // deduplicates re-sent publishes by id.
  const idPrefix = `b${randomUUID().slice(0, 8)}-`;
  let greeted = false;
  const connection: BenchConnection = {
    onMessage: () => {},
    async subscribe(topic) {
      if (synapSubscribers) {
        // A Synap subscriber is its own socket, subscribed by its URL.
        socket.close();
        const synap = new WebSocket(`${url}/pubsub/ws?topics=${encodeURIComponent(topic)}`, { perMessageDeflate: false });
        // Listen before 'open': the "connected" frame can arrive in the same
        // chunk as the handshake and be emitted before any later listener.
        const connected = new Promise<void>((resolve) => synap.once('message', () => resolve()));
        await new Promise<void>((resolve, reject) => {
          synap.once('open', () => resolve());
          synap.once('error', reject);
        });
        await connected;
        synap.on('message', (data) => connection.onMessage(String(data)));
        socket = synap;
        return;
      }
      const id = pending.id();
      socket.send(JSON.stringify({ type: 'subscribe', id, pattern: topic }));
      await pending.wait(id);
    },
    publish(topic, payload) {
      socket.send(
        `{"type":"publish","event":{"id":"${idPrefix}${pending.id()}","topic":${JSON.stringify(topic)},"source":"bench","time":"2026-01-01T00:00:00.000Z","data":${payload}}}`,
      );
    },
    async barrier() {
      const id = pending.id();
      socket.send(JSON.stringify({ type: 'ping', id }));
      await pending.wait(id);
    },
    close: () => socket.close(),
  };
  socket.on('message', (data) => {
    const text = String(data);
    if (text.startsWith('{"type":"event"')) return connection.onMessage(text);
    const id = /"id":(\d+)/.exec(text)?.[1];
    if (id) pending.settle(Number(id));
    if (!greeted && text.includes('"welcome"')) greeted = true;
  });
  socket.send(JSON.stringify({ type: 'hello', protocol: 1, client: 'bench' }));
  await connection.barrier();
  return connection;
}

/** A Pusher protocol 7 socket (what pusher-js speaks), on the broker's development app. */
async function pusherProtocol(url: string): Promise<BenchConnection> {
  const socket = new WebSocket(`${url}/app/app-key?protocol=7&client=bench`, { perMessageDeflate: false });
  const established = new Promise<void>((resolve) => socket.once('message', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  await established;
  const waiting = new Map<string, () => void>();
  let pong: (() => void) | undefined;
  const connection: BenchConnection = {
    onMessage: () => {},
    async subscribe(channel) {
      const done = new Promise<void>((resolve) => waiting.set(channel, resolve));
      socket.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      await done;
    },
    publish() {
      throw new Error('Pusher-surface runs publish natively');
    },
    async barrier() {
      const done = new Promise<void>((resolve) => (pong = resolve));
      socket.send('{"event":"pusher:ping","data":{}}');
      await done;
    },
    close: () => socket.close(),
  };
  socket.on('message', (data) => {
    const text = String(data);
    if (!text.startsWith('{"event":"pusher')) return connection.onMessage(text);
    if (text.startsWith('{"event":"pusher:pong"')) return pong?.();
    const channel = /"channel":"([^"]+)"/.exec(text)?.[1];
    if (channel) waiting.get(channel)?.();
  });
  return connection;
}

async function bareWs(url: string): Promise<BenchConnection> {
  const socket = await openSocket(url);
  const pending = new Pending();
  const connection: BenchConnection = {
    onMessage: () => {},
    async subscribe(topic) {
      socket.send(JSON.stringify({ s: topic }));
      await pending.wait(`ok:${topic}`);
    },
    publish(topic, payload) {
      socket.send(`{"p":${JSON.stringify(topic)},"d":${JSON.stringify(payload)}}`);
    },
    async barrier() {
      const id = pending.id();
      socket.send(JSON.stringify({ ping: id }));
      await pending.wait(id);
    },
    close: () => socket.close(),
  };
  socket.on('message', (data) => {
    const text = String(data);
    if (text.startsWith('{"pong":')) return pending.settle(Number(/\d+/.exec(text)![0]));
    if (text.startsWith('{"ok":')) return pending.settle(`ok:${JSON.parse(text).ok}`);
    connection.onMessage(text);
  });
  return connection;
}

async function socketIo(url: string): Promise<BenchConnection> {
  const socket: Socket = io(url.replace('ws://', 'http://'), { transports: ['websocket'], forceNew: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const connection: BenchConnection = {
    onMessage: () => {},
    async subscribe(topic) {
      await socket.emitWithAck('sub', topic);
    },
    publish(topic, payload) {
      socket.emit('pub', topic, payload);
    },
    async barrier() {
      await socket.emitWithAck('ping-barrier');
    },
    close: () => socket.close(),
  };
  socket.on('m', (payload: string) => connection.onMessage(payload));
  return connection;
}

async function nats(url: string): Promise<BenchConnection> {
  // nats.js's WebSocket transport uses the global WebSocket; Node 20 has none.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  const { wsconnect } = await import('@nats-io/nats-core');
  const nc = await wsconnect({ servers: url });
  const connection: BenchConnection = {
    onMessage: () => {},
    async subscribe(pattern) {
      nc.subscribe(pattern.replace(/#$/, '>'), { callback: (_error, message) => connection.onMessage(message.string()) });
      await nc.flush();
    },
    publish(topic, payload) {
      nc.publish(topic, payload);
    },
    barrier: () => nc.flush(),
    close: () => void nc.close(),
  };
  return connection;
}

async function mqttOverWs(url: string): Promise<BenchConnection> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, clean: true });
  // MQTT writes `order.*` as `order/+`; publish topics are few, so cache their spelling.
  const spelled = new Map<string, string>();
  const spell = (topic: string): string => {
    let mqttTopic = spelled.get(topic);
    if (mqttTopic === undefined) spelled.set(topic, (mqttTopic = topic.replaceAll('.', '/').replaceAll('*', '+')));
    return mqttTopic;
  };
  const connection: BenchConnection = {
    onMessage: () => {},
    async subscribe(pattern) {
      await client.subscribeAsync(spell(pattern), { qos: 0 });
    },
    publish(topic, payload) {
      client.publish(spell(topic), payload, { qos: 0 });
    },
    // QoS 0 has no acknowledgement; a QoS 1 publish on the same connection is
    // acknowledged only after the broker has handled everything sent before it.
    async barrier() {
      await client.publishAsync('bench/barrier', '', { qos: 1 });
    },
    close: () => void client.end(true),
  };
  client.on('message', (_topic, payload) => connection.onMessage(payload.toString()));
  return connection;
}
