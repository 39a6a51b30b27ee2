// Joins a broker's core to its cluster engine: what arrives from the other
// brokers is delivered through the core (checked like any event), what the
// engine lost becomes a gap for the subscriptions it touched, presence and
// cache channels' last events ride on the engine, and the core forwards its
// events and its subscriptions' interest to the engine.
import type { EventwireError } from '@eventwire/event-channel';
import type { BrokerCore } from '../core.js';
import type { PresenceRegistry } from '../presence.js';
import type { ClusterEngine } from './cluster-engine.js';
import { ClusterLastEvents } from './cluster-last-events.js';
import { ClusterPresence } from './cluster-presence.js';

export function joinCluster(
  engine: ClusterEngine,
  core: BrokerCore,
  broker: { report(error: EventwireError): void; log(line: string): void; nodeStats(): unknown },
  /** Channels occupied on this broker (Pusher webhooks), shared with the others as presence is. */
  occupancy?: PresenceRegistry,
): { liveNodes(): Iterable<string> } {
  const { report, log } = broker;
  const presence = new ClusterPresence(core.presence, engine.node, engine.presence ?? {}, { report, log });
  const occupied = occupancy && new ClusterPresence(occupancy, engine.node, { ...engine.presence, name: 'occupancy' }, { report, log });
  engine.attach(
    {
      deliver: (envelope, except) => core.deliverFromCluster(envelope, except, (error) => engine.dropped(error)),
      missed: (loss) => {
        const reach = core.tellClusterGap(loss.pattern, loss.reason);
        log(
          `cluster: events from other brokers${loss.pattern === undefined ? '' : ` on ${loss.pattern}`} may have been missed since ${new Date(loss.since).toISOString()} (${loss.reason}); ` +
            `${reach.connections} connections affected: ${reach.told} subscriptions told of a gap, ${reach.untold} on surfaces with no gap not told`,
        );
      },
      report,
      log,
      nodeStats: () => broker.nodeStats(),
    },
    [
      presence,
      ...(occupied ? [occupied] : []),
      new ClusterLastEvents(core.lastEvents, engine.node, { report, accept: (raw) => core.acceptFromHistory(raw, false) }),
    ],
  );
  core.linkCluster((envelope, except) => engine.forward(envelope, except));
  core.router.watchInterest(engine.interest);
  return {
    // Heard by both parts: a broker gone (bye, silence) leaves as soon as either has dropped it, so whoever
    // sends the removals it causes does not count it among the live ones.
    *liveNodes() {
      for (const node of presence.liveNodes()) if (!occupied || [...occupied.liveNodes()].includes(node)) yield node;
    },
  };
}
