// pusher-js for tests: its Node build's class, and waits on its channels.
import PusherJs from 'pusher-js';
import type * as PusherModule from 'pusher-js';
import Echo from 'laravel-echo';
import { within } from './helpers.js';

// pusher-js's Node build is CommonJS: at run time its class is the module
// itself, while its types declare it as the default export.
export const Pusher = ((PusherJs as unknown as { default?: unknown }).default ?? PusherJs) as (typeof PusherModule.default)['default'];
export type PusherClient = InstanceType<typeof Pusher>;

/** Resolves with a pusher-js channel's subscription_succeeded data; fails after 5 s naming `what`. */
export const subscribed = (channel: { bind(event: string, callback: (data: unknown) => void): unknown }, what: string): Promise<unknown> =>
  within(new Promise((resolve) => channel.bind('pusher:subscription_succeeded', resolve)), 5000, what);

/** Where a test broker listens (a TestBroker, or any of its kind). */
export interface PusherTarget {
  readonly port: number;
  readonly httpUrl: string;
}

/**
 * A pusher-js client of app `key` on a test broker, WebSocket only; private
 * and presence channels authorize at the broker's `/broadcasting/auth` and
 * `signin()` at `/pusher/user-auth`, with `token` as a Bearer when given.
 */
export function pusherClient(broker: PusherTarget, key: string, token?: string): PusherClient {
  const headers = token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } };
  return new Pusher(key, {
    cluster: 'eventwire', // pusher-js requires one; wsHost decides where it connects
    wsHost: '127.0.0.1',
    wsPort: broker.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    channelAuthorization: { endpoint: `${broker.httpUrl}/broadcasting/auth`, transport: 'ajax', ...headers },
    userAuthentication: { endpoint: `${broker.httpUrl}/pusher/user-auth`, transport: 'ajax', ...headers },
  });
}

/** Laravel Echo's `pusher` broadcaster on pusher-js, the same way as {@link pusherClient}. */
export function echoClient(broker: PusherTarget, key: string, token?: string): Echo<'pusher'> {
  return new Echo({
    broadcaster: 'pusher',
    key,
    cluster: 'eventwire',
    wsHost: '127.0.0.1',
    wsPort: broker.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    // Echo's types see pusher-js through its ESM typings; the class is the same.
    Pusher: Pusher as never,
    authEndpoint: `${broker.httpUrl}/broadcasting/auth`,
    ...(token !== undefined && { auth: { headers: { Authorization: `Bearer ${token}` } } }),
  });
}

/** The client's socket id once it is connected; fails after 5 s. */
export const socketIdOf = (client: PusherClient): Promise<string> =>
  within(
    new Promise<string>((resolve) => {
      if (client.connection.state === 'connected') return resolve(client.connection.socket_id);
      client.connection.bind('connected', () => resolve(client.connection.socket_id));
    }),
    5000,
    'pusher-js to connect',
  );
