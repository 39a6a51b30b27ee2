// The order board's broker: the Pusher protocol for the page's app, and the
// channel rules (routes/channels.php, in TypeScript) guarding who watches the
// board and each customer's private channel. What main.ts serves, and what
// the AsyncAPI test describes. A function of the app: its secret is made per
// run (a Laravel app keeps it in .env). Authentication is the app's sessions
// (sessions.ts), given beside it: a function is no config value.
import { defineBrokerConfig, type PusherAppOptions } from '@eventwire/event-broker';

/** The Pusher app the page and the backend use (PUSHER_APP_ID and _KEY); the secret is the caller's. */
export const ordersApp = { id: 'orders-app', key: 'orders-key' } as const;

/** The broker's config for `app` (ordersApp with its secret). */
export function boardBrokerConfig(app: PusherAppOptions) {
  return defineBrokerConfig({
    port: 15500,
    pusher: { apps: [app] },
    channels: {
      // Who is watching the board: anyone signed in.
      'presence-board': (user) => (user ? { name: user.id } : false),
      // A customer's own channel: the customer reads it, the warehouse writes to it.
      'private-user.{id}': (user, { id }) => user?.id === id || user?.id === 'warehouse',
    },
  });
}
