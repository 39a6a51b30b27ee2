import type { EventChannel, PresenceChannel } from '@eventwire/event-channel';
import type { z } from 'zod';
import { member, type chat } from './events.js';

/**
 * The room bot, a Node service on the broker like any other: it enters the
 * rooms the web server opens, greets whoever joins (it sees them through
 * presence), answers "!time" and "!who", and echoes anything addressed to it
 * ("bot, …"). Given its channel, signed in as `bot` (main.ts connects it to
 * the broker; the tests, to a test hub).
 */
export async function startBot(channel: EventChannel<typeof chat>, log: (line: string) => void) {
  const rooms = new Map<string, PresenceChannel<z.output<typeof member>>>();
  await channel.ready();

  async function enter(room: string): Promise<void> {
    if (rooms.has(room)) return;
    const topic = `presence-room.${room}` as const;
    const say = (text: string) => channel.emit(topic, { text });
    const presence = channel.presence(topic, { member });
    rooms.set(room, presence);
    presence.onJoin(({ info }) => {
      log(`${info.name} joined #${room}`);
      void say(`welcome, ${info.name}! Try "!time", "!who" or "bot, <anything>".`);
    });
    presence.onLeave(({ info }) => log(`${info.name} left #${room}`));
    channel.on(topic, async ({ user, text }) => {
      if (user === 'bot' || user === undefined) return;
      log(`#${room} <${user}> ${text}`);
      if (text === '!time') await say(`it is ${new Date().toISOString()}`);
      else if (text === '!who') await say(`here: ${presence.members().map((m) => m.info.name).join(', ')}`);
      else if (/^bot[,:]/i.test(text)) await say(`${user} said: ${text.replace(/^bot[,:]\s*/i, '')}`);
    });
    await presence.ready;
  }

  return { enter, close: () => channel.close() };
}
