// Built-in observers against real files and a real HTTP server.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { createAuditLog, createWebhookNotifier } from '../src/index.js';
import { startBroker, until } from './helpers.js';

const test = suite('built-in observers');

test('audit log: one JSON line per event with origin and reach, rotated by size', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-audit-'));
  const path = join(dir, 'logs', 'audit.jsonl');
  const audit = createAuditLog({ path, maxBytes: 600, maxFiles: 2 });
  const server = await startBroker({}, (broker) => void broker.observe('#', audit.observer));
  const channel = new EventChannel({ url: server.url, ws: { backoff: () => 0 } });
  try {
    await channel.on('audit.*', () => {}).ready;
    for (let i = 0; i < 12; i++) await channel.emit('audit.entry', { i, padding: 'p'.repeat(40) }, { ack: true });
    await until(() => server.broker.stats().hooks[0]!.calls === 12 && server.broker.stats().hooks[0]!.queued === 0, 'audit drained');
    await audit.close();
    const files = readdirSync(join(dir, 'logs')).sort();
    assert.equal(files, ['audit.jsonl', 'audit.jsonl.1', 'audit.jsonl.2']); // older ones pruned
    const live = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const last = live.at(-1);
    assert.is(last.event.topic, 'audit.entry');
    assert.equal(last.event.data.i, 11);
    assert.equal(last.origin, { surface: 'native', connectionId: last.origin.connectionId });
    assert.is(last.notified, 1);
    for (const file of files) assert.ok(readFileSync(join(dir, 'logs', file)).length <= 600, `${file} within maxBytes`);
    // Nothing lost among the kept files: the newest entries are contiguous.
    const kept = files
      .flatMap((file) => readFileSync(join(dir, 'logs', file), 'utf8').trim().split('\n'))
      .map((line) => JSON.parse(line).event.data.i as number)
      .sort((a, b) => a - b);
    assert.equal(kept, Array.from({ length: kept.length }, (_, k) => 12 - kept.length + k));
  } finally {
    await channel.close();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('webhook: POSTs a CloudEvent, retries transient failures, gives up on 4xx and counts it', async () => {
  const received: Array<{ type: string; body: Record<string, unknown> }> = [];
  let failuresLeft = 2;
  const hook = createServer(async (request: IncomingMessage, response) => {
    let text = '';
    for await (const chunk of request) text += chunk;
    const body = JSON.parse(text) as Record<string, unknown>;
    if (body['type'] === 'notify.bad') {
      response.writeHead(400).end();
      return;
    }
    if (failuresLeft-- > 0) {
      response.writeHead(503).end();
      return;
    }
    received.push({ type: String(request.headers['content-type']), body });
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const notifier = createWebhookNotifier({ url, backoff: () => 0, retries: 3, headers: { authorization: 'Bearer t' } });
  const server = await startBroker({}, (broker) => void broker.observe('notify.*', notifier));
  try {
    const result = await server.broker.publish('notify.order', { id: 7 });
    await until(() => received.length === 1, 'webhook delivery after two 503s');
    assert.is(received[0]!.type, 'application/cloudevents+json');
    assert.is(received[0]!.body['specversion'], '1.0');
    assert.is(received[0]!.body['type'], 'notify.order');
    assert.is(received[0]!.body['id'], result.event.id);
    assert.equal(received[0]!.body['data'], { id: 7 });
    await server.broker.publish('notify.bad', {});
    await until(() => server.broker.stats().hooks[0]!.failures === 1, 'final failure counted');
    assert.ok(server.errors.some((e) => e.code === 'handler_failed'));
    assert.is(received.length, 1);
  } finally {
    await server.stop();
    await new Promise((resolve) => hook.close(resolve));
  }
});

test.run();
