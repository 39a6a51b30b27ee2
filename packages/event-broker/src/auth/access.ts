// The auth room: one place every surface asks who may connect, as whom, and
// what they may do — authentication, permissions, channel rules, rate limits
// and connection caps — and where every refusal is counted.
import { EventwireError, findTopicProblem, toEventwireError, type TopicLimits } from '@eventwire/event-channel';
import { authenticateRequest, type AuthRequest, type Authenticator, type BrokerUser } from './authenticate.js';
import { InFlight } from '../in-flight.js';
import { ChannelRules, channelKind, type MemberInfo } from './channels.js';
import { assertPermissions, checkPermission, permissionsOf, type AccessAction, type PermissionRules } from './permissions.js';
import { KeyedBuckets, TokenBucket, rateLimited, type RateLimit } from './rate-limit.js';

/** Who is asking over HTTP, where there is no connection: the user and the address. */
export interface Caller {
  readonly user: BrokerUser | undefined;
  readonly ip: string;
  /** `X-Socket-ID`: a connection of the caller's that its publishes leave out (Laravel's `toOthers()`). */
  readonly socketId?: string | undefined;
  /** The W3C `traceparent` header, when valid: its publishes carry it. */
  readonly traceparent?: string | undefined;
}

/** One kind of operation's limits: each connection's own, and its address's share (all its connections and HTTP calls). */
export interface ScopedRateLimits {
  readonly perConnection?: RateLimit | undefined;
  readonly perIp?: RateLimit | undefined;
}

/** Token-bucket limits. Each is off unless set, but `failedAuth`, which is on by default. */
export interface RateLimits {
  /** Publishes (native frames; HTTP publishes count per IP). */
  readonly publish?: ScopedRateLimits | undefined;
  /** Subscribes, resumes and history reads. */
  readonly subscribe?: ScopedRateLimits | undefined;
  /** New WebSocket connections. */
  readonly connect?: { readonly perIp?: RateLimit | undefined } | undefined;
  /**
   * Refused credentials: past this, an IP is refused with `rate_limited`
   * before its credentials are even verified.
   * @default { perIp: { perSecond: 1, burst: 20 } }
   */
  readonly failedAuth?: { readonly perIp?: RateLimit | undefined } | undefined;
}

/** The default for failed authentications: 20 at once, then one a second per IP. */
export const failedAuthDefault: RateLimit = { perSecond: 1, burst: 20 };

/** Options of {@link Access}. */
export interface AccessOptions {
  readonly authenticate: Authenticator | undefined;
  readonly allowAnonymous: boolean;
  readonly permissions: PermissionRules | undefined;
  readonly rateLimits: RateLimits | undefined;
  /** Most WebSocket connections at once; past it, 503 with Retry-After. */
  readonly maxConnections: number;
  /** Most WebSocket connections from one IP; past it, 429 with Retry-After. */
  readonly maxConnectionsPerIp: number;
  /** Longest a channel rule may take; then it denies. */
  readonly ruleTimeoutMs: number;
  /**
   * The broker's topic limits: a name is skipped here only when the handler
   * will refuse it as malformed under the very same limits (a looser check
   * here would let a valid guarded name pass unchecked).
   */
  readonly topicLimits: TopicLimits;
  /** Told once when the total cap is reached and once when it clears (never per refusal). */
  readonly onCapacity?: (event: CapacityEvent) => void;
}

/** The total connection cap was reached, or has room again. */
export interface CapacityEvent {
  readonly atCapacity: boolean;
  readonly connections: number;
  readonly maxConnections: number;
  /** Newcomers refused in the episode that just ended (when it clears). */
  readonly refused: number;
}

/** Refusals by reason, as `/stats` shows them. */
export interface RefusalCounts {
  /** Missing, wrong or expired credentials. */
  readonly unauthorized: number;
  /** A channel rule or a permission said no. */
  readonly forbidden: number;
  /** A rate limit (publishes, subscribes, connects, failed authentications). */
  readonly rate_limited: number;
  /** A connection cap (total or per IP). */
  readonly connection_limit: number;
}

/** How long a client over a connection cap is asked to wait (a guess: caps free up as clients leave). */
const CONNECTION_RETRY_MS = 1000;

/** Per-connection limits: its own buckets, and its IP's. Undefined when no limit applies. */
export class ConnectionLimits {
  readonly #access: Access;
  readonly #ip: string;
  readonly #publish: TokenBucket | undefined;
  readonly #subscribe: TokenBucket | undefined;

  constructor(access: Access, ip: string, publish: RateLimit | undefined, subscribe: RateLimit | undefined) {
    const now = Date.now();
    this.#access = access;
    this.#ip = ip;
    this.#publish = publish && new TokenBucket(publish, now);
    this.#subscribe = subscribe && new TokenBucket(subscribe, now);
  }

  /** Throws `rate_limited` when this connection (or its IP) is over its rate for `action`. */
  take(action: AccessAction): void {
    const bucket = action === 'publish' ? this.#publish : this.#subscribe;
    const wait = bucket?.take(Date.now()) ?? 0;
    if (wait > 0) throw this.#access.refuse(rateLimited(`Too many ${action}s on this connection`, wait));
    this.#access.takeForIp(this.#ip, action);
  }
}

/**
 * Every surface's questions: `admit` a connection, `authenticate` its
 * credentials, `authorize` what it names, `limits` for what it sends.
 */
export class Access {
  readonly channels: ChannelRules;
  /** Authentications and channel rules running now. */
  readonly inFlight = new InFlight();
  readonly #options: AccessOptions;
  readonly #connectionsByIp = new Map<string, number>();
  #connections = 0;
  /** Set from the first refusal at the total cap until enough room is back (see #release). */
  #atCapacity = false;
  #refusedThisEpisode = 0;
  readonly #refused = { unauthorized: 0, forbidden: 0, rate_limited: 0, connection_limit: 0 };
  readonly #connectsPerIp: KeyedBuckets | undefined;
  readonly #failedAuthPerIp: KeyedBuckets;
  readonly #publishPerIp: KeyedBuckets | undefined;
  readonly #subscribePerIp: KeyedBuckets | undefined;
  /** Whether anything is rate-limited per connection or per IP after the connect. */
  readonly #limitsTraffic: boolean;

  constructor(options: AccessOptions) {
    const permissions = options.permissions;
    // Refused where declared (a typo'd pattern), not on the first request it would apply to.
    for (const [where, granted] of Object.entries({ ...permissions?.users, authenticated: permissions?.authenticated, anonymous: permissions?.anonymous })) {
      if (granted) assertPermissions(granted, `permissions.${where}`);
    }
    this.#options = options;
    this.channels = new ChannelRules(options.ruleTimeoutMs);
    const limits = options.rateLimits ?? {};
    this.#connectsPerIp = limits.connect?.perIp && new KeyedBuckets(limits.connect.perIp);
    this.#failedAuthPerIp = new KeyedBuckets(limits.failedAuth?.perIp ?? failedAuthDefault);
    this.#publishPerIp = limits.publish?.perIp && new KeyedBuckets(limits.publish.perIp);
    this.#subscribePerIp = limits.subscribe?.perIp && new KeyedBuckets(limits.subscribe.perIp);
    this.#limitsTraffic = Boolean(limits.publish || limits.subscribe);
  }

  /** Whether connections must bring credentials (or may be anonymous). */
  get authenticates(): boolean {
    return this.#options.authenticate !== undefined;
  }

  /** Refusals so far, by reason. */
  get refused(): RefusalCounts {
    return { ...this.#refused };
  }

  /** Open WebSocket connections admitted. */
  get connections(): number {
    return this.#connections;
  }

  /** The total connection cap. */
  get maxConnections(): number {
    return this.#options.maxConnections;
  }

  /** Whether newcomers are being refused at the total cap. */
  get atCapacity(): boolean {
    return this.#atCapacity;
  }

  /**
   * Admits one WebSocket connection from `ip` under the caps and the connect
   * rate, or throws (`unavailable` 503 over the total, `rate_limited` 429
   * over the IP's share). Call `release(ip)` once for each admitted
   * connection when it is gone (no closure per connection: they add up).
   */
  admit(ip: string): void {
    const options = this.#options;
    if (this.#connections >= options.maxConnections) {
      this.#refusedThisEpisode++;
      if (!this.#atCapacity) {
        this.#atCapacity = true;
        options.onCapacity?.({ atCapacity: true, connections: this.#connections, maxConnections: options.maxConnections, refused: 0 });
      }
      throw this.refuse(
        new EventwireError('unavailable', `The broker holds its maximum of ${options.maxConnections} connections; try again later`, { retryAfterMs: CONNECTION_RETRY_MS }),
        'connection_limit',
      );
    }
    const fromIp = this.#connectionsByIp.get(ip) ?? 0;
    if (fromIp >= options.maxConnectionsPerIp) {
      throw this.refuse(rateLimited(`At most ${options.maxConnectionsPerIp} connections per address`, CONNECTION_RETRY_MS), 'connection_limit');
    }
    const wait = this.#connectsPerIp?.take(ip) ?? 0;
    if (wait > 0) throw this.refuse(rateLimited('Too many connects from this address', wait));
    this.#connections++;
    this.#connectionsByIp.set(ip, fromIp + 1);
  }

  /** An admitted connection from `ip` is gone. */
  release(ip: string): void {
    this.#connections--;
    const left = (this.#connectionsByIp.get(ip) ?? 1) - 1;
    if (left > 0) this.#connectionsByIp.set(ip, left);
    else this.#connectionsByIp.delete(ip);
    this.#endEpisode();
  }

  /**
   * The episode at the cap ends once 5% of it is free again (at least one
   * slot): a broker hovering at the cap logs one pair of lines, not one per
   * connection that comes and goes.
   */
  #endEpisode(): void {
    const { maxConnections, onCapacity } = this.#options;
    if (!this.#atCapacity || this.#connections > maxConnections - Math.max(1, Math.floor(maxConnections * 0.05))) return;
    this.#atCapacity = false;
    onCapacity?.({ atCapacity: false, connections: this.#connections, maxConnections, refused: this.#refusedThisEpisode });
    this.#refusedThisEpisode = 0;
  }

  /**
   * The user behind `request`'s credentials (undefined: anonymous, where
   * allowed). An address that failed too often is refused before its
   * credentials are verified: wrong tokens cost the attacker, not the broker.
   */
  async authenticate(request: AuthRequest): Promise<BrokerUser | undefined> {
    const authenticate = this.#options.authenticate;
    if (!authenticate) return undefined;
    const ip = request.remoteAddress;
    const wait = this.#failedAuthPerIp.wait(ip);
    if (wait > 0) throw this.refuse(rateLimited('Too many failed authentications from this address', wait));
    try {
      return await this.inFlight.track(authenticateRequest(authenticate, request, this.#options.allowAnonymous));
    } catch (error) {
      this.#failedAuthPerIp.take(ip);
      throw this.refuse(toEventwireError(error, 'unauthorized'));
    }
  }

  /**
   * Whether `user` may `action` every name in `names` (topics for
   * publishes, patterns otherwise): permissions first (synchronous), then
   * the channel rules of private and presence names. Returns undefined when
   * decided at once (public names: no tick), a promise when a rule runs,
   * resolving with the member info rules returned (by name, where they
   * returned one); throws or rejects with `forbidden`.
   */
  authorize(user: BrokerUser | undefined, names: readonly string[], action: AccessAction): Promise<ReadonlyMap<string, MemberInfo>> | undefined {
    const permissions = permissionsOf(user, this.#options.permissions);
    let guarded: string[] | undefined;
    for (const name of names) {
      const kind = channelKind(name);
      if (permissions === undefined && kind === 'public') continue; // the common case: nothing to check
      // A malformed name is the handler's to refuse (invalid_topic / invalid_pattern), as for anyone.
      // A public publish is validated only when refused: the permission check is cached, validation is not.
      const validatesFirst = action === 'subscribe' || kind !== 'public';
      if (typeof name !== 'string' || (validatesFirst && findTopicProblem(name, 'pattern', this.#options.topicLimits) !== undefined)) continue;
      try {
        checkPermission(permissions, action, name);
      } catch (error) {
        if (!validatesFirst && findTopicProblem(name, 'pattern', this.#options.topicLimits) !== undefined) continue;
        throw this.refuse(toEventwireError(error));
      }
      if (kind === 'system' && action === 'publish') {
        throw this.refuse(new EventwireError('forbidden', `"${name}": $-topics are the broker's own; clients may not publish to them`));
      }
      if (kind !== 'public') (guarded ??= []).push(name);
    }
    if (!guarded) return undefined;
    const checked = guarded;
    return this.inFlight.track(Promise.all(checked.map((name) => this.channels.authorize(user, name)))).then(
      (infos) => {
        const granted = new Map<string, MemberInfo>();
        infos.forEach((info, index) => info && granted.set(checked[index]!, info));
        return granted;
      },
      (error: unknown) => {
        throw this.refuse(toEventwireError(error));
      },
    );
  }

  /** The rate limits of one new connection from `ip`, or undefined when none applies. */
  limits(ip: string): ConnectionLimits | undefined {
    if (!this.#limitsTraffic) return undefined;
    const limits = this.#options.rateLimits!;
    return new ConnectionLimits(this, ip, limits.publish?.perConnection, limits.subscribe?.perConnection);
  }

  /** Takes one token of `ip`'s share for `action` (HTTP requests have no connection); throws `rate_limited`. */
  takeForIp(ip: string, action: AccessAction): void {
    const buckets = action === 'publish' ? this.#publishPerIp : this.#subscribePerIp;
    const wait = buckets?.take(ip) ?? 0;
    if (wait > 0) throw this.refuse(rateLimited(`Too many ${action}s from this address`, wait));
  }

  /** Counts a refusal under its reason (its code unless given) and returns it, to throw. */
  refuse(error: EventwireError, reason?: keyof RefusalCounts): EventwireError {
    const key = reason ?? (error.code in this.#refused ? (error.code as keyof RefusalCounts) : undefined);
    if (key) this.#refused[key]++;
    return error;
  }
}
