// A wire protocol of your own, beside the built-in ones: an "echo" protocol
// on `/echo` with JSON frames. It is registered through `surfaces` and the
// Surface contract alone, and its clients go through the broker's
// authentication, channel rules, hooks and router like every other.
//   {"op":"subscribe","pattern":"note.*"}      → {"type":"subscribed",…} or {"type":"error","code":…}
//   {"op":"publish","topic":"note.a","data":…} → {"type":"published","id":…}
//   and every event routed to it               → {"type":"event","topic":…,"data":…}
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { EventChannel, toEventwireError } from '@eventwire/event-channel';
import { EventBrokerServer, type Session, type SessionSubscriber, type Surface, type SurfaceFactory } from '@eventwire/event-broker';

// The surface's name joins the names the broker's types know (origins, stats); its clients publish.
declare module '@eventwire/event-broker' {
  interface SurfaceRegistry {
    echo: { publishes: true };
  }
}

interface EchoFrame {
  readonly op?: unknown;
  readonly pattern?: unknown;
  readonly topic?: unknown;
  readonly data?: unknown;
}

export const createEchoSurface: SurfaceFactory = (host): Surface<undefined> => ({
  name: 'echo',
  endpoints: { websocket: '/echo' },
  // The token comes with the upgrade (`?token=` or a header); the broker checks it before accepting.
  credentials: 'required',
  claims: (url) => url.pathname === '/echo',
  accept: () => ({ state: undefined }),
  open({ connection }) {
    const send = (frame: object): void => connection.send(JSON.stringify(frame));
    const fail = (error: unknown): void => send({ type: 'error', code: toEventwireError(error).code });
    const settle = <T>(outcome: T | Promise<T>, then: (value: T) => void): void => {
      if (outcome instanceof Promise) outcome.then(then, fail);
      else then(outcome);
    };
    // The router delivers to it, and presence channels tell it of members.
    const session: Session & SessionSubscriber = {
      id: connection.id,
      deliver: (event) => send({ type: 'event', topic: event.envelope.topic, data: event.envelope.data }),
      memberAdded: (channel, member) => send({ type: 'member_added', channel, member }),
      memberRemoved: (channel, member) => send({ type: 'member_removed', channel, member }),
      receive(data) {
        try {
          const frame = JSON.parse(data.toString('utf8')) as EchoFrame;
          if (frame.op === 'subscribe' && typeof frame.pattern === 'string') {
            const pattern = frame.pattern;
            // The guarded subscribe every surface shares: pattern, limit, rules, presence, router.
            settle(host.sessions.subscribe(session, connection, pattern), (outcome) => outcome.subscribed && send({ type: 'subscribed', pattern }));
          } else if (frame.op === 'publish' && typeof frame.topic === 'string') {
            const envelope = host.core.createEnvelope(frame.topic, frame.data);
            // Through the core: the event map, hooks, history and the cluster apply.
            settle(host.core.publish(envelope, { surface: 'echo', connectionId: connection.id, user: connection.user }), (result) =>
              send({ type: 'published', id: result.event.id }),
            );
          } else send({ type: 'error', code: 'invalid_frame' });
        } catch (error) {
          fail(error);
        }
      },
      closed: () => host.sessions.leaveAll(session),
    };
    send({ type: 'hello', id: connection.id });
    return session;
  },
  upgradeHint: (path, origin) => `open a WebSocket to ${origin.ws}${path}?token=… and send {"op":"subscribe","pattern":"note.*"} (echo)`,
});

// Run as a script: an echo client and an EventChannel exchange events through one broker.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const broker = new EventBrokerServer({ port: 0, surfaces: [createEchoSurface], authenticate: ({ token }) => (token ? { id: token } : undefined) });
  broker.intercept('note.#', (_event, ctx) => console.log(`hook saw ${ctx.origin.surface}`));
  const { url } = await broker.listen();

  const channel = new EventChannel({ url, getToken: () => 'carol' });
  const fromEcho = channel.once('note.from-echo');
  await channel.ready();

  const echo = new WebSocket(`${url}/echo?token=alice`);
  const frames: Array<Record<string, unknown>> = [];
  const next = (type: string): Promise<Record<string, unknown>> =>
    new Promise((resolve) => {
      const look = (): void => {
        const index = frames.findIndex((frame) => frame['type'] === type);
        if (index >= 0) resolve(frames.splice(index, 1)[0]!);
        else echo.once('message', look);
      };
      look();
    });
  echo.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  await next('hello');
  echo.send(JSON.stringify({ op: 'subscribe', pattern: 'note.*' }));
  await next('subscribed');

  await channel.emit('note.from-channel', { text: 'hi echo' }, { ack: true });
  console.log(`echo got ${JSON.stringify(await next('event'))}`);
  echo.send(JSON.stringify({ op: 'publish', topic: 'note.from-echo', data: { text: 'hi channel' } }));
  console.log(`channel got ${JSON.stringify((await fromEcho).data)}`);

  echo.close();
  await channel.close();
  await broker.close();
}
