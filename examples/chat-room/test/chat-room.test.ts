// Smoke test: the chat example as a person would use it, in headless Chromium.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromiumAvailable, launchChromium } from '../../../scripts/testing/chromium.js';
import { runAndInterrupt } from '../../../scripts/testing/interrupt.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const test = suite('example: chat room');

test('Ctrl-C, once or three times, stops the chat server cleanly', async () => {
  for (const repeat of [0, 2]) {
    const run = await runAndInterrupt(main, ['--port', '0', '--web-port', '0'], { when: (out) => out.includes('chat page on'), repeat });
    assert.is(run.code, 0, `exit ${run.code ?? run.signal}\n${run.stderr}`);
    assert.is(run.stderr, '');
    assert.match(run.stdout, /chat stopped\n$/);
  }
});

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

if (!chromiumAvailable()) {
  test.skip('two people and the bot chat in a room; a bad message is refused by the broker', () => {});
} else {
  test('two people and the bot chat in a room; a bad message is refused by the broker', async () => {
    const server = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', main, '--port', '0', '--web-port', '0']);
    let out = '';
    server.stdout.on('data', (chunk) => (out += chunk));
    server.stderr.on('data', (chunk) => (out += chunk));
    const exited = new Promise((resolve) => server.on('exit', resolve));
    let browser: Browser | undefined;
    try {
      await until(() => /chat page on (http:\S+)/.test(out), 'chat server');
      const pageUrl = /chat page on (http:\S+)/.exec(out)![1]!;
      const chromium = await launchChromium();
      browser = chromium;
      const [ada, bob] = [await chromium.newPage(), await chromium.newPage()];
      await ada.goto(`${pageUrl}?user=ada&room=lobby`);
      await bob.goto(`${pageUrl}?user=bob&room=lobby`);
      const logText = (page: typeof ada) => page.locator('#log').innerText();
      for (const page of [ada, bob]) await until(async () => (await page.evaluate('window.chatReady === true')) as boolean, 'page ready');
      await until(async () => (await logText(ada)).includes('bot: welcome, ada!'), 'welcome for ada');

      await ada.fill('#text', 'hello bob <b>not bold</b>');
      await ada.press('#text', 'Enter');
      await until(async () => (await logText(bob)).includes('ada: hello bob <b>not bold</b>'), 'bob sees ada (as text)');
      assert.is(await bob.locator('#log b').count(), 0); // never parsed as HTML

      await bob.fill('#text', '!time');
      await bob.press('#text', 'Enter');
      await until(async () => /bot: it is \d{4}-\d\d-\d\dT/.test(await logText(ada)), 'bot answers !time to everyone');

      await ada.fill('#text', '');
      await ada.press('#text', 'Enter'); // empty text: the broker's schema refuses it
      await until(async () => (await logText(ada)).includes('not sent (invalid_payload)'), 'refusal shown');
      assert.match(await ada.locator('#status').innerText(), /open/);
      assert.match(out, /#lobby <ada> hello bob/);
    } finally {
      await browser?.close();
      server.kill('SIGTERM');
      await exited;
    }
  });
}

test.run();
