import { defineEvents } from '@eventwire/event-channel';
import { z } from 'zod';

/**
 * One presence channel per room: `presence-room.<room>` carries the room's
 * messages, and the broker keeps its member list (who is online). `user` is
 * stamped by the broker from the sender's credentials, whatever the sender wrote.
 */
export const chat = defineEvents({
  'presence-room.*': z.object({
    text: z.string().min(1).max(500),
    user: z.string().min(1).max(32).optional(),
  }),
});

/** What the room's presence rule says about each member (its member info). */
export const member = z.object({ name: z.string(), bot: z.boolean().optional() });

/** A room name as it may appear in a channel name. */
export const roomName = /^[\w-]{1,32}$/;
