// Pusher's HTTP API, as the official server libraries (pusher for Node,
// pusher-http-php under Laravel's broadcaster, …) call it, and the channel
// auth endpoint pusher-js and Laravel Echo post to. Requests to the API are
// signed with the app's secret (auth/pusher-signature.ts); publishing goes
// through the same core as every other surface.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventwireError, toEventwireError } from '@eventwire/event-channel';
import { findPayloadProblem } from '@eventwire/event-channel/protocol';
import type { Access } from '../../auth/access.js';
import { findToken, type BrokerUser } from '../../auth/authenticate.js';
import { channelKind } from '../../auth/channels.js';
import { signChannel, signUser, verifyRequest } from '../../auth/pusher-signature.js';
import type { BrokerCore } from '../../core.js';
import { corsHeaders } from '../../cors.js';
import { decodePathSegment, objectBody, parseJsonBody, readTextBody, sendError, sendJson } from '../../http.js';
import { isEncryptedChannel, pusherDataToEventData, type PusherApp, type PusherApps } from './pusher-apps.js';
import { createHash } from 'node:crypto';
import type { PusherSession } from './pusher-session.js';

/** Pusher's own bounds on one publish: channels per event, events per batch, name length. */
const MAX_CHANNELS_PER_EVENT = 100;
const MAX_BATCH = 10;
const MAX_EVENT_NAME = 200;
const SOCKET_ID = /^\d+\.\d+$/;

/** What the Pusher HTTP API needs of the broker. */
export interface PusherHttpOptions {
  readonly core: BrokerCore;
  readonly access: Access;
  readonly apps: PusherApps;
  readonly maxPayloadBytes: number;
  /** This broker's Pusher connections by socket id (which app a socket is on; whom to terminate). */
  readonly sockets: ReadonlyMap<string, PusherSession>;
  /** Closes one Pusher connection (terminate_connections). */
  readonly terminate: (socket: PusherSession) => void;
  /** Origins whose pages may call the auth endpoints (CORS); `'*'` for any. */
  readonly allowedOrigins?: readonly string[] | '*' | undefined;
}

/** Largest auth request body: a socket id and a channel name, with room to spare. */
const MAX_AUTH_BODY = 64 * 1024;

/** What the auth endpoints are asked and answer, whatever the HTTP framework around them. */
export interface PusherAuthRequest {
  /** The request body: form-encoded (pusher-js's default) or JSON. */
  readonly body: string;
  readonly contentType: string | undefined;
  /** The caller's credentials, found as for every HTTP call (`Authorization: Bearer`, `?token=`). */
  readonly token: string | undefined;
  readonly headers: IncomingMessage['headers'];
  readonly ip: string;
}

/** A status and a JSON body. */
export interface PusherAuthAnswer {
  readonly status: number;
  readonly body: Readonly<Record<string, unknown>>;
}

/**
 * The HTTP side of the Pusher surface: `/apps/{appId}/…` (events,
 * batch_events, channels, users) and the auth endpoints.
 */
export class PusherHttpApi {
  readonly #options: PusherHttpOptions;

  constructor(options: PusherHttpOptions) {
    this.#options = options;
  }

  /** Serves `/apps/{id}/…`; false when the path is not the Pusher API's. */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL, ip: string, traceparent?: string): Promise<boolean> {
    const match = /^\/apps\/([^/]+)(\/.*)$/.exec(url.pathname);
    if (!match) return false;
    const app = this.#options.apps.byId(decodePathSegment(match[1]!));
    if (!app) throw new EventwireError('not_found', `No Pusher app with id "${decodePathSegment(match[1]!).slice(0, 100)}"`);
    const method = request.method ?? 'GET';
    // Read before verifying: body_md5 signs it. Bounded like any publish (a batch holds up to ten events).
    const body = await readTextBody(request, MAX_BATCH * this.#options.maxPayloadBytes + 64 * 1024);
    try {
      verifyRequest({ method, path: url.pathname, query: Object.fromEntries(url.searchParams), body }, app.key, app.secret);
    } catch (error) {
      throw this.#options.access.refuse(toEventwireError(error));
    }
    const route = match[2]!;
    const expect = (wanted: string): void => {
      if (method !== wanted) throw new EventwireError('method_not_allowed', `${url.pathname} accepts ${wanted}, not ${method}`);
    };
    if (route === '/events') {
      expect('POST');
      return this.#answer(response, await this.#trigger(app, jsonObject(body), ip, traceparent));
    }
    if (route === '/batch_events') {
      expect('POST');
      const batch = jsonObject(body)['batch'];
      if (!Array.isArray(batch) || batch.length === 0 || batch.length > MAX_BATCH) {
        throw new EventwireError('invalid_payload', `"batch" must be a list of 1 to ${MAX_BATCH} events`);
      }
      const events = batch.map((entry: unknown, index) => this.#validate(app, objectBody(entry, `batch[${index}] must be an object`), `batch[${index}].`));
      // Each entry answers for its own (one) channel: its attributes, not keyed by name.
      const infos: unknown[] = [];
      for (const event of events) infos.push(Object.values(await this.#publish(app, event, ip, traceparent))[0] ?? {});
      return this.#answer(response, events.some((event) => event.info.length > 0) ? { batch: infos } : {});
    }
    if (route === '/channels') {
      expect('GET');
      return this.#answer(response, { channels: this.#channels(app, url.searchParams.get('filter_by_prefix') ?? '', infoOf(url.searchParams.get('info'))) });
    }
    const users = /^\/channels\/([^/]+)\/users$/.exec(route);
    if (users) {
      expect('GET');
      const topic = app.topicOf(decodePathSegment(users[1]!));
      if (channelKind(topic) !== 'presence') throw new EventwireError('invalid_payload', 'Users are only listed for presence channels');
      return this.#answer(response, { users: this.#options.core.presence.members(topic).map((member) => ({ id: member.id })) });
    }
    const channel = /^\/channels\/([^/]+)$/.exec(route);
    if (channel) {
      expect('GET');
      const topic = app.topicOf(decodePathSegment(channel[1]!));
      const { subscriptions, users } = this.#occupancy(topic);
      return this.#answer(response, { occupied: subscriptions > 0 || (users ?? 0) > 0, ...this.#counts(topic, infoOf(url.searchParams.get('info'))) });
    }
    const toUser = /^\/users\/([^/]+)\/(events|terminate_connections)$/.exec(route);
    if (toUser) {
      expect('POST');
      const userId = decodePathSegment(toUser[1]!);
      if (toUser[2] === 'terminate_connections') {
        for (const socket of this.#options.sockets.values()) if (socket.app === app && socket.userId === userId) this.#options.terminate(socket);
        return this.#answer(response, {});
      }
      const fields = jsonObject(body);
      const event = this.#validate(app, { ...fields, channel: undefined, channels: undefined }, '', app.userTopic(userId));
      await this.#publish(app, event, ip, traceparent);
      return this.#answer(response, {});
    }
    throw new EventwireError('not_found', `No Pusher API route ${method} ${url.pathname}`);
  }

  #answer(response: ServerResponse, body: unknown): true {
    sendJson(response, 200, body);
    return true;
  }

  /** `POST /events`: `{ name, data, channels | channel, socket_id?, info? }`. */
  async #trigger(app: PusherApp, body: Record<string, unknown>, ip: string, traceparent: string | undefined): Promise<Record<string, unknown>> {
    const event = this.#validate(app, body, '');
    const info = await this.#publish(app, event, ip, traceparent);
    return event.info.length > 0 ? { channels: info } : {};
  }

  /** Checks one event fully before anything of it is published: names, size, socket id. */
  #validate(app: PusherApp, body: Record<string, unknown>, where: string, userTopic?: string): ValidEvent {
    const name = body['name'];
    if (typeof name !== 'string' || name === '' || name.length > MAX_EVENT_NAME) {
      throw new EventwireError('invalid_payload', `${where}"name" must be an event name of 1 to ${MAX_EVENT_NAME} characters`);
    }
    let channels: unknown[];
    if (userTopic !== undefined) channels = [];
    else if (Array.isArray(body['channels'])) channels = body['channels'];
    else if (typeof body['channel'] === 'string') channels = [body['channel']];
    else throw new EventwireError('invalid_payload', `${where}"channels" (a list) or "channel" is required`);
    if (userTopic === undefined && (channels.length === 0 || channels.length > MAX_CHANNELS_PER_EVENT)) {
      throw new EventwireError('invalid_payload', `${where}"channels" must name 1 to ${MAX_CHANNELS_PER_EVENT} channels`);
    }
    const topics = userTopic !== undefined ? [userTopic] : channels.map((channel) => app.topicOf(channel));
    const data = body['data'];
    const eventData = pusherDataToEventData(data);
    // Before measuring it (JSON.stringify of data nested thousands deep
    // overflows the stack), and here, not only in the core: a batch is refused whole.
    const problem = findPayloadProblem(eventData, this.#options.core.payloadLimits.maxDepth);
    if (problem !== undefined) throw new EventwireError('invalid_payload', `${where}"data" ${problem}`);
    const size = typeof data === 'string' ? Buffer.byteLength(data) : Buffer.byteLength(JSON.stringify(data ?? null));
    if (size > this.#options.maxPayloadBytes) {
      throw new EventwireError('payload_too_large', `${where}"data" of ${size} bytes exceeds the limit of ${this.#options.maxPayloadBytes}`);
    }
    const socketId = body['socket_id'];
    if (socketId !== undefined && socketId !== null && (typeof socketId !== 'string' || !SOCKET_ID.test(socketId))) {
      throw new EventwireError('invalid_payload', `${where}"socket_id" must be a socket id such as "123.456"`);
    }
    return {
      name,
      topics,
      data: eventData,
      ...(typeof socketId === 'string' && { except: socketId }),
      info: infoOf(typeof body['info'] === 'string' ? body['info'] : null),
    };
  }

  /** Publishes one validated event to each of its channels; the counts `info` asks for, by channel. */
  async #publish(app: PusherApp, event: ValidEvent, ip: string, traceparent: string | undefined): Promise<Record<string, unknown>> {
    const { core, access } = this.#options;
    const counts: Record<string, unknown> = {};
    for (const topic of event.topics) {
      access.takeForIp(ip, 'publish');
      const envelope = core.createEnvelope(topic, event.data, {
        source: 'urn:eventwire:pusher-http',
        metadata: { event: event.name },
        ...(traceparent !== undefined && { traceparent }),
      });
      await core.publish(envelope, { surface: 'http', ...(event.except !== undefined && { except: event.except }) });
      if (event.info.length > 0) counts[app.channelOf(topic) ?? topic] = this.#counts(topic, event.info);
    }
    return counts;
  }

  /** The `info` attributes asked for: subscription_count, and user_count for a presence channel. */
  #counts(topic: string, info: readonly string[]): Record<string, number> {
    if (info.length === 0) return {};
    const { subscriptions, users } = this.#occupancy(topic);
    return {
      ...(info.includes('subscription_count') && { subscription_count: subscriptions }),
      ...(info.includes('user_count') && users !== undefined && { user_count: users }),
    };
  }

  /** Subscribers this broker holds for `topic`, and a presence channel's members (cluster-wide). */
  #occupancy(topic: string): { subscriptions: number; users: number | undefined } {
    const { core } = this.#options;
    return {
      subscriptions: core.router.countMatching(topic),
      users: channelKind(topic) === 'presence' ? core.presence.members(topic).length : undefined,
    };
  }

  /** `GET /channels`: occupied channels of this app (with `filter_by_prefix`), `user_count` for presence ones. */
  #channels(app: PusherApp, prefix: string, info: readonly string[]): Record<string, unknown> {
    const { core } = this.#options;
    const found: Record<string, unknown> = {};
    for (const topic of new Set([...core.router.patterns(), ...core.presence.channels()])) {
      const channel = app.channelOf(topic);
      if (channel === undefined || channel.startsWith('#') || !channel.startsWith(prefix)) continue;
      found[channel] = this.#counts(topic, info);
    }
    return found;
  }

  // ---------------------------------------------------------------------------
  // Auth endpoints

  /**
   * Serves one auth endpoint on the broker's port, with CORS for the allowed
   * origins: a page on another origin preflights its POST (it sends an
   * Authorization header).
   */
  async serveAuthEndpoint(request: IncomingMessage, response: ServerResponse, kind: 'channel' | 'user', ip: string): Promise<void> {
    // Auth answers carry the page's cookies: the allowed origin is echoed with credentials.
    const allowed = this.#options.allowedOrigins;
    const cors = corsHeaders(request, allowed === undefined ? undefined : { origin: allowed, credentials: true });
    if (request.method === 'OPTIONS') {
      response.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'POST',
        'access-control-allow-headers': 'authorization, content-type, x-socket-id, x-csrf-token, x-requested-with',
        'access-control-max-age': '600',
      });
      return void response.end();
    }
    if (request.method !== 'POST') throw new EventwireError('method_not_allowed', `This auth endpoint accepts POST, not ${request.method ?? 'GET'}`);
    const input = await pusherAuthRequest(request, ip);
    const answer = kind === 'channel' ? await this.authorizeChannel(input) : await this.authenticateUser(input);
    sendJson(response, answer.status, answer.body, cors);
  }

  /**
   * Channel auth, as Laravel's `/broadcasting/auth` answers it: the caller is
   * authenticated by the broker's rules (a bearer token), the channel's rule
   * decides, and the answer is `{ auth }` (private) or `{ auth, channel_data }`
   * (presence: the member is the user, with the info its rule returned).
   */
  async authorizeChannel(request: PusherAuthRequest): Promise<PusherAuthAnswer> {
    return this.#answering(async () => {
      const fields = formOrJson(request);
      const socketId = socketIdOf(fields['socket_id']);
      const app = this.#appFor(socketId, fields);
      const channel = fields['channel_name'];
      const topic = app.topicOf(channel);
      const kind = channelKind(topic);
      if (kind === 'public') throw new EventwireError('invalid_payload', `"${String(channel)}" is public: it needs no auth`);
      const user = await this.#user(request);
      const granted = await this.#options.access.authorize(user, [topic], 'subscribe');
      if (kind === 'private') {
        const auth = signChannel(app.key, app.secret, socketId, channel as string);
        if (!isEncryptedChannel(channel as string)) return { auth };
        // pusher-js decrypts with sha256(channel name ‖ master key), as Pusher's server libraries derive it.
        const key = app.encryptionMasterKey;
        if (!key) throw new EventwireError('invalid_payload', `"${String(channel)}" is end-to-end encrypted: set encryptionMasterKey on app ${app.id} to authorize it here`);
        return { auth, shared_secret: createHash('sha256').update(Buffer.concat([Buffer.from(channel as string), key])).digest('base64') };
      }
      if (!user) throw new EventwireError('unauthorized', 'A presence channel needs a signed-in user (Authorization: Bearer …)');
      const channelData = JSON.stringify({ user_id: user.id, user_info: granted?.get(topic) ?? {} });
      return { auth: signChannel(app.key, app.secret, socketId, channel as string, channelData), channel_data: channelData };
    });
  }

  /** User auth for `pusher:signin` (pusher-js's `userAuthentication`): `{ auth, user_data }` for the caller. */
  async authenticateUser(request: PusherAuthRequest): Promise<PusherAuthAnswer> {
    return this.#answering(async () => {
      const fields = formOrJson(request);
      const socketId = socketIdOf(fields['socket_id']);
      const app = this.#appFor(socketId, fields);
      const user = await this.#user(request);
      if (!user) throw new EventwireError('unauthorized', 'Signing in needs credentials (Authorization: Bearer …)');
      app.userTopic(user.id); // a user id that cannot name a user channel is refused here, not at subscribe
      const userData = JSON.stringify({ id: user.id });
      return { auth: signUser(app.key, app.secret, socketId, userData), user_data: userData };
    });
  }

  /** The auth endpoint of `kind` as a Node request listener (see `broker.pusherAuthHandler`). */
  nodeHandler(kind: 'channel' | 'user', clientAddress: (request: IncomingMessage) => string): (request: IncomingMessage, response: ServerResponse) => Promise<void> {
    return async (request, response) => {
      try {
        const input = await pusherAuthRequest(request, clientAddress(request));
        const answer = kind === 'channel' ? await this.authorizeChannel(input) : await this.authenticateUser(input);
        sendJson(response, answer.status, answer.body);
      } catch (error) {
        sendError(response, error);
      }
    };
  }

  /** The auth endpoint of `kind` as a fetch handler (see `broker.pusherAuthFetch`). */
  fetchHandler(kind: 'channel' | 'user'): (request: Request, clientAddress?: string) => Promise<Response> {
    return async (request, clientAddress = 'unknown') => {
      const headers = Object.fromEntries(request.headers);
      const input: PusherAuthRequest = {
        body: await request.text(),
        contentType: request.headers.get('content-type') ?? undefined,
        token: findToken(new URL(request.url), headers),
        headers,
        ip: clientAddress,
      };
      const answer = kind === 'channel' ? await this.authorizeChannel(input) : await this.authenticateUser(input);
      return Response.json(answer.body, { status: answer.status });
    };
  }

  async #answering(work: () => Promise<Record<string, unknown>>): Promise<PusherAuthAnswer> {
    try {
      return { status: 200, body: await work() };
    } catch (error) {
      const failure = toEventwireError(error);
      const status = failure.code === 'unauthorized' ? 401 : failure.code === 'forbidden' ? 403 : failure.code === 'rate_limited' ? 429 : 400;
      return { status, body: { error: failure.toJSON() } };
    }
  }

  #user(request: PusherAuthRequest): Promise<BrokerUser | undefined> {
    return this.#options.access.authenticate({ token: request.token, headers: request.headers, remoteAddress: request.ip, surface: 'http' });
  }

  /**
   * The app that signs: the one the socket is connected to (when it is on
   * this broker), else the one `app_id` names, else the first.
   */
  #appFor(socketId: string, fields: Record<string, unknown>): PusherApp {
    const local = this.#options.sockets.get(socketId);
    if (local) return local.app;
    const named = fields['app_id'];
    if (typeof named === 'string') {
      const app = this.#options.apps.byId(named);
      if (!app) throw new EventwireError('not_found', `No Pusher app with id "${named.slice(0, 100)}"`);
      return app;
    }
    return this.#options.apps.all[0]!;
  }
}

interface ValidEvent {
  readonly name: string;
  readonly topics: readonly string[];
  readonly data: unknown;
  readonly except?: string;
  readonly info: readonly string[];
}

/** `info=subscription_count,user_count` as a list of the attributes asked for. */
function infoOf(text: string | null): string[] {
  return text ? text.split(',').map((part) => part.trim()).filter((part) => part === 'subscription_count' || part === 'user_count') : [];
}

/** A request body (text) as a JSON object. */
function jsonObject(text: string): Record<string, unknown> {
  return objectBody(parseJsonBody(text));
}

/** The auth request's fields: pusher-js posts a form (`socket_id=…&channel_name=…`); some clients post JSON. */
function formOrJson(request: PusherAuthRequest): Record<string, unknown> {
  if (request.contentType?.includes('application/json')) return jsonObject(request.body);
  return Object.fromEntries(new URLSearchParams(request.body));
}

function socketIdOf(value: unknown): string {
  if (typeof value !== 'string' || !SOCKET_ID.test(value)) throw new EventwireError('invalid_payload', '"socket_id" must be a socket id such as "123.456"');
  return value;
}

/** Reads a Node request into what the auth endpoints take. */
export async function pusherAuthRequest(request: IncomingMessage, ip: string): Promise<PusherAuthRequest> {
  const url = new URL(request.url ?? '/', 'http://broker');
  return {
    body: await readTextBody(request, MAX_AUTH_BODY),
    contentType: request.headers['content-type'],
    token: findToken(url, request.headers),
    headers: request.headers,
    ip,
  };
}
