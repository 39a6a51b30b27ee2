// The order board as people would use it: two browser tabs in headless
// Chromium (Laravel Echo + pusher-js, unchanged), the backend placing orders
// through the official pusher library, and the native warehouse answering.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chromiumAvailable, launchChromium } from '../../../scripts/testing/chromium.js';
import { runAndInterrupt } from '../../../scripts/testing/interrupt.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const test = suite('example: Laravel Echo order board');

test('Ctrl-C, once or three times, stops the order board cleanly', async () => {
  for (const repeat of [0, 2]) {
    const run = await runAndInterrupt(main, ['--port', '0', '--web-port', '0'], { when: (out) => out.includes('order board on'), repeat });
    assert.is(run.code, 0, `exit ${run.code ?? run.signal}\n${run.stderr}`);
    assert.is(run.stderr, '');
    assert.match(run.stdout, /order board stopped\n$/);
  }
});

/** Bounded wait on page state that has no event to await. */
async function until(condition: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const board = (page: Page) => page.evaluate('window.board') as Promise<{ orders: unknown[][]; notices: string[]; watching: string[]; typing: string[] }>;
const TITLE = "two tabs watch the board: presence, a whisper, an order placed to others through the pusher library, the native warehouse's answer on the board and privately";

if (!chromiumAvailable()) {
  test.skip(TITLE, () => {});
} else {
  test(TITLE, async () => {
    const server = spawn(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', main, '--port', '0', '--web-port', '0']);
    let out = '';
    server.stdout.on('data', (chunk) => (out += chunk));
    server.stderr.on('data', (chunk) => (out += chunk));
    const exited = new Promise((resolve) => server.on('exit', resolve));
    let browser: Browser | undefined;
    try {
      await until(async () => /order board on (http:\S+)/.test(out), 'the order board');
      const pageUrl = /order board on (http:\S+)/.exec(out)![1]!;
      browser = await launchChromium();
      const [ada, bob] = [await browser.newPage(), await browser.newPage()];
      await ada.goto(`${pageUrl}?user=ada`);
      await until(async () => (await ada.evaluate('window.boardReady === true')) as boolean, 'ada on the board');
      await bob.goto(`${pageUrl}?user=bob`);
      await until(async () => (await bob.evaluate('window.boardReady === true')) as boolean, 'bob on the board');
      await until(async () => JSON.stringify((await board(ada)).watching) === '["ada","bob"]', 'ada sees bob watching');
      assert.equal((await board(bob)).watching, ['ada', 'bob'], 'bob got the list on joining');

      await bob.locator('#item').pressSequentially('co');
      await until(async () => (await board(ada)).typing.includes('bob'), 'ada sees bob typing (a whisper)');

      await ada.locator('#item').fill('tea');
      await ada.locator('#place button').click();
      await until(async () => (await board(bob)).orders.some((entry) => entry[0] === 'packed'), 'bob sees the order packed');
      assert.equal((await board(bob)).orders, [
        ['placed', 'o1', 'ada'],
        ['packed', 'o1'],
      ]);
      await until(async () => (await board(ada)).notices.includes('o1'), "ada's private notice");
      // Ada's tab was left out of its own OrderPlaced (toOthers); the packed event came after it would have.
      await until(async () => (await board(ada)).orders.some((entry) => entry[0] === 'packed'), 'ada sees the order packed');
      assert.equal((await board(ada)).orders, [
        ['mine', 'o1'],
        ['packed', 'o1'],
      ]);
      assert.equal((await board(bob)).notices, [], "bob never gets ada's private notice");
      assert.match(out, /warehouse packed o1 for ada/);

      await bob.close();
      await until(async () => JSON.stringify((await board(ada)).watching) === '["ada"]', 'ada sees bob leave');
    } finally {
      await browser?.close();
      server.kill('SIGINT');
      await exited;
    }
  });
}

test.run();
