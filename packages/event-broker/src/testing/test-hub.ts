// A broker and its clients in one process, on a clock the test moves: the
// real EventBrokerServer (the user's own config: event map, hooks, rules,
// permissions, history) and real ws:// channels (EventChannel's WsTransport,
// acks, refusals, resume, gaps, presence), joined by in-process pipes
// instead of sockets. What differs from production is only what carries
// the bytes and who moves time.
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import {
  EventChannel,
  EventwireError,
  parsePattern,
  topicMatches,
  type EventChannelOptions,
  type EventMap,
  type PatternArgument,
  type PatternCheck,
  type UntypedEvents,
  type WebSocketConstructor,
  type WsTransportOptions,
} from '@eventwire/event-channel';
import type { Authenticator } from '../auth/authenticate.js';
import { createBrokerFromConfig, type ConfiguredBroker } from '../broker-from-config.js';
import type { BrokerConfig } from '../config.js';
import { builtinHook, type AnyHookEvent, type HookOptions, type TopicHookEvent } from '../hooks.js';
import { httpStatusFor } from '../http.js';
import { inProcessPending, inProcessUpgrade } from '../in-process.js';
import type { EventBrokerServer } from '../server.js';
import { PipeSocket, PipeTraffic, PipeWire } from './pipe.js';
import { VirtualClock, virtualTimeInstalled } from './virtual-clock.js';

/** Options of {@link createTestHub}. */
export interface TestHubOptions<TEvents extends EventMap> {
  /**
   * The broker config to run — the object your `broker.config.ts` exports
   * (`defineBrokerConfig`): its event map, `setup` hooks, channel rules,
   * permissions, authentication and history rules. What reaches outside the
   * process is left out: `port`, `host`, TLS, `cluster`, `dataDir` (history
   * is kept in memory), `auditLog`, `webhooks` and `pusherWebhooks`.
   * @default {} (a broker with no map, rules or hooks)
   */
  readonly config?: BrokerConfig<TEvents>;
  /**
   * The event map, when there is no config to take it from (with a config,
   * its `events` unless given here).
   * @default config.events
   */
  readonly events?: TEvents;
  /**
   * Virtual time: the process's `setTimeout`/`setInterval`, `Date` and
   * `performance.now()` follow a clock that only `advance` (and the waits
   * that skip time: `next`, `close`) moves, starting at `now` (ms since the
   * epoch). One hub per process may hold it at a time. `false` keeps real time.
   * @default { now: 0 }
   */
  readonly clock?: { readonly now?: number | Date } | false;
  /**
   * Your own authentication, as `createBrokerFromConfig` takes it (app
   * sessions, a custom token); replaces the config's JWT and API key checks.
   * @default from the config
   */
  readonly authenticate?: Authenticator;
  /** Receives the broker's log lines. @default silent */
  readonly log?: (line: string) => void;
}

/** Options of {@link TestHub.channel}: a ws:// channel's, without the URL (the hub is the broker). */
export type HubChannelOptions<TEvents extends EventMap> = Pick<
  Extract<EventChannelOptions<TEvents>, { readonly url: string | readonly string[] }>,
  'source' | 'onError' | 'topicLimits' | 'payloadLimits' | 'drainTimeoutMs' | 'tracing' | 'getToken'
> & {
  /** A fixed credential (an API key or a JWT), sent as a ws:// channel sends it: in the hello. */
  readonly token?: string;
  /** The ws:// transport's tuning (backoff, outbox, timeouts, heartbeat). */
  readonly ws?: Omit<WsTransportOptions, 'url' | 'failover' | 'WebSocket' | 'getToken' | 'token'>;
};

/** Options of {@link TestHub.next}. */
export interface HubNextOptions<TEvent> {
  /** Only an event this accepts. */
  readonly where?: (event: TEvent) => boolean;
  /**
   * How long to wait, in the hub's time: on virtual time, the clock skips
   * ahead (timer by timer) whenever nothing is in flight, so a wait costs
   * no real time. Rejects with `timeout` past it.
   * @default 10_000
   */
  readonly within?: number;
}

/** Defaults of {@link HubNextOptions} and the hub's own bounds. */
export const testHubDefaults = {
  within: 10_000,
  /** How far `close()` lets virtual time run for the broker's and channels' shutdown. */
  closeWithinMs: 60_000,
  /** Turns of the event loop `settle()` takes before it gives up on a hub that never goes quiet. */
  maxSettleTurns: 100_000,
} as const;

/** Consecutive turns with nothing in flight that count as settled (a promise chain's hops run within them). */
const QUIET_TURNS = 3;

/**
 * Turns `settle` waits for the broker's own asynchronous work (an
 * authentication, a channel rule, an asynchronous hook) once nothing else is
 * in flight. A JWT check takes a few (the thread pool answers); work still running after these waits
 * on something else — a timer on the virtual clock (a hook that never
 * answers, until its timeout), or the application's own I/O — and is the
 * test's to drive (`advance`) or await (`next`).
 */
const BUSY_TURNS = 2000;

/** …and at least this much real time, so a loaded machine's thread pool gets its turn (nanoseconds). */
const BUSY_REAL_NS = 100_000_000n;

/** The URL hub channels connect to (nothing resolves or listens there). */
const HUB_URL = 'ws://hub.test/';

/** A broker and ws:// clients in one process, joined by pipes, on a clock the test moves. */
export interface TestHub<TEvents extends EventMap> {
  /** The broker: `publish`, `stats()`, `presence`, hooks added in the test. */
  readonly broker: EventBrokerServer<TEvents>;
  /** The URL hub sockets claim to open; a surface is picked by its path, as on a real broker. */
  readonly url: string;
  /**
   * A WebSocket constructor that opens a pipe to the hub, for clients that
   * speak a surface's protocol themselves (a raw Synap client on
   * `${hub.url}pubsub/ws?topics=…`): the WebSocket API's `on*` slots,
   * `send`, `close`, `readyState`.
   */
  readonly WebSocket: WebSocketConstructor;
  /** A ws:// EventChannel connected to the hub (it connects on a later turn; `await channel.ready()`). */
  channel(options?: HubChannelOptions<TEvents>): EventChannel<TEvents>;
  /**
   * Every event the broker routed, in routing order (derived events and hook
   * emits included; refused ones not), optionally only those `pattern` matches.
   */
  emitted<TPattern extends PatternArgument<TEvents> = '#'>(
    pattern?: TPattern & PatternCheck<TEvents, TPattern>,
  ): TopicHookEvent<TEvents, TPattern>[];
  /**
   * The first routed event `pattern` matches (and `where` accepts) that no
   * earlier `next` returned — routed before this call or after it, so
   * `await channel.emit(…); await hub.next(…)` cannot miss it. Skips
   * virtual time while it waits; rejects with `timeout` past `within`.
   */
  next<TPattern extends PatternArgument<TEvents>>(
    pattern: TPattern & PatternCheck<TEvents, TPattern>,
    options?: HubNextOptions<TopicHookEvent<TEvents, TPattern>>,
  ): Promise<TopicHookEvent<TEvents, TPattern>>;
  /**
   * Cuts connections from the broker's side, as a network failure or a
   * killed proxy would: `channel`'s, or every one. Their clients see 1006
   * and reconnect on their backoff (virtual time: `advance` past it).
   */
  disconnect(channel?: EventChannel<TEvents>): void;
  /** Stops `channel` reading (frames and heartbeats wait), as a client stuck in a long task. */
  pause(channel: EventChannel<TEvents>): void;
  /** `channel` reads again: what waited arrives, in order. */
  resume(channel: EventChannel<TEvents>): void;
  /**
   * Moves virtual time `ms` forward, timer by timer, settling after each
   * (a reconnect backoff, an emit deadline, a heartbeat, history expiry
   * happen when their time comes, and what they cause runs before the next).
   */
  advance(ms: number): Promise<void>;
  /** Runs what is in flight (frames, admissions, timers due now) until nothing is; moves no time. */
  settle(): Promise<void>;
  /** Virtual milliseconds since the epoch (real ones on real time). */
  readonly now: number;
  /** Closes the channels, the broker and the clock (virtual time skips ahead as shutdown needs). */
  close(): Promise<void>;
  /** `await using hub = await createTestHub(…)` closes it on scope exit, even when the test throws. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A broker built from your config and ws:// channels to it, in-process, on
 * virtual time: tests of your services' event flows (acks, hook refusals,
 * history and `since`, gaps, presence, reconnects) that run in milliseconds.
 *
 * @example
 * const hub = await createTestHub({ config: brokerConfig });
 * const orders = hub.channel({ source: 'orders' });
 * await orders.emit('order.created', { orderId: 'o1' }, { ack: true });
 * const review = await hub.next('fraud.review', { where: (event) => event.data.orderId === 'o1' });
 * await hub.close();
 */
export async function createTestHub<TEvents extends EventMap = UntypedEvents>(options: TestHubOptions<TEvents> = {}): Promise<TestHub<TEvents>> {
  const clock = options.clock === false ? undefined : await VirtualClock.install(startOf(options.clock?.now));
  if (!clock) {
    // Its waits would be on the virtual hub's fake timers, which nothing moves: it would hang.
    if (virtualTimeInstalled()) throw new EventwireError('invalid_config', 'A hub on real time cannot run while a hub on virtual time is open (its timers would be virtual): close that one first');
  } else if (openRealTimeHubs > 0) {
    clock.uninstall();
    throw new EventwireError('invalid_config', 'A hub on virtual time cannot start while a hub on real time is open (its timers would turn virtual): close that one first');
  }
  let configured: ConfiguredBroker<TEvents>;
  try {
    configured = await createBrokerFromConfig<TEvents>(inProcessConfig({ ...options.config, ...(options.events && { events: options.events }) }), {
      ...(options.log && { log: options.log }),
      ...(options.authenticate && { authenticate: options.authenticate }),
    });
  } catch (error) {
    clock?.uninstall();
    throw error;
  }
  if (!clock) openRealTimeHubs++;
  return new Hub(configured, clock, options.events ?? options.config?.events);
}

/** Hubs on real time open now: virtual time would take their timers. */
let openRealTimeHubs = 0;

/** The virtual clock's start, in ms since the epoch. */
function startOf(now: number | Date | undefined): number {
  const start = now === undefined ? 0 : Number(now);
  if (!Number.isFinite(start)) throw new EventwireError('invalid_config', `clock.now: ${String(now)} is not a time (ms since the epoch, or a valid Date)`);
  return start;
}

/** The config without what reaches outside the process. */
function inProcessConfig<TEvents extends EventMap>(config: BrokerConfig<TEvents>): BrokerConfig<TEvents> {
  const { port, host, tlsCert, tlsKey, cluster, dataDir, auditLog, webhooks, pusherWebhooks, ...kept } = config;
  void [port, host, tlsCert, tlsKey, cluster, dataDir, auditLog, webhooks, pusherWebhooks];
  return kept;
}

class Hub<TEvents extends EventMap> implements TestHub<TEvents> {
  readonly broker: EventBrokerServer<TEvents>;
  readonly url = HUB_URL;
  readonly WebSocket: WebSocketConstructor;
  readonly #configured: ConfiguredBroker<TEvents>;
  readonly #clock: VirtualClock | undefined;
  readonly #events: TEvents | undefined;
  readonly #traffic = new PipeTraffic();
  /** Every routed event, in order; `#taken` marks those `next` returned. */
  readonly #routed: AnyHookEvent<TEvents>[] = [];
  readonly #taken = new Set<number>();
  /** Called when an event is routed (real-time waits). */
  readonly #routedListeners = new Set<() => void>();
  /** Open sockets: every one, and per channel. */
  readonly #sockets = new Set<PipeSocket>();
  readonly #channelSockets = new WeakMap<EventChannel<TEvents>, Set<PipeSocket>>();
  readonly #channels = new Set<EventChannel<TEvents>>();
  #closing: Promise<void> | undefined;

  constructor(configured: ConfiguredBroker<TEvents>, clock: VirtualClock | undefined, events: TEvents | undefined) {
    this.#configured = configured;
    this.#events = events;
    this.broker = configured.broker;
    this.#clock = clock;
    this.WebSocket = this.#socketClass(undefined);
    const record = (event: AnyHookEvent<TEvents>): void => {
      this.#routed.push(event);
      for (const listener of this.#routedListeners) listener();
    };
    (this.broker as unknown as EventBrokerServer).observe('#', record as (event: unknown) => void, { name: 'test hub', [builtinHook]: true } as HookOptions);
  }

  get now(): number {
    return this.#clock ? this.#clock.now : Date.now();
  }

  channel(options: HubChannelOptions<TEvents> = {}): EventChannel<TEvents> {
    this.#assertOpen();
    const sockets = new Set<PipeSocket>();
    const { token, ws, ...common } = options;
    const events = this.#events;
    const channel = new EventChannel<TEvents>({
      ...common,
      ...(events && { events }),
      url: HUB_URL,
      ws: { ...ws, ...(token !== undefined && { token }), WebSocket: this.#socketClass(sockets) },
    } as EventChannelOptions<TEvents>);
    this.#channelSockets.set(channel, sockets);
    this.#channels.add(channel);
    return channel;
  }

  readonly emitted: TestHub<TEvents>['emitted'] = (pattern?: string) => {
    const matches = matcherOf(pattern ?? '#');
    return this.#routed.filter((event) => matches(event.topic)) as never[];
  };

  async next<TPattern extends PatternArgument<TEvents>>(
    pattern: TPattern & PatternCheck<TEvents, TPattern>,
    options: HubNextOptions<TopicHookEvent<TEvents, TPattern>> = {},
  ): Promise<TopicHookEvent<TEvents, TPattern>> {
    this.#assertOpen();
    const matches = matcherOf(pattern);
    const where = options.where as ((event: AnyHookEvent<TEvents>) => boolean) | undefined;
    const find = (): TopicHookEvent<TEvents, TPattern> | undefined => {
      for (let index = 0; index < this.#routed.length; index++) {
        const event = this.#routed[index]!;
        if (this.#taken.has(index) || !matches(event.topic) || (where && !where(event))) continue;
        this.#taken.add(index);
        return event as TopicHookEvent<TEvents, TPattern>;
      }
      return undefined;
    };
    const within = options.within ?? testHubDefaults.within;
    const found = await this.#until(find, within);
    if (found === undefined) throw new EventwireError('timeout', `No ${pattern} event${where ? ' that `where` accepts' : ''} within ${within} ms (hub time)`);
    return found;
  }

  disconnect(channel?: EventChannel<TEvents>): void {
    this.#assertOpen();
    const sockets = channel ? this.#channelSockets.get(channel) : this.#sockets;
    if (!sockets) throw new EventwireError('invalid_config', 'hub.disconnect: the channel is not one of this hub’s (make it with hub.channel())');
    for (const socket of [...sockets]) socket.wire?.terminate();
  }

  pause(channel: EventChannel<TEvents>): void {
    for (const socket of this.#socketsOf(channel)) socket.pause();
  }

  resume(channel: EventChannel<TEvents>): void {
    for (const socket of this.#socketsOf(channel)) socket.resume();
  }

  async advance(ms: number): Promise<void> {
    this.#assertOpen();
    if (!this.#clock) throw new EventwireError('invalid_config', 'hub.advance needs virtual time (the hub was made with clock: false)');
    if (!Number.isFinite(ms) || ms < 0) throw new EventwireError('invalid_config', `hub.advance: ${ms} is not a duration in ms`);
    // Waiting for nothing steps every timer up to the target, settling after each.
    await this.#until(() => undefined, ms);
  }

  async settle(): Promise<void> {
    const clock = this.#clock;
    let quiet = 0;
    let busy = 0; // consecutive turns spent waiting only for the broker's own work
    let busySince = 0n;
    let active = 0; // turns with frames in flight or timers due: a livelock if they never end
    while (active < testHubDefaults.maxSettleTurns) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      const due = clock?.nextDue();
      if (clock && due !== undefined && due <= clock.now) {
        await clock.tick(0);
        active++;
        quiet = busy = 0;
      } else if (this.#traffic.pending > 0) {
        active++;
        quiet = busy = 0;
      } else if (this.broker[inProcessPending]() > 0 && (busy < BUSY_TURNS || process.hrtime.bigint() - busySince < BUSY_REAL_NS)) {
        if (busy++ === 0) busySince = process.hrtime.bigint();
        quiet = 0;
      } else if (++quiet >= QUIET_TURNS) return;
    }
    throw new EventwireError('timeout', `The hub did not settle within ${testHubDefaults.maxSettleTurns} turns: something keeps sending or scheduling timers due now`);
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#shutdown());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------------------

  async #shutdown(): Promise<void> {
    try {
      await this.#drive(
        (async () => {
          await Promise.all([...this.#channels].map((channel) => channel.close()));
          await this.#configured.close();
        })(),
        testHubDefaults.closeWithinMs,
      );
    } finally {
      if (this.#clock) this.#clock.uninstall();
      else openRealTimeHubs--;
    }
  }

  /** Awaits `work`, skipping virtual time while it waits (up to `within` ms of it); real time just waits. */
  async #drive<T>(work: Promise<T>, within: number): Promise<T> {
    if (!this.#clock) return work;
    let done = false;
    const finished = work.finally(() => (done = true));
    finished.catch(() => {});
    if ((await this.#until(() => (done ? true : undefined), within)) === undefined) {
      throw new EventwireError('timeout', `Still waiting after ${within} ms of hub time`);
    }
    return finished;
  }

  /**
   * Waits for `check` to answer, up to `within` ms of hub time. On virtual
   * time the clock skips to the next timer whenever the hub has settled and
   * `check` still has nothing: time passes only when nothing else would happen.
   */
  async #until<T>(check: () => T | undefined, within: number): Promise<T | undefined> {
    const clock = this.#clock;
    if (!clock) return this.#untilReal(check, within);
    const deadline = clock.now + within;
    for (;;) {
      await this.settle();
      const found = check();
      if (found !== undefined) return found;
      const due = clock.nextDue();
      if (clock.now >= deadline) return undefined;
      await clock.tick(due !== undefined && due <= deadline ? Math.max(0, due - clock.now) : deadline - clock.now);
    }
  }

  async #untilReal<T>(check: () => T | undefined, within: number): Promise<T | undefined> {
    const found = check();
    if (found !== undefined) return found;
    return new Promise<T | undefined>((resolve) => {
      const done = (value: T | undefined): void => {
        clearTimeout(timer);
        this.#routedListeners.delete(listener);
        resolve(value);
      };
      const listener = (): void => {
        const value = check();
        if (value !== undefined) done(value);
      };
      const timer = setTimeout(() => done(check()), within);
      this.#routedListeners.add(listener);
    });
  }

  /** A WebSocket class whose sockets open pipes to this hub, kept in `owned` too when given (a channel's). */
  #socketClass(owned: Set<PipeSocket> | undefined): WebSocketConstructor {
    const admit = (socket: PipeSocket): void => this.#admit(socket);
    const traffic = this.#traffic;
    const all = this.#sockets;
    const assertOpen = (): void => this.#assertOpen();
    return class HubSocket extends PipeSocket {
      constructor(url: string) {
        assertOpen();
        super(url, traffic, admit);
        all.add(this);
        owned?.add(this);
        this.whenClosed(() => {
          all.delete(this);
          owned?.delete(this);
        });
      }
    };
  }

  /** Admits `socket` as the broker admits an upgrade: its surface by path, then the same admission. */
  #admit(socket: PipeSocket): void {
    const request = inProcessRequest(socket.url);
    const admitted = this.broker[inProcessUpgrade](request, {
      gone: () => socket.readyState !== PipeSocket.CONNECTING,
      accept: (open) => {
        const wire = new PipeWire(socket);
        socket.accepted(wire);
        open(wire);
      },
      refuse: (failure) => socket.refused(httpStatusFor(failure.code)),
      acceptToRefuse: (refuse) => {
        if (socket.readyState !== PipeSocket.CONNECTING) return;
        const wire = new PipeWire(socket);
        socket.accepted(wire);
        refuse({ send: (text) => wire.send(text), close: (code, reason) => wire.close(code, reason) });
      },
    });
    // The upgrade answers every refusal itself; a throw past it is a broker bug, seen by the client as a 500.
    this.#traffic.admissions.track(admitted).catch(() => socket.refused(500));
  }

  #socketsOf(channel: EventChannel<TEvents>): Set<PipeSocket> {
    const sockets = this.#channelSockets.get(channel);
    if (!sockets) throw new EventwireError('invalid_config', 'The channel is not one of this hub’s (make it with hub.channel())');
    return sockets;
  }

  #assertOpen(): void {
    if (this.#closing) throw new EventwireError('channel_closed', 'The test hub is closed');
  }
}

/** A topic matcher for a pattern (captures match as `*`). */
function matcherOf(pattern: string): (topic: string) => boolean {
  const normalised = parsePattern(pattern).pattern;
  return (topic) => topicMatches(normalised, topic);
}

/**
 * The upgrade request a pipe brings: a real IncomingMessage (so every
 * surface reads it as it reads one from a socket) on a socket that is never
 * connected, from the loopback address.
 */
function inProcessRequest(url: string): IncomingMessage {
  const parsed = new URL(url);
  const socket = new Socket();
  Object.defineProperty(socket, 'remoteAddress', { value: '127.0.0.1' });
  Object.defineProperty(socket, 'remotePort', { value: 0 });
  const request = new IncomingMessage(socket);
  request.method = 'GET';
  request.url = `${parsed.pathname}${parsed.search}`;
  request.headers = { host: parsed.host, connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' };
  return request;
}
