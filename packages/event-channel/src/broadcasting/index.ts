// @eventwire/event-channel/broadcasting: server-side broadcasting, as teams
// coming from Laravel or FastAPI broadcasting layers know it.
export { createBroadcaster } from './broadcaster.js';
export { resolveBroadcast } from './broadcastable.js';
export { channelDriver, httpDriver, kafkaDriver, logDriver, nullDriver, redisDriver } from './drivers.js';
export { PUSHER_MAX_CHANNELS, pusherDriver, pusherDriverDefaults } from './pusher-driver.js';
export { pusherStringToSign, signPusherRequest } from './pusher-signature.js';
export type { Broadcast, PendingBroadcast } from './broadcaster.js';
export type { BroadcastChannels, BroadcastCheck, BroadcastData, BroadcastMessage, Broadcastable, MismatchedChannels } from './broadcastable.js';
export type { BroadcastDriver, HttpDriverOptions, KafkaDriverOptions, RedisDriverOptions } from './drivers.js';
export type { PusherDriverOptions } from './pusher-driver.js';
export type { PusherCredentials } from './pusher-signature.js';
