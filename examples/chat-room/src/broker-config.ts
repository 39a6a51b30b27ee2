// The chat room's broker: the message schema enforced, each room a presence
// channel any signed-in person may enter, and the author of every message
// stamped by the broker. What main.ts serves, and what the tests run on a
// test hub and describe as AsyncAPI. Authentication is the app's sessions
// (sessions.ts), given beside it: a function is no config value.
import { defineBrokerConfig } from '@eventwire/event-broker';
import { chat, roomName } from './events.js';

export const chatBrokerConfig = defineBrokerConfig({
  port: 15500,
  events: chat,
  // The info returned here is what everyone in the room sees of a member.
  channels: {
    'presence-room.{room}': (user, { room }) => (user && roomName.test(room) ? { name: user.id, ...(user.id === 'bot' && { bot: true }) } : false),
  },
  setup(broker) {
    // Who said it is the broker's word, not the sender's.
    broker.intercept('presence-room.*', (event, ctx) => {
      const author = ctx.origin.user?.id;
      if (author === undefined) ctx.reject('sign in to speak');
      if (event.data.user !== author) ctx.transform({ ...event.data, user: author });
    });
  },
});
