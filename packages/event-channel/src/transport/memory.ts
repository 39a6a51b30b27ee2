import type { EventEnvelope } from '../envelope.js';
import { EventwireError } from '../errors.js';
import { MemoryHistoryStore } from '../history/memory-store.js';
import { HistoryRules, type HistoryRule } from '../history/rules.js';
import { readStoredPage } from '../history/page.js';
import { TopicTrie } from '../topic-trie.js';
import type { HistoryPage, HistoryQuery, PublishOptions, Transport, TransportSink } from './transport.js';

/** Options of {@link MemoryHub}. */
export interface MemoryHubOptions {
  /**
   * Topics that keep history on every bus of this hub, as a broker's
   * `history` option: events get offsets, and `on(p, h, { since })` /
   * `subscribe(p, { since })` read them back, so code written against
   * memory:// behaves the same over ws://.
   */
  readonly history?: readonly HistoryRule[];
}

/**
 * In-process delivery: every channel opened on `memory://<name>` in one hub
 * shares one bus. It is a product feature, not a test double, so it keeps the
 * network's semantics:
 *
 * - delivery is asynchronous (never inside `emit`) and in one FIFO order per
 *   bus, so each publisher's events arrive in the order it emitted them;
 * - each event is serialised to JSON once per publish and parsed once per
 *   receiving channel, so receivers never share or alias the publisher's
 *   objects and data behaves exactly as it will over `ws://` (a `Date` arrives
 *   as a string, a function not at all);
 * - a channel gets each event once even when several of its patterns match.
 */
export class MemoryHub {
  readonly #buses = new Map<string, MemoryBus>();
  readonly #history: HistoryRules | undefined;

  constructor(options: MemoryHubOptions = {}) {
    this.#history = options.history && options.history.length > 0 ? new HistoryRules(options.history) : undefined;
  }

  /** Opens a transport on the bus `name`, creating the bus on first use. */
  transport(name: string): MemoryTransport {
    let bus = this.#buses.get(name);
    if (!bus) {
      bus = new MemoryBus(() => this.#buses.delete(name), this.#history);
      this.#buses.set(name, bus);
    }
    return new MemoryTransport(bus);
  }

  /** Names of the buses with at least one open transport. */
  busNames(): string[] {
    return [...this.#buses.keys()];
  }
}

/** The bus a `memory://` URL names: `memory://shop` is `shop`, `memory://` alone `default`. */
export function memoryBusName(url: URL): string {
  const name = decodeURIComponent(url.host + url.pathname).replace(/\/+$/, '');
  return name === '' ? 'default' : name;
}

/**
 * The hub `memory://` URLs use when no `hub` is passed. In-process sharing by
 * name is the feature, so some process-wide table has to exist; it is this one
 * instance, explicit and replaceable (pass your own `MemoryHub` to isolate).
 * Buses are dropped when their last transport closes, so it does not grow.
 */
export const defaultMemoryHub = new MemoryHub();

type QueueItem =
  | { readonly kind: 'event'; readonly json: string; readonly receivers: Set<MemoryTransport> }
  | { readonly kind: 'marker'; readonly reached: () => void };

/** @internal One named bus; reach it through {@link MemoryHub}. */
export class MemoryBus {
  readonly #subscriptions = new TopicTrie<MemoryTransport>();
  readonly #members = new Set<MemoryTransport>();
  readonly #onEmpty: () => void;
  #queue: QueueItem[] = [];
  #draining = false;
  /** History, when the hub keeps any; a bus's history lives as long as the bus. */
  readonly #history: { readonly rules: HistoryRules; readonly store: MemoryHistoryStore } | undefined;

  constructor(onEmpty: () => void, rules?: HistoryRules) {
    this.#onEmpty = onEmpty;
    this.#history = rules && { rules, store: new MemoryHistoryStore() };
  }

  join(member: MemoryTransport): void {
    this.#members.add(member);
  }

  leave(member: MemoryTransport, patterns: Iterable<string>): void {
    for (const pattern of patterns) this.#subscriptions.remove(pattern, member);
    this.#members.delete(member);
    if (this.#members.size === 0) this.#onEmpty();
  }

  subscribe(pattern: string, member: MemoryTransport): void {
    this.#subscriptions.add(pattern, member);
  }

  unsubscribe(pattern: string, member: MemoryTransport): void {
    this.#subscriptions.remove(pattern, member);
  }

  /** Delivers to every matching member, but `except` (a publish to others). */
  publish(input: EventEnvelope, except?: MemoryTransport): void {
    let envelope = input;
    const retention = this.#history?.rules.retentionFor(envelope.topic);
    if (retention) {
      // As a broker does: a re-sent event is stored once; stored before delivered.
      if (this.#history!.store.findById(envelope.id)) return;
      JSON.stringify(envelope.data); // refuse what cannot be stored before storing it
      envelope = this.#history!.store.append(envelope, retention);
    }
    // Receivers are fixed at publish time: a later subscriber does not see it.
    const receivers = this.#subscriptions.matchValues(envelope.topic);
    if (except) receivers.delete(except);
    if (receivers.size === 0) return;
    this.#enqueue({ kind: 'event', json: JSON.stringify(envelope), receivers });
  }

  /** A page of this bus's history (`no_history` when the hub keeps none for the pattern). */
  readHistory(pattern: string, query: HistoryQuery): HistoryPage {
    const page = readStoredPage(this.#history, pattern, query);
    return { events: jsonCopies(page.events), more: page.more, ...(page.gap && { gap: page.gap }) };
  }

  /** Resolves once everything queued before this call has been handed out. */
  flush(): Promise<void> {
    return new Promise((reached) => this.#enqueue({ kind: 'marker', reached }));
  }

  #enqueue(item: QueueItem): void {
    this.#queue.push(item);
    if (!this.#draining) {
      this.#draining = true;
      queueMicrotask(() => this.#drain());
    }
  }

  #drain(): void {
    // One round per turn: swap the queue out so events published by handlers
    // during this round go to the next one, which runs after the event loop
    // had a turn. Two handlers replying to each other forever then still let
    // timers, I/O and signals through, instead of spinning in microtasks.
    const batch = this.#queue;
    this.#queue = [];
    for (const item of batch) {
      if (item.kind === 'marker') {
        item.reached();
        continue;
      }
      for (const receiver of item.receivers) receiver.receive(item.json);
    }
    if (this.#queue.length > 0) yieldToEventLoop(() => this.#drain());
    else this.#draining = false;
  }
}

/** Stored events as the network would hand them over: fresh copies, never the stored objects. */
function jsonCopies(events: readonly EventEnvelope[]): unknown[] {
  return events.map((event) => JSON.parse(JSON.stringify(event)) as unknown);
}

/** Runs `task` after pending I/O and timers (setImmediate in Node, a 0 ms timer elsewhere). */
const yieldToEventLoop: (task: () => void) => void =
  typeof setImmediate === 'function' ? (task) => void setImmediate(task) : (task) => void setTimeout(task, 0);

/** One channel's attachment to a {@link MemoryBus}. */
export class MemoryTransport implements Transport {
  readonly kind = 'memory';
  readonly #bus: MemoryBus;
  readonly #patterns = new Set<string>();
  #sink: TransportSink | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal Created by {@link MemoryHub.transport}. */
  constructor(bus: MemoryBus) {
    this.#bus = bus;
  }

  connect(sink: TransportSink): void {
    this.#sink = sink;
    this.#bus.join(this);
    sink.status({ state: 'open' });
  }

  publish(envelope: EventEnvelope, options?: PublishOptions): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    try {
      this.#bus.publish(envelope, options?.toOthers === true ? this : undefined);
    } catch (error) {
      // JSON.stringify throws on cycles and BigInt: the same data could not
      // cross a network either.
      return Promise.reject(
        new EventwireError('invalid_payload', `Event data is not JSON-serialisable: ${String(error)}`, {
          cause: error,
        }),
      );
    }
    return Promise.resolve();
  }

  subscribe(pattern: string): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    this.#patterns.add(pattern);
    this.#bus.subscribe(pattern, this);
    return Promise.resolve();
  }

  unsubscribe(pattern: string): Promise<void> {
    if (this.#patterns.delete(pattern)) this.#bus.unsubscribe(pattern, this);
    // Events published before this call are already queued for us; resolve
    // once they are handed out, as a broker's ack would come after them.
    return this.#bus.flush();
  }

  readHistory(pattern: string, query: HistoryQuery): Promise<HistoryPage> {
    if (this.#closed) return Promise.reject(closedError());
    try {
      return Promise.resolve(this.#bus.readHistory(pattern, query));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): Promise<void> {
    // Set the guard before any shutdown code runs: shutting down can report
    // `closed` synchronously, and whoever hears it may call close() again.
    this.#closing ??= Promise.resolve().then(() => this.#shutdown());
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    // Deliver what is already queued for us (e.g. our own last emit) before leaving.
    await this.#bus.flush();
    this.#closed = true;
    this.#bus.leave(this, this.#patterns);
    this.#patterns.clear();
    this.#sink?.status({ state: 'closed' });
  }

  /** @internal Called by the bus, in order. */
  receive(json: string): void {
    if (this.#closed || !this.#sink) return;
    this.#sink.deliver(JSON.parse(json));
  }
}

function closedError(): EventwireError {
  return new EventwireError('channel_closed', 'The memory transport is closed');
}
