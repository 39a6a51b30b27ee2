// pusher-js for tests: its Node build's class, and waits on its channels.
import PusherJs from 'pusher-js';
import type * as PusherModule from 'pusher-js';
import { within } from './helpers.js';

// pusher-js's Node build is CommonJS: at run time its class is the module
// itself, while its types declare it as the default export.
export const Pusher = ((PusherJs as unknown as { default?: unknown }).default ?? PusherJs) as (typeof PusherModule.default)['default'];
export type PusherClient = InstanceType<typeof Pusher>;

/** Resolves with a pusher-js channel's subscription_succeeded data; fails after 5 s naming `what`. */
export const subscribed = (channel: { bind(event: string, callback: (data: unknown) => void): unknown }, what: string): Promise<unknown> =>
  within(new Promise((resolve) => channel.bind('pusher:subscription_succeeded', resolve)), 5000, what);
