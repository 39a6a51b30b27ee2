// The rows of the channel URL table whose clients only run on a server
// (nats://, redis://, postgres://, kafka://). A file of their own so the browser build
// (scripts/bundle-browser.mjs) can put server-transports.browser.ts in its
// place: same keys and schemes, so a browser user asking for one gets a
// typed `unsupported_transport` instead of code that cannot run there.
import { KafkaTransport, type KafkaTransportOptions } from './kafka-transport.js';
import { NatsTransport, type NatsTransportOptions } from './nats.js';
import { PostgresTransport, type PostgresTransportOptions } from './postgres.js';
import { RedisTransport, type RedisTransportOptions } from './redis.js';
import { entry, parsed } from './transport-entry.js';

export const serverTransports = {
  /** For `nats://` URLs: more servers, credentials (`token`, `user`/`pass`, `credentials`), TLS, outbox, timeouts. */
  nats: entry<Omit<NatsTransportOptions, 'url'>>({
    schemes: ['nats'],
    several: true,
    // Not parsed here: `nats://a:4222,b:4222` is a server list, not a URL the URL parser takes.
    create: ({ url, more }, options) =>
      new NatsTransport({ ...options, url, ...(more.length > 0 && { servers: [...more, ...(options?.servers ?? [])] }) }),
  }),
  /** For `redis://` and `rediss://` URLs: a channel-name prefix, backoff, outbox, timeouts, ioredis options. */
  redis: entry<Omit<RedisTransportOptions, 'url'>>({
    schemes: ['redis', 'rediss'],
    create: ({ url }, options) => new RedisTransport(parsed(url, options)),
  }),
  /** For `postgres://` URLs: the NOTIFY channel, the large-event table and its retention, backoff, outbox, postgres.js options. */
  postgres: entry<Omit<PostgresTransportOptions, 'url'>>({
    schemes: ['postgres', 'postgresql'],
    create: ({ url }, options) => new PostgresTransport(parsed(url, options)),
  }),
  /** For `kafka://host:port[,host:port…]` URLs: fetch wait, topic creation, backoff, outbox, timeouts. */
  kafka: entry<Omit<KafkaTransportOptions, 'url'>>({
    schemes: ['kafka'],
    // The bootstrap list is inside one URL (`kafka://a:9092,b:9092`); a list of kafka:// URLs adds to it.
    several: true,
    create: ({ url, more }, options) => new KafkaTransport({ ...options, url: [url, ...more].join(',').replace(/,kafka:\/\//g, ',') }),
  }),
};
