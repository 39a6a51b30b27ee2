// The chats' broker, as the Socket.IO server a fast_app backend expects: its
// socketio surface reads the Python service's Redis emitters, its setup joins
// each socket to the chat it asks for (`?chat=7` → room `chat.7`), a channel
// rule keeps `private-chat.*` rooms to staff, and an audit hook (an observer,
// off the delivery path) hands every chat update to `audit`. What main.ts
// serves, and what the AsyncAPI test describes. A function of what main.ts
// decides at run time: the Redis it started, the page's origins (CORS), and
// where audit lines and log lines go.
import { defineBrokerConfig } from '@eventwire/event-broker';

/** What main.ts decides at run time. */
export interface ChatsBrokerRuntime {
  /** The Redis the Python service's emitters write to (redis://…). */
  readonly redis: string;
  /** The page's origins, let in by CORS (the page connects from its own origin). */
  readonly pageOrigins: readonly string[];
  /** Receives one JSON line per chat update. */
  readonly audit: (line: string) => void;
  readonly log: (line: string) => void;
}

/** The broker's config for this run. */
export function chatsBrokerConfig({ redis, pageOrigins, audit, log }: ChatsBrokerRuntime) {
  return defineBrokerConfig({
    port: 15500,
    socketio: {
      redis,
      cors: { origin: [...pageOrigins] },
      // A page may ask to watch more chats: socket.emit('join', 'chat.8', ack).
      clientJoin: 'join',
    },
    channels: {
      // Staff-only chats: a room of this shape needs this rule's consent, from a join by the server or the client alike.
      'private-chat.{id}': (user) => user?.id === 'staff',
    },
    setup(broker) {
      broker.socketio!.on('connection', (socket) => {
        const chat = socket.handshake.query['chat'];
        if (chat === undefined || !/^\d{1,9}$/.test(chat)) return void socket.emit('joined', null);
        socket.join(`chat.${chat}`).then(
          () => socket.emit('joined', `chat.${chat}`),
          () => socket.disconnect(),
        );
      });
      // The audit trail: every chat update, whoever sent it (the Python service, a page, an HTTP publish).
      broker.observe('chat.#', (event) => {
        const chat = event.data as { title?: unknown; messages?: unknown } | null;
        audit(`${JSON.stringify({ at: new Date().toISOString(), topic: event.topic, event: event.metadata?.['event'], data: event.data })}\n`);
        log(`audit ${event.topic} ${String(event.metadata?.['event'] ?? event.topic)}: ${String(chat?.title)} #${String(chat?.messages)}`);
      });
    },
  });
}
