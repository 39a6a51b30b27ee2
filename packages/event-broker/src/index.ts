// The public surface of @eventwire/event-broker, listed by hand.

export { EventBrokerServer } from './server.js';
export { brokerDefaults } from './options.js';
export { httpStatusFor } from './http.js';
export { createAuditLog } from './observers/audit-log.js';
export { createWebhookNotifier } from './observers/webhook.js';
export { BrokerConfigError, defineBrokerConfig, parseSize } from './config.js';
export { loadBrokerConfigFile } from './config-file.js';
export { createBrokerFromConfig } from './broker-from-config.js';
export { HistoryRules, MemoryHistoryStore, historyRuleDefaults } from '@eventwire/event-channel/protocol';
export { LogHistoryStore, logHistoryStoreDefaults } from './history/log-store.js';
export { defaultHistoryMemoryBytes } from './history/memory-bound.js';
export { findToken } from './auth/authenticate.js';
export { createJwtAuthenticator } from './auth/jwt.js';
export { channelKind } from './auth/channels.js';
export { createApiKeyAuthenticator } from './auth/api-keys.js';
export { failedAuthDefault } from './auth/access.js';
export { developmentPusherApp } from './surfaces/pusher/pusher-apps.js';
export { signChannel, signUser } from './auth/pusher-signature.js';

export type { BrokerAddress, BrokerStats, ClusterStats, ObserveOptions } from './server.js';
export { clusterDefaults } from './cluster/cluster-options.js';
export type { ClusterOptions } from './cluster/cluster-options.js';
export { createClusterEngine } from './cluster/create-engine.js';
export type { ClusterEngine, ClusterEngineHost, ClusterEngineStats, ClusterHistory, ClusterHistoryHost, ClusterLoss, ClusterState } from './cluster/cluster-engine.js';
export type { ClusterBus, ClusterPart } from './cluster/cluster-part.js';
export type { BrokerOptions, MetricsOptions, PusherOptions } from './options.js';
export type { DashboardOptions, DashboardStats } from './dashboard/dashboard.js';
export { dashboardTopics } from './dashboard/dashboard.js';
export type { PusherAppOptions } from './surfaces/pusher/pusher-apps.js';
export type { AuditLogConfig, BrokerConfig, ResolvedBrokerConfig, WebhookConfig } from './config.js';
export type { ConfiguredBroker, ConfiguredBrokerOptions } from './broker-from-config.js';
export type { FsyncPolicy, LogHistoryStoreOptions } from './history/log-store.js';
export type { AuthRequest, Authenticator, BrokerUser } from './auth/authenticate.js';
export type { JwtAuthenticatorOptions, JwtUser } from './auth/jwt.js';
export type { ChannelKind, ChannelParams, ChannelRule } from './auth/channels.js';
export type { ApiKey } from './auth/api-keys.js';
export type { AccessAction, PermissionRules, Permissions } from './auth/permissions.js';
export type { Caller, RateLimits, RefusalCounts } from './auth/access.js';
export type { RateLimit } from './auth/rate-limit.js';
export type { HistoryRetention, HistoryRule, HistoryStore, MemoryHistoryStoreOptions, StoredEvent } from '@eventwire/event-channel/protocol';
export type { BrokerCore, PublishResult } from './core.js';
export type { Connection, ConnectionEvents } from './connection.js';
export type { RoutedEvent, Subscriber } from './router.js';
export type { PresenceListener, PresenceMember } from './presence.js';
export type {
  Accepted,
  PublishingSurfaceName,
  RefusedUpgrade,
  Session,
  SessionStart,
  Surface,
  SurfaceHttp,
  SurfaceName,
  SurfaceRegistry,
  UpgradeRequest,
} from './surfaces/surface.js';
export type { SurfaceFactory, SurfaceHost, SurfaceLimits } from './surfaces/surface-host.js';
export type { SessionOps, SessionSubscriber, Subscribed } from './surfaces/session-ops.js';
export type { Wire, WireEvents } from './wire/wire.js';
export type { AuditLog, AuditLogOptions } from './observers/audit-log.js';
export type { WebhookOptions } from './observers/webhook.js';
export type {
  AnyHookEvent,
  EmitContext,
  HookEvent,
  HookStats,
  InterceptContext,
  InterceptHook,
  ObserveContext,
  ObserveHook,
  PatternHookEvent,
  PublishOrigin,
  TopicHookEvent,
} from './hooks.js';
