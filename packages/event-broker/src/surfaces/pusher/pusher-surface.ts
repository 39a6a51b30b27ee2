// The Pusher Channels protocol: pusher-js and Laravel Echo at `/app/{key}`,
// the Pusher HTTP API at `/apps/{id}/…` (signed with the app's secret) and
// the channel and user auth endpoints Laravel serves at /broadcasting/auth.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventwireError } from '@eventwire/event-channel';
import type { PusherOptions } from '../../options.js';
import { decodePathSegment } from '../../http.js';
import type { Surface, SurfaceDescription } from '../surface.js';
import type { SurfaceHost } from '../surface-host.js';
import { PusherApps, developmentPusherApp, type PusherApp } from './pusher-apps.js';
import { PusherHttpApi } from './pusher-http.js';
import { PusherWebhooks, assertPusherWebhooks, pusherWebhookDefaults } from './pusher-webhooks.js';
import {
  PusherRefusal,
  PusherSession,
  assertPusherProtocol,
  createSocketIdGenerator,
  pusherCloseCode,
  pusherCodeFor,
  pusherCodes,
  pusherErrorFrame,
} from './pusher-session.js';

/** The Pusher surface, with the auth endpoints the broker also offers as handlers for a server of your own. */
export interface PusherSurface extends Surface<PusherApp> {
  /** The channel (or user) auth endpoint as a Node request listener. */
  nodeHandler(kind: 'channel' | 'user', clientAddress: (request: IncomingMessage) => string): (request: IncomingMessage, response: ServerResponse) => Promise<void>;
  /** The same as a fetch handler. */
  fetchHandler(kind: 'channel' | 'user'): (request: Request, clientAddress?: string) => Promise<Response>;
  /** The apps' webhooks; undefined when no app has one (nothing then watches channels for them). */
  readonly webhooks: PusherWebhooks | undefined;
}

const appPath = /^\/app\/([^/]+)$/;

/** The Pusher surface, known without a broker: `/app/{key}`, one key per app. */
export function describePusherSurface(options: PusherOptions): SurfaceDescription {
  return {
    name: 'pusher',
    websocket: '/app/{key}',
    variables: { key: { description: "a Pusher app's public key", values: (options.apps ?? [developmentPusherApp]).map((app) => app.key) } },
    title: 'Pusher Channels protocol',
    description: 'The Pusher Channels protocol (pusher-js, Laravel Echo): channels are topics, private and presence channels are signed with the app secret.',
    // A Pusher socket has no credentials of its own: the app key admits it,
    // and private and presence channels are let in by their signatures.
    credentials: 'none',
  };
}

export function createPusherSurface(host: SurfaceHost, options: PusherOptions): PusherSurface {
  const { core, access, limits } = host;
  const apps = new PusherApps(options.apps ?? [developmentPusherApp], limits.topicLimits);
  const description = describePusherSurface(options);
  /** This broker's Pusher connections by socket id. */
  const sockets = new Map<string, PusherSession>();
  const webhookOptions = new Map(apps.all.map((app, index) => [app, options.apps?.[index]?.webhooks ?? []] as const));
  options.apps?.forEach((app, index) => assertPusherWebhooks(app.webhooks ?? [], `pusher.apps[${index}]`));
  const webhooks = [...webhookOptions.values()].some((each) => each.length > 0)
    ? new PusherWebhooks(apps.all, webhookOptions, core, options.webhookRemovalDelayMs ?? pusherWebhookDefaults.removalDelayMs, host.logRecord)
    : undefined;
  const authPath = options.authPath === false ? undefined : (options.authPath ?? '/broadcasting/auth');
  const userAuthPath = options.userAuthPath === false ? undefined : (options.userAuthPath ?? '/pusher/user-auth');
  const api = new PusherHttpApi({
    allowedOrigins: options.allowedOrigins,
    core,
    access,
    apps,
    maxPayloadBytes: limits.maxPayloadBytes,
    sockets,
    terminate: (socket) => host.connection(socket.id)?.close(pusherCodes.unauthorized, 'terminated by the app', 1000),
  });
  const sessionLimits = {
    core,
    access,
    sessions: host.sessions,
    maxSubscriptions: limits.maxSubscriptions,
    maxPayloadBytes: limits.maxPayloadBytes,
    webhooks,
    gone: (session: PusherSession) => {
      if (sockets.get(session.id) === session) sockets.delete(session.id);
    },
  };
  return {
    name: 'pusher',
    endpoints: { websocket: description.websocket, http: ['/apps/{id}'] },
    credentials: description.credentials,
    claims: (url) => appPath.test(url.pathname),
    accept({ url }) {
      const key = decodePathSegment(appPath.exec(url.pathname)![1]!);
      const app = apps.byKey(key);
      if (!app) throw new EventwireError('not_found', `No Pusher app with key "${key.slice(0, 100)}"`);
      assertPusherProtocol(url);
      return { state: app };
    },
    /**
     * Refused the way pusher-js understands: the WebSocket is accepted, gets
     * `pusher:error` with the code and is closed with it (4000–4099: do not
     * retry, 4100–4199: back off, 4200–4299: retry now). An HTTP refusal
     * would only read as a network failure to retry blindly.
     */
    refuse(upgrade, error) {
      const code = error instanceof PusherRefusal ? error.pusherCode : (pusherCodeFor(error.code) ?? pusherCodes.reconnect);
      upgrade.acceptToRefuse((socket) => {
        socket.send(pusherErrorFrame(code, error.message));
        socket.close(code, error.message.slice(0, 120));
      });
    },
    // Its id is the socket id (`N.N`), the id `socket_id` names to leave it out.
    connectionId: createSocketIdGenerator(),
    closeCode: pusherCloseCode,
    open({ connection, state: app }) {
      const session = new PusherSession(connection, app, sessionLimits);
      sockets.set(session.id, session);
      session.welcome();
      return session;
    },
    http: {
      // Signed with the app's secret (not the broker's credentials): asked before the broker authenticates.
      async serveSigned(request, response, url, { ip, traceparent }) {
        const path = url.pathname;
        if (path === authPath || path === userAuthPath) {
          await api.serveAuthEndpoint(request, response, path === authPath ? 'channel' : 'user', ip);
          return true;
        }
        return api.handle(request, response, url, ip, traceparent);
      },
    },
    upgradeHint: (path, origin) =>
      `connect pusher-js with key "${path.slice(5)}", wsHost and ${origin.secure ? 'wssPort of this broker and forceTLS: true' : 'wsPort of this broker'} (Pusher)`,
    warnings: () =>
      options.apps === undefined
        ? [`pusher: development app ${developmentPusherApp.id}/${developmentPusherApp.key} with the well-known secret "${developmentPusherApp.secret}": set pusher.apps before production`]
        : [],
    nodeHandler: (kind, clientAddress) => api.nodeHandler(kind, clientAddress),
    fetchHandler: (kind) => api.fetchHandler(kind),
    webhooks,
    close: () => webhooks?.close(),
  };
}
