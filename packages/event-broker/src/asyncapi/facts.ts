// What a generated AsyncAPI document says about a broker, read once from a
// config (the CLI, `asyncApiDocument({ config })`) or from a running
// broker's resolved options (`GET /asyncapi.json`): the rest of asyncapi/
// reads only this, never a config or the options.
import type { ApiKey } from '../auth/api-keys.js';
import type { PermissionRules } from '../auth/permissions.js';
import type { SurfaceDescription } from '../surfaces/surface.js';

/** How the broker authenticates, as far as a document can say. */
export interface AuthFacts {
  /** JWTs are verified (`jwtSecret` or `jwksUrl`). */
  readonly jwt: boolean;
  /** API keys, each standing for a user. */
  readonly apiKeys: readonly ApiKey[];
  /** An `authenticate` function of the application's own (a running broker knows no more). */
  readonly custom: boolean;
}

/** The broker, as a document describes it. */
export interface BrokerFacts {
  /** Where clients connect: the configured host and port. */
  readonly host: string;
  readonly port: number;
  /** TLS is served (wss://). */
  readonly secure: boolean;
  /** The surfaces turned on, in the broker's order. */
  readonly surfaces: readonly SurfaceDescription[];
  /** The cluster URL, when brokers share one event space through it. */
  readonly cluster: string | undefined;
  readonly auth: AuthFacts;
  readonly allowAnonymous: boolean;
  readonly permissions: PermissionRules | undefined;
  /** Channel rule templates (`private-user.{userId}`): channels guarded by a rule. */
  readonly channelTemplates: readonly string[];
}

/** True when connections show credentials at all. */
export function authenticates(auth: AuthFacts): boolean {
  return auth.jwt || auth.apiKeys.length > 0 || auth.custom;
}
