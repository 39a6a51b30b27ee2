// The order board as people would use it: two browser tabs in headless
// Chromium (Laravel Echo + pusher-js, unchanged), the backend placing orders
// through the official pusher library, and the native warehouse answering.
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { browserWaitMs, chromiumAvailable, launchChromium } from '../../../scripts/testing/chromium.js';
import { startExample } from '../../../scripts/testing/example-process.js';
import { until } from '../../../scripts/testing/waits.js';
import { assertStopsCleanly } from '../../../scripts/testing/interrupt.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const test = suite('example: Laravel Echo order board');

test('Ctrl-C, once or three times, stops the order board cleanly', () => assertStopsCleanly(main, ['--port', '0', '--web-port', '0'], 'order board on', /order board stopped\n$/));

const board = (page: Page) => page.evaluate('window.board') as Promise<{ orders: unknown[][]; notices: string[]; watching: string[]; typing: string[] }>;
const TITLE = "two tabs watch the board: presence, a whisper, an order placed to others through the pusher library, the native warehouse's answer on the board and privately";

if (!chromiumAvailable()) {
  test.skip(TITLE, () => {});
} else {
  test(TITLE, async () => {
    const server = startExample(main, ['--port', '0', '--web-port', '0']);
    let browser: Browser | undefined;
    try {
      await until(() => /order board on (http:\S+)/.test(server.output()), 'the order board', browserWaitMs);
      const pageUrl = /order board on (http:\S+)/.exec(server.output())![1]!;
      browser = await launchChromium();
      const [ada, bob] = [await browser.newPage(), await browser.newPage()];
      await ada.goto(`${pageUrl}?user=ada`);
      await until(async () => (await ada.evaluate('window.boardReady === true')) as boolean, 'ada on the board', browserWaitMs);
      await bob.goto(`${pageUrl}?user=bob`);
      await until(async () => (await bob.evaluate('window.boardReady === true')) as boolean, 'bob on the board', browserWaitMs);
      await until(async () => JSON.stringify((await board(ada)).watching) === '["ada","bob"]', 'ada sees bob watching', browserWaitMs);
      assert.equal((await board(bob)).watching, ['ada', 'bob'], 'bob got the list on joining');

      await bob.locator('#item').pressSequentially('co');
      await until(async () => (await board(ada)).typing.includes('bob'), 'ada sees bob typing (a whisper)', browserWaitMs);

      await ada.locator('#item').fill('tea');
      await ada.locator('#place button').click();
      await until(async () => (await board(bob)).orders.some((entry) => entry[0] === 'packed'), 'bob sees the order packed', browserWaitMs);
      assert.equal((await board(bob)).orders, [
        ['placed', 'o1', 'ada'],
        ['packed', 'o1'],
      ]);
      await until(async () => (await board(ada)).notices.includes('o1'), "ada's private notice", browserWaitMs);
      // Ada's tab was left out of its own OrderPlaced (toOthers): the packed event, which the
      // warehouse sends only after it heard OrderPlaced, came on the same socket after it would have.
      // (The HTTP answer behind 'mine' may come before or after the packed event.)
      await until(async () => (await board(ada)).orders.length === 2, "ada's own order and its packing", browserWaitMs);
      assert.equal(
        (await board(ada)).orders.map((entry) => entry.join(' ')).sort(),
        ['mine o1', 'packed o1'],
      );
      assert.equal((await board(bob)).notices, [], "bob never gets ada's private notice");
      assert.match(server.output(), /warehouse packed o1 for ada/);

      await bob.close();
      await until(async () => JSON.stringify((await board(ada)).watching) === '["ada"]', 'ada sees bob leave', browserWaitMs);
    } finally {
      await browser?.close();
      await server.stop();
    }
  });
}

test.run();
