// An AsyncAPI 3.0 document generated from the code that enforces the
// contract: the event map (channels, JSON Schema payloads), and the broker's
// config (servers per surface, security, who may publish and subscribe what,
// channel rule parameters). The building is build.ts's; this file reads a config.
import type { EventMap } from '@eventwire/event-channel';
import { brokerOptionsOf } from '../broker-from-config.js';
import { validateConfig, type BrokerConfig, type ResolvedBrokerConfig } from '../config.js';
import { resolveBrokerOptions } from '../options.js';
import { documentOf, factsOfOptions, type AsyncApiDocument, type AsyncApiInfo } from './build.js';
import { authenticates, type AuthFacts, type BrokerFacts } from './facts.js';
import type { JsonSchema } from './json-schema.js';

/** What {@link asyncApiDocument} reads. */
export interface AsyncApiOptions<TEvents extends EventMap = EventMap> {
  /** The event map: one channel per key. @default the config's `events`, else none */
  readonly events?: TEvents;
  /**
   * A broker config (what `defineBrokerConfig` or `loadBrokerConfigFile`
   * gives): servers, security, operations from `permissions`, and channels
   * from `channels` rules. Without it the document has channels and
   * operations only.
   */
  readonly config?: BrokerConfig<TEvents> | ResolvedBrokerConfig;
  readonly info?: AsyncApiInfo;
  /**
   * A JSON Schema (draft 2020-12) per map key, used instead of converting its
   * validator: the way out of `unsupported_schema`.
   * @default {}
   */
  readonly schemas?: { readonly [TKey in Extract<keyof TEvents, string>]?: JsonSchema };
}

/**
 * Writes the AsyncAPI 3.0 document of an event map and, when given, a broker
 * config. Throws `unsupported_schema` naming the key when a validator cannot
 * give JSON Schema (override it in `schemas`), `invalid_config` when the
 * config does not validate.
 *
 * @example
 * const document = asyncApiDocument({ events, config: await loadBrokerConfigFile('broker.config.ts') });
 * await writeFile('asyncapi.json', JSON.stringify(document, null, 2));
 */
export function asyncApiDocument<TEvents extends EventMap = EventMap>(options: AsyncApiOptions<TEvents>): AsyncApiDocument {
  const config = options.config && validateConfig(options.config, 'config', { code: true });
  const events = options.events ?? (config?.events as EventMap | undefined) ?? {};
  return documentOf(events, config && factsOfConfig(config), options.info, options.schemas ?? {});
}

function factsOfConfig(config: ResolvedBrokerConfig): BrokerFacts {
  const auth: AuthFacts = { jwt: config.jwtSecret !== undefined || config.jwksUrl !== undefined, apiKeys: config.apiKeys ?? [], custom: false };
  const options = resolveBrokerOptions({
    ...brokerOptionsOf(config),
    // allowAnonymous's default follows whether the broker authenticates, which a config says through jwt*/apiKeys.
    allowAnonymous: config.allowAnonymous ?? !authenticates(auth),
  });
  return factsOfOptions(options, auth, Object.keys(config.channels ?? {}));
}

