// A channel URL's scheme picks its transport from one table. A new transport
// is its own file(s) plus one entry below: the entry names its schemes and
// builds it, and its options type becomes a channel option by that key.
// Transports import their clients (ws, NATS, Redis, PostgreSQL) lazily, on
// connect, so this table pulls none of them into a browser bundle; the
// browser build also swaps the Node-only rows (server-transports.ts) for
// rows that refuse with `unsupported_transport`.
import { EventwireError } from '../errors.js';
import { defaultMemoryHub, memoryBusName, type MemoryHub } from './memory.js';
import { serverTransports } from './server-transports.js';
import type { Transport } from './transport.js';
import { entry, parseChannelUrl, parsed, type SharedTransportOptions, type TransportEntry } from './transport-entry.js';
import { WsTransport, type WsTransportOptions } from './ws.js';

/**
 * The transports a channel URL can name. Each key is also the channel option
 * that tunes it; its type is that transport's own options without the URL.
 */
const transports = {
  /**
   * The hub `memory://` URLs attach to. Pass your own to isolate a group of
   * channels (e.g. one per test) from the rest of the process.
   * @default defaultMemoryHub
   */
  memoryHub: entry<MemoryHub>({
    schemes: ['memory'],
    create: ({ url }, hub) => (hub ?? defaultMemoryHub).transport(memoryBusName(parseChannelUrl(url))),
  }),
  /**
   * Tuning for `ws://` and `wss://` URLs: failover brokers, backoff, outbox
   * size and policy, timeouts, a fixed `token` (credentials that expire go in `getToken`).
   */
  ws: entry<Omit<WsTransportOptions, 'url' | 'getToken'>>({
    schemes: ['ws', 'wss'],
    several: true,
    create: ({ url, more }, options, { getToken }) =>
      new WsTransport({
        ...parsed(url, options),
        ...(getToken && { getToken }),
        ...(more.length > 0 && { failover: [...more, ...(options?.failover ?? [])] }),
      }),
  }),
  // nats://, redis://, postgres://: Node-only clients, in their own file so
  // the browser build can put server-transports.browser.ts in its place.
  ...serverTransports,
};

type TransportTable = typeof transports;
type EntryOptions<TEntry> = TEntry extends TransportEntry<infer TOptions> ? TOptions : never;

/**
 * Options for turning a channel URL into a transport: per transport, its own
 * options (without the URL) under its key, and the options all of them share.
 */
export type TransportResolveOptions = { readonly [TKey in keyof TransportTable]?: EntryOptions<TransportTable[TKey]> } & SharedTransportOptions;

/** Each scheme's key in {@link transports}. */
const keyByScheme = new Map<string, keyof TransportTable>(
  (Object.keys(transports) as (keyof TransportTable)[]).flatMap((key) => transports[key].schemes.map((scheme) => [scheme, key] as const)),
);

/**
 * Picks the transport for a channel URL by its scheme:
 * `memory://<name>` attaches to the in-process bus `<name>` (`memory://` alone is `default`);
 * `ws://host:port` and `wss://…` connect to an eventwire broker;
 * `nats://host:4222` (or `nats://a:4222,b:4222`) to a NATS server or cluster;
 * `redis://host:6379` (`rediss://` for TLS) to Redis pub/sub;
 * `postgres://user@host/db` (or `postgresql://`) to PostgreSQL LISTEN/NOTIFY.
 * A list of URLs is several servers of one transport (`ws://`, `nats://`).
 */
export function createTransport(urls: string | readonly string[], options: TransportResolveOptions = {}): Transport {
  const [url, ...more] = typeof urls === 'string' ? [urls] : urls;
  if (url === undefined) throw new EventwireError('invalid_url', 'An empty list of URLs');
  const key = keyByScheme.get(schemeOf(url));
  const odd = more.find((other) => (keyByScheme.get(schemeOf(other)) ?? schemeOf(other)) !== (key ?? schemeOf(url)));
  if (odd !== undefined) throw new EventwireError('invalid_url', `"${odd}" is not the same kind of URL as "${url}"`);
  if (more.length > 0 && !(key !== undefined && transports[key].several === true)) {
    const several = [...keyByScheme].filter(([, other]) => transports[other].several === true).map(([scheme]) => `${scheme}://`);
    throw new EventwireError('invalid_url', `Only ${several.join(', ')} take several URLs, not "${url}"`);
  }
  if (key === undefined) {
    const { protocol } = parseChannelUrl(url);
    throw new EventwireError(
      'unsupported_transport',
      `No transport for "${protocol}//" URLs; supported: ${[...keyByScheme.keys()].map((scheme) => `${scheme}://`).join(', ')}. ` +
        'Pass `transport` to use a custom one.',
    );
  }
  return (transports[key] as TransportEntry<unknown>).create({ url, more }, options[key], options);
}

/** The scheme of a URL, lowercase and without `://` (empty when it has none). */
function schemeOf(url: string): string {
  const end = url.indexOf('://');
  return end === -1 ? '' : url.slice(0, end).toLowerCase();
}
