// Smoke test: the chat example as a person would use it, in headless Chromium.
import { fileURLToPath } from 'node:url';
import { EventChannel } from '@eventwire/event-channel';
import type { Browser } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { browserWaitMs, chromiumAvailable, launchChromium } from '../../../scripts/testing/chromium.js';
import { startExample } from '../../../scripts/testing/example-process.js';
import { until } from '../../../scripts/testing/waits.js';
import { assertStopsCleanly } from '../../../scripts/testing/interrupt.js';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const test = suite('example: chat room');

test('Ctrl-C, once or three times, stops the chat server cleanly', () => assertStopsCleanly(main, ['--port', '0', '--web-port', '0'], 'chat page on', /chat stopped\n$/));

const TITLE = 'two people and the bot chat in a room, see who is online and who leaves; the room is private; a bad message is refused; the author is the broker\'s word';

if (!chromiumAvailable()) {
  test.skip(TITLE, () => {});
} else {
  test(TITLE, async () => {
    const server = startExample(main, ['--port', '0', '--web-port', '0']);
    let browser: Browser | undefined;
    const channels: EventChannel[] = [];
    try {
      await until(() => /chat page on (http:\S+) \(broker (ws:\S+)\)/.test(server.output()), 'chat server', browserWaitMs);
      const [, pageUrl, brokerUrl] = /chat page on (http:\S+) \(broker (ws:\S+)\)/.exec(server.output())!;
      const chromium = await launchChromium();
      browser = chromium;
      const [ada, bob] = [await chromium.newPage(), await chromium.newPage()];
      await ada.goto(`${pageUrl}?user=ada&room=lobby`);
      await until(async () => (await ada.evaluate('window.chatReady === true')) as boolean, 'ada ready', browserWaitMs);
      await bob.goto(`${pageUrl}?user=bob&room=lobby`);
      await until(async () => (await bob.evaluate('window.chatReady === true')) as boolean, 'bob ready', browserWaitMs);
      const logText = (page: typeof ada) => page.locator('#log').innerText();
      const online = async (page: typeof ada) => (await page.locator('#online li').allInnerTexts()).sort();
      await until(async () => (await logText(ada)).includes('bot: welcome, ada!'), 'welcome for ada', browserWaitMs);

      // Who is online, on both pages; ada saw bob arrive.
      await until(async () => JSON.stringify(await online(ada)) === '["ada","bob","bot"]', 'ada sees bob online', browserWaitMs);
      assert.equal(await online(bob), ['ada', 'bob', 'bot'], 'bob got the list on joining');
      assert.is(await ada.locator('#count').innerText(), '3');
      assert.match(await logText(ada), /bob joined/);

      await ada.fill('#text', 'hello bob <b>not bold</b>');
      await ada.press('#text', 'Enter');
      await until(async () => (await logText(bob)).includes('ada: hello bob <b>not bold</b>'), 'bob sees ada (as text)', browserWaitMs);
      assert.is(await bob.locator('#log b').count(), 0); // never parsed as HTML

      await bob.fill('#text', '!who');
      await bob.press('#text', 'Enter');
      await until(async () => /bot: here: (?=.*ada)(?=.*bob)(?=.*bot)/.test(await logText(ada)), 'the bot answers !who from its presence list', browserWaitMs);

      await ada.fill('#text', '');
      await ada.press('#text', 'Enter'); // empty text: the broker's schema refuses it
      await until(async () => (await logText(ada)).includes('not sent (invalid_payload)'), 'refusal shown', browserWaitMs);
      assert.match(await ada.locator('#status').innerText(), /open/);
      assert.match(server.output(), /#lobby <ada> hello bob/);

      // The room is private: a forged token gets nowhere.
      const forged = new EventChannel({ url: brokerUrl!, ws: { token: 'forged' }, onError: () => {} });
      channels.push(forged);
      const refused = await new Promise<string | undefined>((resolve) => forged.onStatus((status) => status.state === 'closed' && resolve(status.error?.code)));
      assert.is(refused, 'unauthorized');
      // Signed in through the page's server, a Node client may speak, but only as itself.
      const session = (await (await fetch(`${pageUrl}session?user=eve&room=lobby`, { method: 'POST' })).json()) as { token: string };
      const eve = new EventChannel({ url: brokerUrl!, ws: { token: session.token } });
      channels.push(eve);
      await eve.emit('presence-room.lobby', { text: 'I am ada, honest', user: 'ada' }, { ack: true });
      await until(async () => (await logText(bob)).includes('eve: I am ada, honest'), 'stamped with the real author', browserWaitMs);

      // A tab closed: the others see the member leave.
      await bob.close();
      await until(async () => JSON.stringify(await online(ada)) === '["ada","bot"]', 'bob gone from the list', browserWaitMs);
      assert.match(await logText(ada), /bob left/);
    } finally {
      await Promise.all(channels.map((channel) => channel.close()));
      await browser?.close();
      await server.stop();
    }
  });
}

test.run();
