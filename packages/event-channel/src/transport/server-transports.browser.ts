// What the browser build has in place of server-transports.ts (the bundler
// swaps the files; Node never loads this one). Same keys, options types and
// schemes, so createTransport still knows `nats://` is a transport — only not
// one a page can run: the NATS, Redis and PostgreSQL clients need TCP
// sockets a browser does not have. Saying so beats a module-resolution
// failure deep inside a lazy import.
import { EventwireError } from '../errors.js';
import type { serverTransports as nodeTransports } from './server-transports.js';
import type { TransportEntry } from './transport-entry.js';

type Table = typeof nodeTransports;

function nodeOnly<TKey extends keyof Table>(key: TKey, schemes: readonly string[], several?: boolean): Table[TKey] {
  const entry: TransportEntry<unknown> = {
    schemes,
    ...(several && { several }),
    create: ({ url }) => {
      throw new EventwireError(
        'unsupported_transport',
        `${key}:// needs Node (its client opens TCP sockets a browser does not have); the browser build of ` +
          `@eventwire/event-channel speaks ws://, wss:// and memory://. Connect the page to an eventwire broker ` +
          `(ws://) that is in the ${key} cluster, not to "${url.split('://')[0]}://" itself.`,
      );
    },
  };
  return entry as Table[TKey];
}

export const serverTransports: Table = {
  nats: nodeOnly('nats', ['nats'], true),
  redis: nodeOnly('redis', ['redis', 'rediss']),
  kafka: nodeOnly('kafka', ['kafka'], true),
  postgres: nodeOnly('postgres', ['postgres', 'postgresql']),
};
