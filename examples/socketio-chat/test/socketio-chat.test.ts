// The chats example as it runs: the Python service (python-socketio's
// AsyncRedisManager, unchanged) broadcasts, the Node watcher in chat.7 and a
// page in headless Chromium (socket.io-client's browser build, from the
// example's own origin) receive, the audit hook writes. Needs redis-server and
// Debian's python3-socketio; skipped with the reason otherwise (CI installs both).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { browserWaitMs, chromiumAvailable, launchChromium, pageValue } from '../../../scripts/testing/chromium.js';
import { startExample } from '../../../scripts/testing/example-process.js';
import { assertStopsCleanly, occurrences } from '../../../scripts/testing/interrupt.js';
import { redisServerAvailable } from '../../../scripts/testing/redis-server.js';
import { until } from '../../../scripts/testing/waits.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const test = suite<{ dir: string }>('example: Socket.IO chats from python-socketio');

function pythonSocketioAvailable(): boolean {
  if (spawnSync('/usr/bin/python3', ['-c', 'import socketio, redis']).status === 0) return true;
  const why = 'python-socketio is not importable by /usr/bin/python3 (apt-get install -y python3-socketio python3-redis)';
  if (process.env['CI'] === 'true') throw new Error(why);
  console.warn(`SKIPPED socketio-chat example: ${why}`);
  return false;
}

const available = redisServerAvailable() && pythonSocketioAvailable();
test.before((context) => {
  context.dir = mkdtempSync(join(tmpdir(), 'socketio-chat-'));
});
test.after((context) => rmSync(context.dir, { recursive: true, force: true }));

test('--help and a bad option answer in one line', () => {
  const run = (args: string[]) => spawnSync(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', main, ...args], { encoding: 'utf8' });
  const help = run(['--help']);
  assert.is(help.status, 0);
  assert.match(help.stdout, /^Usage: npm run example:socketio/);
  const bad = run(['--rounds', 'many']);
  assert.is(bad.status, 2);
  assert.match(bad.stderr, /^socketio-chat: --rounds takes a whole number, got "many"\n/);
});

const args = (dir: string, more: string[]) => ['--port', '0', '--web-port', '0', '--audit', join(dir, 'audit.jsonl'), ...more];

const ROUNDS = 'four Python broadcasts: the Node watcher in chat.7 gets the chat.7 ones only, the audit hook writes each once, the channel rule refuses a staff chat';
if (!available) test.skip(ROUNDS, () => {});
else
  test(ROUNDS, async ({ dir }) => {
    const example = startExample(main, args(dir, ['--rounds', '4', '--interval-ms', '50']));
    try {
      await until(() => /service done after 4 broadcasts/.test(example.output()) && occurrences(example.output(), /audit chat\./g) === 4, 'four broadcasts audited', 20_000);
      await until(() => occurrences(example.output(), /watcher in chat\.7 got/g) === 2, 'the watcher to get both chat.7 updates');
      const output = example.output();
      assert.equal(output.match(/service broadcast UpdateChat to chat\.\d: [^\n]*/g), [
        'service broadcast UpdateChat to chat.7: Launch plan #1',
        'service broadcast UpdateChat to chat.8: Coffee #1',
        'service broadcast UpdateChat to chat.7: Launch plan #2',
        'service broadcast UpdateChat to chat.8: Coffee #2',
      ]);
      assert.equal(output.match(/watcher in chat\.7 got [^\n]*/g), ['watcher in chat.7 got UpdateChat: Launch plan #1', 'watcher in chat.7 got UpdateChat: Launch plan #2']);
      assert.match(output, /watcher asking for private-chat\.1: refused forbidden/);
      const audited = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { topic: string; event: string; data: { messages: number } });
      assert.equal(audited.map((entry) => [entry.topic, entry.event, entry.data.messages]), [
        ['chat.7', 'UpdateChat', 1],
        ['chat.8', 'UpdateChat', 1],
        ['chat.7', 'UpdateChat', 2],
        ['chat.8', 'UpdateChat', 2],
      ]);
    } finally {
      await example.stop();
    }
    assert.match(example.output(), /chats stopped\n$/);
  });

const PAGE = "a page from the example's origin: polling upgraded to WebSocket across origins, chat.7's updates shown, chat.8 joined on a click";
if (!available || !chromiumAvailable()) test.skip(PAGE, () => {});
else
  test(PAGE, async ({ dir }) => {
    const example = startExample(main, args(dir, ['--rounds', '0', '--interval-ms', '100']));
    let browser: Browser | undefined;
    try {
      await until(() => /chats on (http:\S+)/.test(example.output()), 'the chats page', browserWaitMs);
      const pageUrl = /chats on (http:\S+)/.exec(example.output())![1]!;
      browser = await launchChromium();
      const page = await browser.newPage();
      await page.goto(pageUrl);
      type Chats = { updates: [number, number][]; joined: string[]; transport: string };
      await pageValue<Chats>(page, 'window.chats', (chats) => chats.updates.length >= 2 && chats.transport === 'websocket', 'two updates over WebSocket');
      let chats = (await page.evaluate('window.chats')) as Chats;
      assert.equal(chats.joined, ['chat.7']);
      assert.ok(chats.updates.every(([id]) => id === 7), `only chat 7: ${JSON.stringify(chats.updates)}`);
      await page.locator('#more').click();
      chats = await pageValue<Chats>(page, 'window.chats', (value) => value.updates.some(([id]) => id === 8), 'chat 8 after joining it');
      assert.equal(chats.joined, ['chat.7', 'chat.8']);
      assert.match(await page.locator('#chat-7 b').textContent() ?? '', /Launch plan/);
    } finally {
      await browser?.close();
      await example.stop();
    }
  });

test('Ctrl-C, once or three times, stops the chats cleanly (redis-server and the Python service with it)', async ({ dir }) => {
  if (!available) return;
  await assertStopsCleanly(main, args(dir, ['--interval-ms', '50']), 'chats on', /chats stopped\n$/);
});

test.run();
