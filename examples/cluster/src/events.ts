import { defineEvents } from '@eventwire/event-channel';
import { z } from 'zod';

/** The cluster's one event family: a message in a room (`chat.room.<room>`), whichever broker the sender is on. */
export const chat = defineEvents({
  'chat.room.*': z.object({ author: z.string(), text: z.string().min(1) }),
});
