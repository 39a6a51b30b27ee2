// eventwire-tail as a real process against a real broker.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventChannel } from '@eventwire/event-channel';
import { EventBrokerServer } from '@eventwire/event-broker';
import { createEventLogger, logEvents } from '../src/index.js';
import { runAndInterrupt } from '../../../scripts/testing/interrupt.js';
import { until } from '../../../scripts/testing/waits.js';

const tail = fileURLToPath(new URL('../src/tail.ts', import.meta.url));
const test = suite('eventwire-tail');

/** tail is a child process started through tsx: its first output takes seconds on a loaded machine. */
const WAIT = 15_000;

test('shows one service at or above a level, live', async () => {
  const broker = new EventBrokerServer({ port: 0 });
  const { url } = await broker.listen();
  const child = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', tail, '--url', url, '--level', 'warn', '--service', 'payments']);
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  child.stderr.on('data', (chunk) => (err += chunk));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const channel = new EventChannel({ url, events: logEvents });
  try {
    await until(() => err.includes('watching'), 'tail to subscribe', WAIT);
    const payments = createEventLogger({ channel, service: 'payments', level: 'debug' });
    const shipping = createEventLogger({ channel, service: 'shipping' });
    payments.info('not shown: below warn');
    shipping.error('not shown: other service');
    payments.warn('card retry {attempt}', { attempt: 2 });
    payments.error('card declined', new Error('insufficient funds'));
    await Promise.all([payments.flush(), shipping.flush()]);
    await until(() => out.includes('card declined'), 'error line', WAIT);
    assert.match(out, /WARN  payments: card retry 2 \{"attempt":2\}/);
    assert.match(out, /ERROR payments: card declined\n  Error: insufficient funds/);
    assert.not.match(out, /not shown/);
  } finally {
    child.kill('SIGTERM');
    await exited;
    await channel.close();
    await broker.close();
  }
});

test('Ctrl-C stops it cleanly, even while it is still trying to reach a broker that is down', async () => {
  const down = await runAndInterrupt(tail, ['--url', 'ws://127.0.0.1:1'], { when: (out) => out.includes('reconnecting') });
  assert.is(down.code, 0, `exit ${down.code ?? down.signal}\n${down.stderr}`);
  assert.not.match(down.stderr, /Error|channel_closed/);
  const broker = new EventBrokerServer({ port: 0 });
  const { url } = await broker.listen();
  try {
    const up = await runAndInterrupt(tail, ['--url', url], { when: (out) => out.includes('watching'), repeat: 2 });
    assert.is(up.code, 0, `exit ${up.code ?? up.signal}\n${up.stderr}`);
  } finally {
    await broker.close();
  }
});

test.run();
