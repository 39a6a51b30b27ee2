// `cluster` takes an engine by value, not only a URL. A small engine of the
// test's own (brokers in one process sharing events through memory: a real
// implementation of the ClusterEngine contract, written against the public
// exports only) carries events between two brokers, both ways, each once and
// in order, with presence riding on it; /cluster gathers both nodes; with
// history rules it is refused like any engine that shares events and not
// history. And an engine built by createClusterEngine and given to one broker
// meets a broker given the URL on a real nats-server.
import { EventChannel, EventwireError, TopicTrie, type EventEnvelope } from '@eventwire/event-channel';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { natsServerAvailable, startNatsServer, type NatsServer } from '../../../scripts/testing/nats-server.js';
import {
  EventBrokerServer,
  createClusterEngine,
  type ClusterBus,
  type ClusterEngine,
  type ClusterEngineHost,
  type ClusterEngineStats,
  type ClusterPart,
  type ClusterState,
} from '../src/index.js';
import { awaitRoute, joinPresence, untilMembers } from './cluster-helpers.js';
import { startBroker, until, within, type TestBroker } from './helpers.js';

const WAIT = 5000;

/** Brokers of one process: what each engine forwards reaches the others that listen for it. */
class MemoryHub {
  readonly engines = new Set<MemoryClusterEngine>();
  /** The parts' bus: handlers by internal subject, with the engine each belongs to. */
  readonly bus = new Map<string, Set<{ engine: MemoryClusterEngine; handle: Parameters<ClusterBus['subscribe']>[1] }>>();
}

/**
 * A ClusterEngine over memory. Deliveries are queued as microtasks, in the
 * order they were forwarded, so an event reaches another broker after the
 * publish that put it there returned (as over a network), never re-entering it.
 */
class MemoryClusterEngine implements ClusterEngine {
  readonly kind = 'memory';
  readonly presence = { heartbeatMs: 100 };
  #state: ClusterState = 'connecting';
  #host: ClusterEngineHost | undefined;
  #parts: readonly ClusterPart[] = [];
  readonly #interest = new TopicTrie<string>();
  readonly #stops: Array<() => void> = [];
  #forwarded = 0;
  #received = 0;
  #invalid = 0;

  constructor(
    readonly hub: MemoryHub,
    readonly node: string,
  ) {}

  get state(): ClusterState {
    return this.#state;
  }

  attach(host: ClusterEngineHost, parts: readonly ClusterPart[]): void {
    this.#host = host;
    this.#parts = parts;
  }

  start(): void {
    this.hub.engines.add(this);
    this.#state = 'open';
    const bus = this.#bus();
    for (const part of this.#parts) part.opened(bus, true);
  }

  readonly interest = (pattern: string, interested: boolean): void => {
    if (interested) this.#interest.add(pattern, pattern);
    else this.#interest.remove(pattern, pattern);
  };

  forward(envelope: EventEnvelope, except: string | undefined): void {
    if (this.#state !== 'open') return;
    this.#forwarded++;
    const copy = JSON.parse(JSON.stringify(envelope)) as unknown;
    for (const other of this.hub.engines) if (other !== this) queueMicrotask(() => other.#receive(envelope.topic, copy, except));
  }

  #receive(topic: string, envelope: unknown, except: string | undefined): void {
    if (this.#state !== 'open' || !this.#interest.hasMatch(topic)) return;
    this.#received++;
    this.#host!.deliver(envelope, except);
  }

  stats(): ClusterEngineStats {
    return {
      node: this.node,
      engine: this.kind,
      state: this.#state,
      forwarded: this.#forwarded,
      received: this.#received,
      invalid: this.#invalid,
      held: 0,
      droppedWhileAway: 0,
      reconnects: 0,
      interest: this.#interest.size,
    };
  }

  async gatherStats(): Promise<unknown[]> {
    return [this.#host!.nodeStats(), ...[...this.hub.engines].filter((other) => other !== this).map((other) => other.#host!.nodeStats())];
  }

  dropped(error: EventwireError, received = true): void {
    if (received) this.#received--;
    this.#invalid++;
    this.#host!.report(error);
  }

  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    await Promise.all(this.#parts.map((part) => part.close()));
    for (const stop of this.#stops) stop();
    this.hub.engines.delete(this);
    this.#state = 'closed';
  }

  /** The parts' bus: every other engine's handlers of a subject hear a body, in the order it was sent. */
  #bus(): ClusterBus {
    const send = (subject: string, body: object, reply?: (answer: object) => void): void => {
      const copy = JSON.parse(JSON.stringify(body)) as unknown;
      for (const { engine, handle } of this.hub.bus.get(subject) ?? []) {
        if (engine !== this) queueMicrotask(() => engine.#state === 'open' && handle(copy, reply));
      }
    };
    return {
      subscribe: (subject, handle) => {
        let handlers = this.hub.bus.get(subject);
        if (!handlers) this.hub.bus.set(subject, (handlers = new Set()));
        const entry = { engine: this, handle };
        handlers.add(entry);
        const stop = (): void => void handlers.delete(entry);
        this.#stops.push(stop);
        return stop;
      },
      publish: (subject, body) => send(subject, body),
      request: (subject, body, answer) => {
        let open = true;
        send(subject, body, (reply) => queueMicrotask(() => open && answer(JSON.parse(JSON.stringify(reply)) as unknown)));
        return () => void (open = false);
      },
    };
  }
}

interface Context {
  hub: MemoryHub;
  a: TestBroker<never>;
  b: TestBroker<never>;
}

const test = suite<Context>('cluster: an engine given by value');

async function memoryBroker(hub: MemoryHub, node: string): Promise<TestBroker<never>> {
  return startBroker<never>({ cluster: new MemoryClusterEngine(hub, node), authenticate: ({ token }) => (token ? { id: token } : undefined) }, (broker) =>
    void broker.channel('presence-room.{roomId}', (user) => ({ name: user?.id ?? 'guest' })),
  );
}

test.before(async (context) => {
  context.hub = new MemoryHub();
  context.a = await memoryBroker(context.hub, 'mem-a');
  context.b = await memoryBroker(context.hub, 'mem-b');
});

test.after(async ({ a, b }) => {
  await a?.stop();
  await b?.stop();
});

test('events cross between brokers on an engine of the application’s own, both ways, each once and in order', async ({ a, b }) => {
  const onA = new EventChannel({ url: a.url, ws: { token: 'ada' } });
  const onB = new EventChannel({ url: b.url, ws: { token: 'bob' } });
  try {
    const atA: number[] = [];
    const atB: number[] = [];
    await onA.on('mem.to-a', (data) => void atA.push((data as { n: number }).n)).ready;
    await onB.on('mem.to-b.#', (data) => void atB.push((data as { n: number }).n)).ready;
    await awaitRoute(onB, 'mem.to-a', () => atA.length > 0);
    await awaitRoute(onA, 'mem.to-b.x', () => atB.length > 0);
    atA.length = 0;
    atB.length = 0;
    for (let n = 1; n <= 50; n++) {
      await onB.emit('mem.to-a', { n }, { ack: true });
      await onA.emit('mem.to-b.x', { n }, { ack: true });
    }
    const all = Array.from({ length: 50 }, (_, index) => index + 1);
    await until(() => atA.length >= 50 && atB.length >= 50, 'every event on the other broker', WAIT);
    assert.equal(atA, all, 'B to A: every event once, in order');
    assert.equal(atB, all, 'A to B: every event once, in order');
    assert.is(a.broker.stats().cluster?.engine, 'memory', "the broker's stats are the given engine's");
    assert.is(a.broker.stats().cluster?.node, 'mem-a');
  } finally {
    await Promise.all([onA.close(), onB.close()]);
  }
});

test('presence rides on the given engine: a member on one broker is a member on the other', async ({ a, b }) => {
  const channel = 'presence-room.mem';
  const ada = await joinPresence(a, 'ada', channel);
  await untilMembers(b, channel, ['ada'], 'B sees ada (on A)');
  ada.client.close();
  await untilMembers(b, channel, [], 'ada gone from B too');
});

test('/cluster gathers every node through the given engine', async ({ a }) => {
  const stats = await within(a.broker.clusterStats(), WAIT, '/cluster');
  assert.equal(stats.nodes.map((node) => node.cluster?.node), ['mem-a', 'mem-b']);
});

test('with history rules and no shared historyStore, an engine that keeps no history is refused (unsupported_transport)', () => {
  const refused = (() => {
    try {
      new EventBrokerServer({ cluster: new MemoryClusterEngine(new MemoryHub(), 'mem-h'), history: [{ pattern: 'h.#', maxEvents: 10 }] });
    } catch (error) {
      return error;
    }
    return undefined;
  })();
  assert.instance(refused, EventwireError);
  assert.is((refused as EventwireError).code, 'unsupported_transport');
});

test.run();

// An engine from the factory, given by value, meets a broker given the URL.
const nats = suite<{ server: NatsServer }>('cluster: a NATS engine from createClusterEngine, given by value');
if (!natsServerAvailable()) {
  nats.skip('(nats-server not installed: skipped)', () => {});
} else {
  nats.before(async (context) => {
    context.server = await startNatsServer();
  });
  nats.after(async ({ server }) => {
    await server?.stop();
  });
  nats('its broker joins the cluster under the given node name and exchanges events with a broker given the URL', async ({ server }) => {
    const given = await startBroker<never>({ cluster: createClusterEngine({ url: server.url, node: 'given', reconnectTimeWaitMs: 50 }) });
    const byUrl = await startBroker<never>({ cluster: { url: server.url, node: 'by-url', reconnectTimeWaitMs: 50 } });
    const onGiven = new EventChannel({ url: given.url });
    const onUrl = new EventChannel({ url: byUrl.url });
    try {
      await until(() => given.broker.stats().cluster?.state === 'open' && byUrl.broker.stats().cluster?.state === 'open', 'both joined', WAIT);
      assert.is(given.broker.stats().cluster?.node, 'given');
      assert.is(given.broker.stats().cluster?.engine, 'nats');
      const seen: number[] = [];
      await onGiven.on('given.t', (data) => void seen.push((data as { n: number }).n)).ready;
      await awaitRoute(onUrl, 'given.t', () => seen.length > 0);
      seen.length = 0;
      for (let n = 1; n <= 20; n++) await onUrl.emit('given.t', { n }, { ack: true });
      await until(() => seen.length >= 20, 'every event', WAIT);
      assert.equal(seen, Array.from({ length: 20 }, (_, index) => index + 1));
    } finally {
      await Promise.all([onGiven.close(), onUrl.close()]);
      await Promise.all([given.stop(), byUrl.stop()]);
    }
  });
}
nats.run();
