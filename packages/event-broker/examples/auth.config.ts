// auth.config.ts — event-broker --config auth.config.ts (JWT_SECRET and ORDERS_API_KEY set)
import { defineBrokerConfig } from '@eventwire/event-broker';

// Refuse to start without the secrets: a broker left without one would run with that authentication off.
const { JWT_SECRET, ORDERS_API_KEY } = process.env;
if (!JWT_SECRET || !ORDERS_API_KEY) throw new Error('set JWT_SECRET and ORDERS_API_KEY (this config will not run without authentication)');

export default defineBrokerConfig({
  // Browsers and users: HS256 JWTs from your login service (`sub` is the user id).
  jwtSecret: JWT_SECRET,
  jwtAudience: 'shop',
  // Services: long-lived keys, each standing for a user with narrow permissions.
  apiKeys: [
    {
      key: ORDERS_API_KEY,
      user: 'svc-orders',
      permissions: { publish: ['order.*', 'private-user.*'], subscribe: ['inventory.#'] },
    },
  ],
  // Users without permissions of their own (no `permissions` claim) read everything public, publish chat only.
  permissions: { authenticated: { publish: ['chat.*'] } },
  // Private and presence channels: who may use each one (params typed from the template).
  channels: {
    'private-user.{userId}': (user, { userId }) => user?.id === userId || user?.id === 'svc-orders',
    'presence-room.{roomId}': (user, { roomId }) => user !== undefined && /^\d+$/.test(roomId),
  },
  // Abuse limits: per connection and per address; failed logins are limited by default.
  rateLimits: {
    publish: { perConnection: { perSecond: 50, burst: 100 } },
    subscribe: { perConnection: { perSecond: 20, burst: 200 } },
    connect: { perIp: { perSecond: 10, burst: 50 } },
  },
  maxConnectionsPerIp: 500,
});
