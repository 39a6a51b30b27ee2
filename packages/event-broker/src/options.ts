import type { BrokerLogger, BrokerLogRecord } from './log-record.js';
import { MAX_PAYLOAD_DEPTH, type EventMap, type EventTracing, type EventwireError } from '@eventwire/event-channel';
import type { HistoryStore } from '@eventwire/event-channel/protocol';
import type { Authenticator } from './auth/authenticate.js';
import { optionEntries, type ConfigurableBrokerOptions, type OptionSettings, type ResolvedOf, type StaticDefaults } from './settings.js';
import type { PusherAppOptions } from './surfaces/pusher/pusher-apps.js';
import type { SurfaceFactory } from './surfaces/surface-host.js';

/**
 * Options of {@link EventBrokerServer}. Every field is optional. The ones a
 * config file, a variable or a flag can set are declared (with their docs and
 * defaults) in `settings.ts`; the ones only code can give are here.
 */
export interface BrokerOptions<TEvents extends EventMap = EventMap> extends ConfigurableBrokerOptions {
  /**
   * The event map the broker enforces: publishes to undeclared topics are
   * refused with `unknown_event` and data failing its schema with
   * `invalid_payload`. Hooks are typed from it.
   */
  readonly events?: TEvents;
  /**
   * Where history is stored, overriding `dataDir`. @default a `LogHistoryStore`
   * in `dataDir` when given, else a `MemoryHistoryStore` (lost on restart; its
   * epoch changes, so clients are told of the gap)
   */
  readonly historyStore?: HistoryStore;
  /**
   * Who may connect: every WebSocket connection and HTTP call (but `/health`)
   * is authenticated with the credential it carries (`?token=`,
   * `Authorization: Bearer`, Basic's password, or the native hello's
   * `token`). Wrong credentials are refused before any state is created:
   * HTTP 401, a refused upgrade, or close 4001. `createJwtAuthenticator()`
   * verifies JWTs; any function will do. Without it, everyone is anonymous.
   */
  readonly authenticate?: Authenticator;
  /**
   * A span around each event the broker routes (validation, hooks, delivery),
   * a child of the trace the event arrived with (`traceparent`); subscribers
   * receive it carrying the broker span's traceparent, and hook-emitted
   * events carry it on. `openTelemetryTracing()` from `@eventwire/event-channel/otel`.
   * @default off
   */
  readonly tracing?: EventTracing;
  /**
   * Wire surfaces of your own, beside the built-in ones (native, Synap,
   * broadcasting, Pusher): each factory gets what the broker offers (the
   * core, the session operations, access, limits) and returns a `Surface`
   * (see `surfaces/surface.ts`). Its clients go through the same admission,
   * authentication, rules, hooks and router as every other.
   * @default []
   */
  readonly surfaces?: readonly SurfaceFactory[];
  /** Receives one readable line per connection and state change. Silent by default. */
  readonly log?: (line: string) => void;
  /**
   * Receives the same as `log`, as records with stable fields (`level`,
   * `msg`, `conn`, …; see {@link BrokerLogRecord}), and failures as `error`
   * records with their `code` and `cause` (then `onError`'s default is off).
   * When set, `log` is not called: the logger decides how records are written.
   * @default none: `log` gets the text
   */
  readonly logger?: BrokerLogger;
  /**
   * Receives failures nobody else hears of: failing observers, dropped derived
   * events, transport errors. @default writes to console.error
   */
  readonly onError?: (error: EventwireError) => void;
}

/** The `metrics` option in full. */
export interface MetricsOptions {
  /** @default '/metrics' */
  readonly path?: string;
  /**
   * Topic patterns counted apart under a `topic_group` label (the first
   * matching one wins; every other topic is `other`). Raw topics never become
   * labels: they are unbounded and chosen by clients.
   * @default none
   */
  readonly topicGroups?: readonly string[];
  /**
   * prom-client's default process and Node.js metrics (CPU, memory, GC, event-loop lag).
   * @default true
   */
  readonly defaultMetrics?: boolean;
}

/** The `pusher` option in full. */
export interface PusherOptions {
  /** The apps served; the first is the default (its channels are topics as they are). @default the development app */
  readonly apps?: readonly PusherAppOptions[];
  /**
   * Where channel auth is answered (Laravel's path; Echo's `authEndpoint`); `false` turns it off.
   * @default '/broadcasting/auth'
   */
  readonly authPath?: string | false;
  /**
   * Where user auth for `pusher:signin` is answered (pusher-js's `userAuthentication.endpoint`); `false` turns it off.
   * @default '/pusher/user-auth'
   */
  readonly userAuthPath?: string | false;
  /**
   * Origins whose pages may call the auth endpoints from the browser (CORS),
   * `'*'` for any. Same-origin and server-side calls need none.
   * @default none
   */
  readonly allowedOrigins?: readonly string[] | '*';
  /**
   * How long `channel_vacated` and `member_removed` webhooks wait; a channel
   * or member back within it sends neither (a page reload). Pusher's delay.
   * @default 3000
   */
  readonly webhookRemovalDelayMs?: number;
}

/**
 * The defaults of {@link BrokerOptions} that are values, taken from the
 * settings table. The others are worked out when the broker is made (the
 * connection cap from the open-file limit, the memory bounds from the
 * memory limit, `allowAnonymous` from `authenticate`): see {@link resolveBrokerOptions}.
 */
export const brokerDefaults: StaticDefaults = Object.freeze(
  Object.fromEntries(optionEntries.flatMap(([key, setting]) => (setting.default === undefined ? [] : [[key, setting.default]]))),
) as StaticDefaults;

/** The options that have a value once defaults are applied, and those that stay unset (off) without one. */
type AlwaysSet = { [K in keyof OptionSettings]: undefined extends ResolvedOf<OptionSettings[K]> ? never : K }[keyof OptionSettings];

/**
 * {@link BrokerOptions} with every default applied: what the broker works
 * with. An option without a default (or turned off) stays absent, so this is
 * still a `BrokerOptions`.
 */
export type ResolvedBrokerOptions<TEvents extends EventMap = EventMap> = Omit<BrokerOptions<TEvents>, keyof OptionSettings> & {
  readonly [K in AlwaysSet]: ResolvedOf<OptionSettings[K]>;
} & {
  readonly [K in Exclude<keyof OptionSettings, AlwaysSet>]?: Exclude<ResolvedOf<OptionSettings[K]>, undefined>;
};

/**
 * The options with every default applied and checked once, so the broker
 * reads each value as it is: a worked-out default (the connection cap, the
 * memory bounds, `allowAnonymous`) is computed here, `false` for a path or a
 * surface becomes `undefined` (off), `true` becomes the surface's default
 * options. Throws `RangeError` for a `maxPayloadDepth` out of 1 to
 * `MAX_PAYLOAD_DEPTH` (deeper data could overflow the stack of the
 * `JSON.stringify` that sends every event).
 */
export function resolveBrokerOptions<TEvents extends EventMap = EventMap>(options: BrokerOptions<TEvents>): ResolvedBrokerOptions<TEvents> {
  const depth = options.maxPayloadDepth;
  if (depth !== undefined && (!Number.isSafeInteger(depth) || depth < 1 || depth > MAX_PAYLOAD_DEPTH)) {
    throw new RangeError(`maxPayloadDepth must be a whole number from 1 to ${MAX_PAYLOAD_DEPTH}, got ${depth}`);
  }
  const resolved: Record<string, unknown> = { ...options };
  for (const [key, setting] of optionEntries) {
    const value = options[key] ?? setting.default ?? setting.defaultOf?.(options);
    const option = setting.resolve ? setting.resolve(value) : value;
    if (option === undefined) delete resolved[key];
    else resolved[key] = option;
  }
  return resolved as ResolvedBrokerOptions<TEvents>;
}
