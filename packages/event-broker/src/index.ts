// The public API of @eventwire/event-broker, listed by hand: values, then
// types, each module's names alphabetised, modules in path order (the
// broker's own, then what it re-exports from the channel's protocol module).

export { asyncApiDefaults } from './asyncapi/build.js';
export { asyncApiDocument } from './asyncapi/document.js';
export { envelopeHeadersSchema } from './asyncapi/headers.js';
export { jsonSchemaOf } from './asyncapi/json-schema.js';
export { failedAuthDefault } from './auth/access.js';
export { createApiKeyAuthenticator } from './auth/api-keys.js';
export { findToken } from './auth/authenticate.js';
export { channelKind } from './auth/channels.js';
export { createJwtAuthenticator } from './auth/jwt.js';
export { signChannel, signUser } from './auth/pusher-signature.js';
export { createBrokerFromConfig } from './broker-from-config.js';
export { clusterDefaults } from './cluster/cluster-options.js';
export { createClusterEngine } from './cluster/create-engine.js';
export { loadBrokerConfigFile, loadModuleExport } from './config-file.js';
export { BrokerConfigError, defineBrokerConfig, parseSize } from './config.js';
export { dashboardTopics } from './dashboard/dashboard.js';
export { LogHistoryStore, logHistoryStoreDefaults } from './history/log-store.js';
export { defaultHistoryMemoryBytes } from './history/memory-bound.js';
export { httpStatusFor } from './http.js';
export { brokerLogLevels } from './log-record.js';
export { createAuditLog } from './observers/audit-log.js';
export { createWebhookNotifier } from './observers/webhook.js';
export { brokerDefaults } from './options.js';
export { EventBrokerServer } from './server.js';
export { developmentPusherApp } from './surfaces/pusher/pusher-apps.js';
export { pusherWebhookDefaults, pusherWebhookEventTypes } from './surfaces/pusher/pusher-webhooks.js';
export { socketIoRecoveryDefaults } from './surfaces/socketio/session-store.js';
export { socketIoDefaults } from './surfaces/socketio/socketio-options.js';
export { historyRuleDefaults, HistoryRules, MemoryHistoryStore } from '@eventwire/event-channel/protocol';

export type { AsyncApiDocument, AsyncApiInfo } from './asyncapi/build.js';
export type { AsyncApiChannel, AsyncApiMessage } from './asyncapi/channels.js';
export type { AsyncApiOptions } from './asyncapi/document.js';
export type { JsonSchema } from './asyncapi/json-schema.js';
export type { AsyncApiOperation } from './asyncapi/operations.js';
export type { AsyncApiSecurityScheme } from './asyncapi/security.js';
export type { AsyncApiServer } from './asyncapi/servers.js';
export type { Caller, RateLimits, RefusalCounts } from './auth/access.js';
export type { ApiKey } from './auth/api-keys.js';
export type { Authenticator, AuthRequest, BrokerUser } from './auth/authenticate.js';
export type { ChannelKind, ChannelParams, ChannelRule } from './auth/channels.js';
export type { JwtAuthenticatorOptions, JwtUser } from './auth/jwt.js';
export type { AccessAction, PermissionRules, Permissions } from './auth/permissions.js';
export type { RateLimit } from './auth/rate-limit.js';
export type { ConfiguredBroker, ConfiguredBrokerOptions } from './broker-from-config.js';
export type {
  ClusterEngine,
  ClusterEngineHost,
  ClusterEngineStats,
  ClusterHistory,
  ClusterHistoryHost,
  ClusterLoss,
  ClusterState,
} from './cluster/cluster-engine.js';
export type { ClusterOptions } from './cluster/cluster-options.js';
export type { ClusterBus, ClusterPart } from './cluster/cluster-part.js';
export type { AuditLogConfig, BrokerConfig, ResolvedBrokerConfig, WebhookConfig } from './config.js';
export type { Connection, ConnectionEvents } from './connection.js';
export type { BrokerCore, PublishResult } from './core.js';
export type { DashboardOptions, DashboardStats } from './dashboard/dashboard.js';
export type { FsyncPolicy, LogHistoryStoreOptions } from './history/log-store.js';
export type {
  AnyHookEvent,
  EmitContext,
  HookEvent,
  HookOptions,
  HookParams,
  HookStats,
  InterceptContext,
  InterceptHook,
  ObserveContext,
  ObserveHook,
  PatternHookEvent,
  PublishOrigin,
  TopicHookEvent,
} from './hooks.js';
export type { BrokerLogger, BrokerLogLevel, BrokerLogRecord } from './log-record.js';
export type { AuditLog, AuditLogOptions } from './observers/audit-log.js';
export type { WebhookOptions, WebhookRetry } from './observers/webhook.js';
export type { BrokerOptions, MetricsOptions, PusherOptions } from './options.js';
export type { PresenceListener, PresenceMember } from './presence.js';
export type { RoutedEvent, Subscriber } from './router.js';
export type { BrokerAddress, BrokerStats, ClusterStats, ObserveOptions } from './server.js';
export type { PusherAppOptions } from './surfaces/pusher/pusher-apps.js';
export type { PusherWebhookEvent, PusherWebhookEventType, PusherWebhookOptions, PusherWebhookStats } from './surfaces/pusher/pusher-webhooks.js';
export type { SessionOps, SessionSubscriber, Subscribed } from './surfaces/session-ops.js';
export type { EngineCors as SocketIoCors } from './surfaces/socketio/engine/engine-options.js';
export type { RedisBridgeStats as SocketIoBridgeStats } from './surfaces/socketio/redis-bridge.js';
export type {
  Ack as SocketIoAck,
  AckWithError as SocketIoAckWithError,
  AnyListener as SocketIoAnyListener,
  BroadcastAck as SocketIoBroadcastAck,
  BroadcastOperator as SocketIoBroadcastOperator,
  Handshake as SocketIoHandshake,
  Middleware as SocketIoMiddleware,
  Namespace as SocketIoNamespace,
  NamespaceMatcher as SocketIoNamespaceMatcher,
  NamespaceName as SocketIoNamespaceName,
  ParentNamespace as SocketIoParentNamespace,
  RemoteSocket as SocketIoRemoteSocket,
  Socket as SocketIoSocket,
  SocketIoServer,
  SocketMiddleware as SocketIoSocketMiddleware,
  TimedEmitter as SocketIoTimedEmitter,
} from './surfaces/socketio/server-api.js';
export type { SocketIoRecoveryOptions } from './surfaces/socketio/session-store.js';
export type { SocketIoOptions, SocketIoRedisOptions } from './surfaces/socketio/socketio-options.js';
export type { SurfaceFactory, SurfaceHost, SurfaceLimits } from './surfaces/surface-host.js';
export type {
  Accepted,
  AdoptedUpgrade,
  PublishingSurfaceName,
  RefusedUpgrade,
  BrokerOrigin,
  Session,
  SessionStart,
  Surface,
  SurfaceHttp,
  SurfaceName,
  SurfaceRegistry,
  UpgradeRequest,
} from './surfaces/surface.js';
export type { Wire, WireEvents } from './wire/wire.js';
export type { HistoryRetention, HistoryRule, HistoryStore, MemoryHistoryStoreOptions, StoredEvent } from '@eventwire/event-channel/protocol';
