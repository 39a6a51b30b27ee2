// The public API of @eventwire/event-channel: everything that runs anywhere,
// listed by hand in browser.ts (the browser build's entry: values, then types,
// each module's names alphabetised, modules in path order, as nats.js's
// mod.ts does), plus the transports that need a server runtime, listed here.
// Anything not listed is internal and may change without notice; what the
// broker shares with this package goes through ./protocol instead.

export * from './browser.js';
export { parseNatsUrl } from './transport/nats-client.js';
export { natsSubjectsFor } from './transport/nats-subjects.js';
export { NatsTransport, natsTransportDefaults } from './transport/nats.js';
export { PostgresTransport, postgresTransportDefaults } from './transport/postgres.js';
export { kafkaTopicOf, KafkaTransport, kafkaTransportDefaults } from './transport/kafka-transport.js';
export { redisKeysFor, RedisTransport } from './transport/redis.js';

export type { NatsServerOptions } from './transport/nats-client.js';
export type { NatsTransportOptions } from './transport/nats.js';
export type { PostgresTransportOptions } from './transport/postgres.js';
export type { KafkaTransportOptions } from './transport/kafka-transport.js';
export type { RedisTransportOptions } from './transport/redis.js';
