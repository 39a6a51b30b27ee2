// One AsyncAPI server per surface the broker turns on (read from each
// surface's `describe…Surface`, never a path written here), and one for the
// cluster link. Credentials are stripped from the cluster URL: a document is
// published, a password in it would be too.
import type { BrokerFacts } from './facts.js';
import type { AsyncApiSecurityScheme } from './security.js';

/** One server object (AsyncAPI 3.0 `servers`). */
export interface AsyncApiServer {
  readonly host: string;
  readonly protocol: string;
  readonly pathname?: string;
  readonly title?: string;
  readonly description?: string;
  readonly variables?: { readonly [name: string]: { readonly description: string; readonly enum?: readonly string[]; readonly default?: string } };
  readonly security?: readonly { readonly $ref: string }[];
}

/** Addresses that mean "every interface": a client cannot connect to them. */
const anyInterface = new Set(['0.0.0.0', '::', '[::]']);

/** The servers, by id (the surface's name, `cluster`), with `schemes` the broker's security scheme ids. */
export function serversOf(facts: BrokerFacts, schemes: readonly string[]): Record<string, AsyncApiServer> {
  const bound = anyInterface.has(facts.host);
  const host = `${bound ? 'localhost' : facts.host.includes(':') ? `[${facts.host}]` : facts.host}:${facts.port}`;
  const servers: Record<string, AsyncApiServer> = {};
  for (const surface of facts.surfaces) {
    const paths = [surface.websocket, ...(surface.aliases ?? [])].join(', ');
    const security =
      surface.credentials === 'none' ? [{ $ref: '#/components/securitySchemes/pusherApp' }] : schemes.map((id) => ({ $ref: `#/components/securitySchemes/${id}` }));
    const variables = surface.variables && Object.fromEntries(
      Object.entries(surface.variables).map(([name, variable]) => [
        name,
        { description: variable.description, enum: variable.values, ...(variable.values[0] !== undefined && { default: variable.values[0] }) },
      ]),
    );
    servers[surface.name] = {
      host,
      protocol: facts.secure ? 'wss' : 'ws',
      pathname: surface.websocket,
      title: surface.title,
      description: [
        surface.description,
        surface.aliases ? `Also at ${paths}.` : '',
        bound ? `The broker binds ${facts.host} (every interface): use its public host name.` : '',
        surface.credentials !== 'none' && schemes.length > 0 && facts.allowAnonymous ? 'Connections without credentials are let in as anonymous.' : '',
      ].filter(Boolean).join(' '),
      ...(variables && { variables }),
      ...(security.length > 0 && { security }),
    };
  }
  if (facts.cluster !== undefined) {
    const link = clusterServerOf(facts.cluster);
    if (link) servers['cluster'] = link;
  }
  return servers;
}

/** The schemes a server list may point at besides the broker's own. */
export function surfaceSchemesOf(facts: BrokerFacts, pusherScheme: AsyncApiSecurityScheme): Record<string, AsyncApiSecurityScheme> {
  return facts.surfaces.some((surface) => surface.credentials === 'none') ? { pusherApp: pusherScheme } : {};
}

/**
 * `nats://user:pass@a:4222,b:4222` → host `a:4222,b:4222`, protocol `nats`;
 * `postgres://user@host/db?sslmode=…` → host `host`, pathname `/db`. The
 * user, the password and the query (which may hold one) are left out.
 */
function clusterServerOf(url: string): AsyncApiServer | undefined {
  const match = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/?#]*@)?([^/?#]*)(\/[^?#]*)?/i.exec(url);
  if (!match || !match[2]) return undefined;
  const [, scheme, hosts, path] = match;
  return {
    host: hosts!,
    protocol: scheme!.toLowerCase(),
    ...(path && path !== '/' && { pathname: path }),
    title: 'Cluster link',
    description: `The brokers of this cluster share one event space through ${scheme} (docs/SCALING.md); not for clients: connect to a broker surface.`,
  };
}
