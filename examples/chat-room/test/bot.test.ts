// The chat room's bot and broker rules, tested through the test kit: the
// example's own broker config and sessions, the bot's real code, people as
// ws:// channels, on virtual time. The browser test (chat-room.test.ts)
// keeps testing the page over real sockets.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createTestHub, type TestHub } from '@eventwire/event-broker/testing';
import { startBot } from '../src/bot.js';
import { chatBrokerConfig } from '../src/broker-config.js';
import type { chat } from '../src/events.js';
import { createSessions } from '../src/sessions.js';

interface Context {
  hub: TestHub<typeof chat>;
  sessions: ReturnType<typeof createSessions>;
  log: string[];
}
const test = suite<Context>('chat room bot, on the test hub');

test.before.each(async (context) => {
  context.sessions = createSessions();
  context.hub = await createTestHub({ config: chatBrokerConfig, authenticate: context.sessions.authenticate });
  context.log = [];
  const bot = await startBot(context.hub.channel({ source: 'chat-bot', token: context.sessions.mint('bot', 365 * 86_400_000) }), (line) => context.log.push(line));
  await bot.enter('lobby');
});
test.after.each(async (context) => {
  await context.hub.close();
});

/** The bot's next line in the lobby. */
const botSays = async (hub: TestHub<typeof chat>) => (await hub.next('presence-room.lobby', { where: (event) => event.data.user === 'bot' })).data.text;

test('the bot greets whoever enters, answers !who from its presence list, and the broker stamps every author', async ({ hub, sessions, log }) => {
  const ada = hub.channel({ token: sessions.mint('ada') });
  await ada.presence('presence-room.lobby').ready;
  assert.match(await botSays(hub), /^welcome, ada!/);

  await ada.emit('presence-room.lobby', { text: '!who' }, { ack: true });
  assert.is(await botSays(hub), 'here: bot, ada');

  await ada.emit('presence-room.lobby', { text: 'I am bob, honest', user: 'bob' }, { ack: true });
  const stamped = await hub.next('presence-room.lobby', { where: (event) => event.data.text === 'I am bob, honest' });
  assert.is(stamped.data.user, 'ada', "the sender's claim replaced by its credentials");
  assert.ok(log.includes('#lobby <ada> I am bob, honest'), log.join('\n'));
});

test('an empty message is refused by the schema; a stranger is refused at the door', async ({ hub, sessions }) => {
  const ada = hub.channel({ token: sessions.mint('ada') });
  const refused = await ada.emit('presence-room.lobby', { text: '' }, { ack: true }).then(
    () => undefined,
    (error: { code?: string }) => error.code,
  );
  assert.is(refused, 'invalid_payload');
  const errors: string[] = [];
  const stranger = hub.channel({ token: 'forged', onError: (error) => errors.push(error.code) });
  await hub.settle();
  assert.is(stranger.status.state, 'closed');
  assert.ok(errors.includes('unauthorized'), errors.join());
});

test('a session ends when its ten minutes pass on the hub clock: the member leaves the room, as the bot sees', async ({ hub, sessions, log }) => {
  const ada = hub.channel({ token: sessions.mint('ada'), onError: () => {} });
  await ada.presence('presence-room.lobby').ready;
  await hub.advance(9 * 60_000);
  assert.not.ok(log.includes('ada left #lobby'), 'still there after nine minutes');
  await hub.advance(2 * 60_000);
  assert.ok(log.includes('ada left #lobby'), log.join('\n'));
  assert.not.equal(ada.status.state, 'open');
});

test.run();
