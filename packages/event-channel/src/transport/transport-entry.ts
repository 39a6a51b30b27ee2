// The shape of one row of the channel URL table (resolve.ts), apart from the
// table so the rows can live in more than one file: the Node-only ones
// (server-transports.ts) are swapped for stubs in the browser build.
import { EventwireError } from '../errors.js';
import type { GetToken } from './token-source.js';
import type { Transport } from './transport.js';

/** Options every transport may read, whatever its scheme. */
export interface SharedTransportOptions {
  /**
   * Credentials for a broker that authenticates: asked for a fresh token on
   * every (re)connect and again ahead of expiry, when the live connection is
   * re-authenticated without dropping a subscription. One request at a time.
   * @example getToken: async () => (await fetch('/api/realtime-token')).text()
   */
  readonly getToken?: GetToken;
}

/** What a URL resolves to before its transport is built. */
export interface TransportTarget {
  /** The first URL: it picked the transport. */
  readonly url: string;
  /** The other URLs of the list: more servers of the same transport (only where `several`). */
  readonly more: readonly string[];
}

/** One transport a URL can pick. */
export interface TransportEntry<TOptions> {
  /** URL schemes it answers, without `://`, lowercase. */
  readonly schemes: readonly string[];
  /** A list of URLs is several servers of this transport (failover, a cluster) rather than a mistake. */
  readonly several?: boolean;
  /** Builds it from the URL, the channel option under this entry's key, and the shared options. */
  readonly create: (target: TransportTarget, options: TOptions | undefined, shared: SharedTransportOptions) => Transport;
}

/** Declares an entry with its options type (inferred where it is used as a channel option). */
export function entry<TOptions>(definition: TransportEntry<TOptions>): TransportEntry<TOptions> {
  return definition;
}

export function parseChannelUrl(url: string): URL {
  try {
    return new URL(url);
  } catch (error) {
    throw new EventwireError('invalid_url', `"${url}" is not a valid channel URL`, { cause: error });
  }
}

/** A transport's options with its URL, once the URL is known to parse. */
export function parsed<TOptions extends object>(url: string, options: TOptions | undefined): TOptions & { readonly url: string } {
  parseChannelUrl(url);
  return { ...options, url } as TOptions & { readonly url: string };
}
