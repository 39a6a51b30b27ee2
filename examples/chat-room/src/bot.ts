import { EventChannel } from '@eventwire/event-channel';
import { chat } from './events.js';

/**
 * A bot in every room: greets whoever joins, answers "!time" and "!rooms",
 * and echoes anything addressed to it ("bot, …").
 */
export async function startBot(url: string, log: (line: string) => void) {
  const channel = new EventChannel({ url, events: chat, source: 'chat-bot' });
  const rooms = new Set<string>();
  const say = (room: string, text: string) => channel.emit(`chat.room.${room}.message`, { user: 'bot', text });
  channel.on('chat.room.*.joined', async ({ user }, event) => {
    const room = event.topic.split('.')[2]!;
    rooms.add(room);
    log(`${user} joined #${room}`);
    await say(room, `welcome, ${user}! Try "!time", "!rooms" or "bot, <anything>".`);
  });
  channel.on('chat.room.*.message', async ({ user, text }, event) => {
    if (user === 'bot') return;
    const room = event.topic.split('.')[2]!;
    log(`#${room} <${user}> ${text}`);
    if (text === '!time') await say(room, `it is ${new Date().toISOString()}`);
    else if (text === '!rooms') await say(room, `rooms: ${[...rooms].map((r) => `#${r}`).join(' ')}`);
    else if (/^bot[,:]/i.test(text)) await say(room, `${user} said: ${text.replace(/^bot[,:]\s*/i, '')}`);
  });
  await channel.ready();
  return channel;
}
