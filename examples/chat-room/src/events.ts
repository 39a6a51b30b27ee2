import { defineEvents } from '@eventwire/event-channel';
import { z } from 'zod';

/** One family per room: chat.room.<room>.message and chat.room.<room>.joined. */
export const chat = defineEvents({
  'chat.room.*.message': z.object({
    user: z.string().min(1).max(32),
    text: z.string().min(1).max(500),
  }),
  'chat.room.*.joined': z.object({ user: z.string().min(1).max(32) }),
});
