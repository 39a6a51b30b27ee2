import { EventwireError } from '../errors.js';
import { defaultMemoryHub, type MemoryHub } from './memory.js';
import type { Transport } from './transport.js';
import type { GetToken } from './token-source.js';
import { NatsTransport, type NatsTransportOptions } from './nats.js';
import { PostgresTransport, type PostgresTransportOptions } from './postgres.js';
import { RedisTransport, type RedisTransportOptions } from './redis.js';
import { WsTransport, type WsTransportOptions } from './ws.js';

/** Options for turning a channel URL into a transport. */
export interface TransportResolveOptions {
  /**
   * The hub `memory://` URLs attach to. Pass your own to isolate a group of
   * channels (e.g. one per test) from the rest of the process.
   * @default defaultMemoryHub
   */
  readonly memoryHub?: MemoryHub;
  /** Tuning for `ws://` and `wss://` URLs (backoff, outbox, timeouts). */
  readonly ws?: Omit<WsTransportOptions, 'url'>;
  /** Servers, credentials, TLS and tuning for `nats://` URLs. */
  readonly nats?: Omit<NatsTransportOptions, 'url'>;
  /** Prefix, tuning and client options for `redis://` and `rediss://` URLs. */
  readonly redis?: Omit<RedisTransportOptions, 'url'>;
  /** The NOTIFY channel, the large-event table, tuning and client options for `postgres://` URLs. */
  readonly postgres?: Omit<PostgresTransportOptions, 'url'>;
  /** Credentials for transports that authenticate (`ws.token` as a function). */
  readonly getToken?: GetToken;
}

/**
 * Picks the transport for a channel URL by its scheme:
 * `memory://<name>` attaches to the in-process bus `<name>` (`memory://` alone is `default`);
 * `ws://host:port` and `wss://…` connect to an eventwire broker;
 * `nats://host:4222` (or `nats://a:4222,b:4222`) to a NATS server or cluster;
 * `redis://host:6379` (`rediss://` for TLS) to Redis pub/sub;
 * `postgres://user@host/db` (or `postgresql://`) to PostgreSQL LISTEN/NOTIFY.
 */
export function createTransport(urls: string | readonly string[], options: TransportResolveOptions = {}): Transport {
  // A list: the first picks the transport, the others are more servers of the same kind.
  const [url, ...more] = typeof urls === 'string' ? [urls] : urls;
  if (url === undefined) throw new EventwireError('invalid_url', 'An empty list of URLs');
  const scheme = (candidate: string): string => candidate.slice(0, candidate.indexOf('://') + 3);
  const odd = more.find((other) => scheme(other) !== scheme(url) && !(scheme(url).startsWith('ws') && scheme(other).startsWith('ws')));
  if (odd !== undefined) throw new EventwireError('invalid_url', `"${odd}" is not the same kind of URL as "${url}"`);
  // A server list is not a URL the URL parser takes.
  if (url.startsWith('nats://')) return new NatsTransport({ ...options.nats, url, ...(more.length > 0 && { servers: [...more, ...(options.nats?.servers ?? [])] }) });
  if (more.length > 0 && !url.startsWith('ws')) throw new EventwireError('invalid_url', `Only ws://, wss:// and nats:// take several URLs, not "${url}"`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new EventwireError('invalid_url', `"${url}" is not a valid channel URL`, { cause: error });
  }
  switch (parsed.protocol) {
    case 'memory:':
      return (options.memoryHub ?? defaultMemoryHub).transport(memoryBusName(parsed));
    case 'ws:':
    case 'wss:':
      return new WsTransport({
        ...options.ws,
        ...(options.getToken && { token: options.getToken }),
        url,
        ...(more.length > 0 && { failover: [...more, ...(options.ws?.failover ?? [])] }),
      });
    case 'redis:':
    case 'rediss:':
      return new RedisTransport({ ...options.redis, url });
    case 'postgres:':
    case 'postgresql:':
      return new PostgresTransport({ ...options.postgres, url });
    default:
      throw new EventwireError(
        'unsupported_transport',
        `No transport for "${parsed.protocol}//" URLs; supported: memory://, ws://, wss://, nats://, redis://, rediss://, postgres://. ` +
          'Pass `transport` to use a custom one.',
      );
  }
}

function memoryBusName(url: URL): string {
  const name = decodeURIComponent(url.host + url.pathname).replace(/\/+$/, '');
  return name === '' ? 'default' : name;
}
