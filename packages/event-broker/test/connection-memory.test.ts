// What an idle connection keeps: not its upgrade request. The request
// (IncomingMessage: raw headers, stream state, its url) is read at admission;
// a session keeps only what it exposes (Socket.IO's handshake: headers,
// query, address, time). Observed with a WeakRef on the request the broker's
// WebSocketServer was handed, after collections, while the connection is open.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { IncomingMessage } from 'node:http';
import { io } from 'socket.io-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WebSocketServer } from 'ws';
import { RawClient, startBroker, until, within } from './helpers.js';

const test = suite('idle connection memory');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The upgrade requests the broker's WebSocket server handles while `fn` runs, weakly. */
async function watchUpgrades<T>(fn: (requests: WeakRef<IncomingMessage>[]) => Promise<T>): Promise<T> {
  const original = WebSocketServer.prototype.handleUpgrade;
  const requests: WeakRef<IncomingMessage>[] = [];
  WebSocketServer.prototype.handleUpgrade = function (this: WebSocketServer, request, ...rest) {
    requests.push(new WeakRef(request));
    return original.call(this, request, ...rest);
  };
  try {
    return await fn(requests);
  } finally {
    WebSocketServer.prototype.handleUpgrade = original;
  }
}

/** Whether every request was collected (WeakRefs clear only after the job that read them: a turn between collections). */
async function collected(requests: readonly WeakRef<IncomingMessage>[]): Promise<boolean> {
  for (let round = 0; round < 3; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return requests.every((request) => request.deref() === undefined);
}

const authenticate = ({ token }: { token?: string | undefined }): { id: string } | undefined => (token === 'bad' ? undefined : { id: 'u1' });

test('a native connection keeps no upgrade request (the broker authenticates: the session can verify a token later)', async () => {
  await watchUpgrades(async (requests) => {
    await using server = await startBroker({ authenticate });
    const client = await RawClient.native(`${server.url}/?token=good`);
    try {
      assert.is(requests.length, 1);
      assert.ok(await collected(requests), 'the upgrade request is still reachable');
      assert.is(server.broker.stats().connections.native, 1);
    } finally {
      client.close();
    }
  });
});

test('a Socket.IO connection keeps no upgrade request; its handshake still has the headers, query, address', async () => {
  await watchUpgrades(async (requests) => {
    let handshake: { headers: Record<string, unknown>; query: Record<string, string>; address: string } | undefined;
    await using server = await startBroker({ authenticate, socketio: true }, (broker) => {
      broker.socketio!.on('connection', (socket) => {
        handshake = socket.handshake;
      });
    });
    const client = io(`${server.httpUrl}?room=7`, { transports: ['websocket'], reconnection: false, forceNew: true, auth: { token: 'good' } });
    try {
      await within(new Promise((resolve) => client.once('connect', () => resolve(undefined))), 5000, 'connect');
      await until(() => handshake !== undefined, 'the connection listener');
      assert.is(requests.length, 1);
      assert.ok(await collected(requests), 'the upgrade request is still reachable');
      assert.is(handshake!.query['room'], '7');
      assert.is(typeof handshake!.headers['host'], 'string');
      assert.is(handshake!.address, '127.0.0.1');
      assert.is(server.broker.stats().connections.socketio, 1);
    } finally {
      client.close();
    }
  });
});

test.run();
