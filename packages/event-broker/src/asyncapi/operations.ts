// Operations, from a client's side: `send` is publishing to a channel,
// `receive` subscribing to it. Without permissions every channel has both.
// With them, an operation is listed when some grantee's grant list covers
// the whole channel (`grantsCover`, its parameters as `*`), and its
// description names who may: the checks the broker makes (permissions.ts),
// asked of a family instead of one topic.
import { grantsCover, type Permissions } from '../auth/permissions.js';
import { authenticates, type BrokerFacts } from './facts.js';
import type { PlannedChannel } from './channels.js';

/** An operation object (AsyncAPI 3.0 `operations`). */
export interface AsyncApiOperation {
  readonly action: 'send' | 'receive';
  readonly channel: { readonly $ref: string };
  readonly summary: string;
  readonly description?: string;
  readonly messages: readonly { readonly $ref: string }[];
}

/** Who is granted what: a name for the description, and the grants that apply (undefined: unrestricted). */
interface Grantee {
  readonly name: string;
  readonly permissions: Permissions | undefined;
}

/** The grantees a broker's rules name, or undefined when nothing is restricted. */
function granteesOf(facts: BrokerFacts): Grantee[] | undefined {
  const rules = facts.permissions;
  const keyed = facts.auth.apiKeys.filter((key) => key.permissions !== undefined);
  if (!rules && keyed.length === 0) return undefined;
  const grantees: Grantee[] = [];
  for (const [id, permissions] of Object.entries(rules?.users ?? {})) grantees.push({ name: `user "${id}"`, permissions });
  // An API key's own permissions win over the rules for its user (permissionsOf).
  for (const key of facts.auth.apiKeys) {
    grantees.push({ name: `API key of user "${key.user}"`, permissions: key.permissions ?? rules?.users?.[key.user] ?? rules?.authenticated });
  }
  if (authenticates(facts.auth)) grantees.push({ name: 'authenticated users', permissions: rules?.authenticated });
  if (facts.allowAnonymous) grantees.push({ name: 'anonymous connections', permissions: rules?.anonymous });
  return grantees;
}

/** Whether `grants` allow an action on every topic of `pattern` (no list: unrestricted), as the broker decides it. */
function allows(grants: readonly string[] | undefined, pattern: string): boolean {
  return grants === undefined || grantsCover(grants, pattern);
}

/** The operations on `planned` channels, by id (`<channel id>.send`, `<channel id>.receive`). */
export function operationsOf(planned: readonly PlannedChannel[], facts: BrokerFacts | undefined): Record<string, AsyncApiOperation> {
  const grantees = facts && granteesOf(facts);
  const operations: Record<string, AsyncApiOperation> = {};
  for (const channel of planned) {
    for (const [action, kind] of [['send', 'publish'], ['receive', 'subscribe']] as const) {
      const allowed = grantees?.filter((grantee) => allows(grantee.permissions?.[kind], channel.pattern));
      if (allowed && allowed.length === 0) continue;
      const guarded = kind === 'subscribe' && channel.guarded ? ' Its channel rule must also let the subscriber in.' : '';
      operations[`${channel.id}.${action}`] = {
        action,
        channel: { $ref: `#/channels/${channel.id}` },
        summary: `A client ${kind === 'publish' ? 'publishes to' : 'subscribes to'} this channel.`,
        ...((allowed || guarded) && { description: `${allowed ? `Allowed for: ${allowed.map((grantee) => grantee.name).join(', ')}.` : ''}${guarded}`.trim() }),
        messages: channel.messageIds.map((id) => ({ $ref: `#/channels/${channel.id}/messages/${id}` })),
      };
    }
  }
  return operations;
}
