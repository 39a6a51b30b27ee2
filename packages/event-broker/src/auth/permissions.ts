// What a user may publish and subscribe, by pattern: a service token that may
// publish `order.*` and read `inventory.#`, and nothing else.
import { EventwireError, parsePattern, patternCovers, toEventwireError, topicMatches, type TopicError } from '@eventwire/event-channel';
import type { BrokerUser } from './authenticate.js';

/**
 * Grants by pattern. A missing list allows everything of that kind (channel
 * rules still guard private and presence channels); an empty list allows
 * nothing. A subscription (or a history read) must lie inside one granted
 * pattern — `inventory.#` allows `inventory.*.low`, never `#` — and a publish
 * must match one.
 */
export interface Permissions {
  readonly publish?: readonly string[] | undefined;
  readonly subscribe?: readonly string[] | undefined;
}

/**
 * Permissions declared beside the users, for users whose authenticator does
 * not return any: by user id, else for every authenticated user, else for
 * anonymous connections. A user's own `permissions` win.
 */
export interface PermissionRules {
  readonly users?: Readonly<Record<string, Permissions>> | undefined;
  readonly authenticated?: Permissions | undefined;
  readonly anonymous?: Permissions | undefined;
}

/** What a check is for: reading (subscribe, resume, history, info) or writing. */
export type AccessAction = 'subscribe' | 'publish';

/** Throws `invalid_pattern` unless every granted pattern is valid; call once, where rules are declared. */
export function assertPermissions(permissions: Permissions, where: string): void {
  for (const action of ['publish', 'subscribe'] as const) {
    for (const pattern of permissions[action] ?? []) {
      try {
        parsePattern(pattern);
      } catch (error) {
        const problem = (error as TopicError).problem;
        throw new EventwireError('invalid_pattern', `${where}.${action}: "${pattern}" is not a valid pattern (${problem})`, { cause: toEventwireError(error) });
      }
    }
  }
}

/** The permissions that apply to `user` under `rules`, or undefined when nothing is restricted. */
export function permissionsOf(user: BrokerUser | undefined, rules: PermissionRules | undefined): Permissions | undefined {
  if (user?.permissions) return user.permissions;
  if (!rules) return undefined;
  if (user === undefined) return rules.anonymous;
  return rules.users?.[user.id] ?? rules.authenticated;
}

/**
 * Throws `forbidden` unless `permissions` allow `action` on `name` (a topic
 * for publishes, a pattern for subscriptions; valid ones). Runs on every
 * publish of a restricted user, so publish answers are cached per grant
 * list and topic: a publisher repeats its topics.
 */
export function checkPermission(permissions: Permissions | undefined, action: AccessAction, name: string): void {
  const written = permissions?.[action];
  if (written === undefined) return;
  if (action === 'publish' ? publishAllowed(matchable(written), name) : grantsCover(written, name)) return;
  // The grants as the user's config or token wrote them.
  throw new EventwireError(
    'forbidden',
    written.length === 0
      ? `Not allowed to ${action} anything`
      : `Not allowed to ${action} "${name}" (allowed: ${written.slice(0, 10).join(', ')}${written.length > 10 ? ', …' : ''})`,
  );
}

/**
 * Whether the grants allow every topic `pattern` matches: a subscription's
 * check, and the AsyncAPI generator's for a whole channel (a family).
 */
export function grantsCover(granted: readonly string[], pattern: string): boolean {
  return matchable(granted).some((grant) => patternCovers(grant, pattern));
}

/** Grant lists as matched: `{name}` captures as the `*` they stand for (per list, built once). */
const matchableGrants = new WeakMap<readonly string[], readonly string[]>();

function matchable(granted: readonly string[]): readonly string[] {
  let patterns = matchableGrants.get(granted);
  if (!patterns) {
    // A malformed grant (from an authenticator's claims, say) stays as written: it matches what it did before.
    const normalised = granted.map((pattern) => (pattern.includes('{') ? normalisedOrSelf(pattern) : pattern));
    patterns = normalised.every((pattern, index) => pattern === granted[index]) ? granted : normalised;
    matchableGrants.set(granted, patterns);
  }
  return patterns;
}

function normalisedOrSelf(pattern: string): string {
  try {
    return parsePattern(pattern).pattern;
  } catch {
    return pattern;
  }
}

/** Decisions per grant list (the same array for every connection of a user or config entry). */
const publishDecisions = new WeakMap<readonly string[], Map<string, boolean>>();
/** Topics remembered per grant list; past it the cache starts over (a bound, not an LRU: cheap and enough). */
const DECISIONS_PER_GRANT = 4096;

function publishAllowed(granted: readonly string[], topic: string): boolean {
  let decisions = publishDecisions.get(granted);
  if (!decisions) publishDecisions.set(granted, (decisions = new Map()));
  let allowed = decisions.get(topic);
  if (allowed === undefined) {
    allowed = granted.some((pattern) => topicMatches(pattern, topic));
    if (decisions.size >= DECISIONS_PER_GRANT) decisions.clear();
    decisions.set(topic, allowed);
  }
  return allowed;
}
