// Built-in observers against real files and a real HTTP server.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { EventBrokerServer, createAuditLog, createBrokerFromConfig, createWebhookNotifier, type BrokerLogRecord } from '../src/index.js';
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

test('audit log that cannot write (ENOSPC): publishes are refused with unavailable, the acknowledged one is kept and written once the file is back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-audit-full-'));
  const path = join(dir, 'audit.jsonl');
  // A symlink to /dev/full: every write fails with ENOSPC, as on a full disk, until it is pointed at a real file.
  symlinkSync('/dev/full', path);
  const lines: string[] = [];
  const configured = await createBrokerFromConfig({ port: 0, auditLog: path }, { log: (line) => lines.push(line), onError: () => {} });
  const { url, httpUrl } = await configured.broker.listen();
  const channel = new EventChannel({ url, ws: { backoff: () => 0 } });
  try {
    // The first one is accepted before the disk is known to be full; its line is kept, not dropped.
    await channel.emit('audit.kept', 1, { ack: true });
    await until(() => configured.auditLog!.failure !== undefined, 'the audit log noticed');
    const refused = await channel.emit('audit.refused', 2, { ack: true }).then(() => 'accepted', (error: { code: string }) => error.code);
    assert.is(refused, 'unavailable');
    const http = await fetch(`${httpUrl}/pubsub/audit.refused/publish`, { method: 'POST', body: '{"payload":3}' });
    assert.equal([http.status, http.headers.get('retry-after')], [503, '1']);
    assert.is(configured.auditLog!.pending, 1);
    // The disk has room again: the kept line is written, publishes are accepted, nothing earlier is missing.
    unlinkSync(path);
    writeFileSync(path, '');
    await until(() => configured.auditLog!.failure === undefined && configured.auditLog!.pending === 0, 'writable again', 5000);
    await channel.emit('audit.after', 4, { ack: true });
    await until(() => readFileSync(path, 'utf8').split('\n').filter(Boolean).length === 2, 'both lines');
    const topics = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line).event.topic);
    assert.equal(topics, ['audit.kept', 'audit.after']);
    assert.is(lines.filter((line) => line.includes('cannot be written')).length, 1, 'one line for the outage');
    assert.is(lines.filter((line) => line.includes('writable again')).length, 1, 'one for the recovery');
  } finally {
    await channel.close();
    await configured.close();
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

test('named hooks: the audit log, a webhook and the application\'s own hook are told apart in /stats and /metrics; a failing webhook logs its URL, status and next retry', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eventwire-named-'));
  let failuresLeft = 1;
  const hook = createServer(async (request: IncomingMessage, response) => {
    for await (const _ of request);
    response.writeHead(failuresLeft-- > 0 ? 503 : 204).end();
  });
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
  const lines: string[] = [];
  const configured = await createBrokerFromConfig(
    {
      port: 0,
      metrics: true,
      auditLog: join(dir, 'audit.jsonl'),
      webhooks: [{ url: `${base}?token=s3cret`, retries: 2 }],
      setup(broker: EventBrokerServer) {
        broker.observe('#', () => {}, { name: 'billing' });
        broker.observe('#', () => {}, { name: 'billing' });
      },
    },
    { log: (line) => lines.push(line), onError: () => {} },
  );
  const { httpUrl } = await configured.broker.listen();
  try {
    await configured.broker.publish('named.one', 1);
    await until(() => configured.broker.stats().hooks.every((h) => h.calls === 1 && h.queued === 0), 'every hook ran once');
    const hooks = configured.broker.stats().hooks.map((h) => [h.kind, h.name, h.builtin]);
    assert.equal(hooks, [
      ['intercept', 'audit log', true],
      ['observe', 'audit log', true],
      ['observe', `webhook ${base}`, true],
      ['observe', 'billing', false],
      ['observe', 'billing #2', false],
    ]);
    const text = await (await fetch(`${httpUrl}/metrics`)).text();
    const series = text.split('\n').filter((line) => line.startsWith('eventwire_hook_calls_total{'));
    assert.is(new Set(series.map((line) => line.split(' ')[0])).size, 5, `five distinct series:\n${series.join('\n')}`);
    assert.ok(series.some((line) => line.includes('hook="audit log"')));
    assert.ok(series.some((line) => line.includes(`hook="webhook ${base}"`)));
    await until(() => lines.some((line) => line.startsWith('webhook ')  && line.includes('retry')), 'the retry line');
    const retry = lines.find((line) => line.includes('retry'))!;
    assert.match(retry, new RegExp(`^webhook ${base.replace(/[.]/g, '\\.')} answered 503 \\(connection_closed\\); retry 1/2 in \\d+ ms$`));
    assert.not.match(lines.join('\n'), /s3cret/, 'no query string (it may hold a secret) in logs');
  } finally {
    await configured.close();
    await new Promise((resolve) => hook.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('logger option: lines become records (conn on connection lines); a failing observer is an error record with its code and the chain of causes', async () => {
  const records: BrokerLogRecord[] = [];
  const broker = new EventBrokerServer({ port: 0, host: '127.0.0.1', logger: (record) => records.push(record) });
  broker.observe('#', () => {
    throw new Error('ledger write failed', { cause: Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' }) });
  }, { name: 'ledger' });
  const { url } = await broker.listen();
  const channel = new EventChannel({ url, ws: { backoff: () => 0 } });
  try {
    await channel.emit('logged.one', 1, { ack: true });
    await until(() => records.some((record) => record.level === 'error'), 'the error record');
    const error = records.find((record) => record.level === 'error')!;
    assert.is(error.code, 'handler_failed');
    assert.match(error.msg, /Observer "ledger" failed on logged\.one/);
    assert.match(error.cause ?? '', /ledger write failed: ECONNREFUSED connect refused/);
    await until(() => records.some((record) => record.conn !== undefined), 'a conn record');
    assert.ok(records.some((record) => record.level === 'info' && record.msg.startsWith('listening on')));
  } finally {
    await channel.close();
    await broker.close();
  }
});

test.run();
