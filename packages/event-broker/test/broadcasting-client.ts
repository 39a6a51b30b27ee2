// A browser on the broadcasting surface (/api/v1/broadcasting/ws), as the
// broadcasting tests drive it: subscribed to one channel, every frame kept.
import WebSocket from 'ws';
import { until, within, type TestBroker } from './helpers.js';

export interface BroadcastingClient {
  readonly socket: WebSocket;
  readonly received: Array<Record<string, unknown>>;
  readonly socketId: string;
  /** The frames of one event name. */
  named(event: string): Array<Record<string, unknown>>;
  /** The broadcasts: every frame but the surface's own (connected, subscribed, pong). */
  broadcasts(): Array<Record<string, unknown>>;
}

/** A client of `user` (its token) subscribed to `channel`, once the surface said so. */
export async function broadcastingClient(server: TestBroker<never>, user: string, channel: string): Promise<BroadcastingClient> {
  const socket = new WebSocket(`${server.url}/api/v1/broadcasting/ws?token=${user}`);
  const received: Array<Record<string, unknown>> = [];
  socket.on('message', (data) => void received.push(JSON.parse(String(data)) as Record<string, unknown>));
  await within(new Promise((resolve) => socket.once('open', resolve)), 2000, 'open');
  socket.send(JSON.stringify({ event: 'subscribe', channel }));
  await until(() => received.some((frame) => frame['event'] === 'subscribed'), 'subscribed');
  const socketId = String(received.find((frame) => frame['event'] === 'connected')!['socket_id']);
  return {
    socket,
    received,
    socketId,
    named: (event) => received.filter((frame) => frame['event'] === event),
    broadcasts: () => received.filter((frame) => !['connected', 'subscribed', 'pong'].includes(String(frame['event']))),
  };
}

/** Every frame sent to the client before this has arrived (frames of one connection are in order). */
export async function barrier(client: Pick<BroadcastingClient, 'socket' | 'received'>): Promise<void> {
  const pongs = client.received.filter((frame) => frame['event'] === 'pong').length;
  client.socket.send(JSON.stringify({ event: 'ping' }));
  await until(() => client.received.filter((frame) => frame['event'] === 'pong').length > pongs, 'pong');
}
