// Synap's pub/sub API: subscribers on a raw WebSocket at
// `/pubsub/ws?topics=…` (they only listen), publishers over Synap's HTTP
// routes and command API (synap-http.ts). Existing Synap clients and SDKs
// work unchanged.
import type { Surface, SurfaceDescription } from '../surface.js';
import type { SurfaceHost } from '../surface-host.js';
import { SynapHttpApi } from './synap-http.js';
import { SynapSubscriber, parseSynapTopics } from './synap-subscriber.js';

/** The Synap surface, known without a broker. */
export function describeSynapSurface(): SurfaceDescription {
  return {
    name: 'synap',
    websocket: '/pubsub/ws',
    title: 'Synap pub/sub',
    description: "Synap's pub/sub WebSocket: subscribers name their topics in ?topics=… and only listen (publishes go through Synap's HTTP API).",
    credentials: 'required',
  };
}

export function createSynapSurface(host: SurfaceHost): Surface<readonly string[]> {
  const { core, access, limits } = host;
  const description = describeSynapSurface();
  const api = new SynapHttpApi(core, access, {
    maxPayloadBytes: limits.maxPayloadBytes,
    topicLimits: limits.topicLimits,
    maxSubscriptions: limits.maxSubscriptions,
    counters: () => {
      const stats = host.stats();
      return { connections: stats.connections, slowConsumersCut: stats.slowConsumersCut };
    },
  });
  const untrack = (subscriber: SynapSubscriber): void => api.untrack(subscriber);
  return {
    name: 'synap',
    endpoints: { websocket: description.websocket, http: ['/pubsub', '/api/v1/command'] },
    // Synap clients send no hello: whoever connects is who the upgrade says.
    credentials: description.credentials,
    claims: (url) => url.pathname === description.websocket,
    accept({ url }) {
      // A Synap subscriber names its channels in the URL: each must be allowed before it is accepted.
      const topics = parseSynapTopics(url, limits.topicLimits, limits.maxSubscriptions);
      return { state: topics, subscribes: topics };
    },
    open({ connection, state: topics }) {
      const subscriber = new SynapSubscriber(connection, host.sessions, untrack);
      // `pubsub.unsubscribe` over HTTP can reach it by id.
      api.track(subscriber);
      for (const topic of topics) core.router.subscribe(subscriber, topic);
      subscriber.welcome(topics);
      return subscriber;
    },
    http: { serve: (request, response, url, caller) => api.handle(request, response, url.pathname, request.method ?? 'GET', caller) },
    upgradeHint: (_path, origin) => `open a WebSocket to ${origin.ws}/pubsub/ws?topics=a.b,c.* (Synap pub/sub)`,
  };
}
