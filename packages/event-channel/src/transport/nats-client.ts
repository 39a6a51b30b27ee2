// What every eventwire component on NATS shares: the NATS client loaded only
// when used, connection options from a nats:// URL and its credentials, the
// client's errors as eventwire codes, and which of several overlapping
// patterns owns a message. The nats:// transport and the broker's cluster
// link both build on it.
import type { ConnectionOptions, Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { EventwireError, type ErrorCode } from '../errors.js';
import { TopicTrie } from '../topic-trie.js';
import { isInternalSubject, natsSubjectsFor } from './nats-subjects.js';
import { loadOptionalPeer } from './optional-peer.js';

/** The NATS client module (`@nats-io/transport-node`), loaded on first use. */
export type NatsModule = typeof import('@nats-io/transport-node');

/** Where a NATS server or cluster is and how to sign in to it. */
export interface NatsServerOptions {
  /**
   * `nats://host:4222`, several as `nats://a:4222,b:4222`. Credentials in the
   * URL as NATS clients read them: `nats://user:pass@host` or `nats://token@host`.
   */
  readonly url: string;
  /** More servers of the cluster to try (the client also learns them from the server). */
  readonly servers?: readonly string[];
  readonly token?: string;
  readonly user?: string;
  readonly pass?: string;
  /** The contents of a `.creds` file (a user JWT and its nkey seed). */
  readonly credentials?: string;
  /** TLS, as the NATS client takes it (`{ ca, cert, key }` or `{ caFile, certFile, keyFile }`); `{}` for TLS with the system's CAs. */
  readonly tls?: Readonly<Record<string, unknown>>;
  /** A name the server shows for this connection. */
  readonly name?: string;
  /** Anything else the NATS client's `connect()` accepts, passed through (and winning). */
  readonly connectOptions?: Readonly<Record<string, unknown>>;
}

/** Loads the NATS client, or says how to install it (`unsupported_transport`). */
export function loadNats(): Promise<NatsModule> {
  return loadOptionalPeer<NatsModule>('@nats-io/transport-node', 'NATS needs its client');
}

/** The NATS client's `connect()` options for `options`, reconnecting for ever. */
export function natsConnectionOptions(nats: NatsModule, options: NatsServerOptions, reconnectTimeWaitMs: number): ConnectionOptions {
  const { servers, credentials } = parseNatsUrl(options.url);
  const user = options.user ?? credentials.user;
  const pass = options.pass ?? credentials.pass;
  const token = options.token ?? credentials.token;
  return {
    servers: [...servers, ...(options.servers ?? [])],
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: reconnectTimeWaitMs,
    ...(options.name !== undefined && { name: options.name }),
    ...(user !== undefined && { user }),
    ...(pass !== undefined && { pass }),
    ...(token !== undefined && { token }),
    ...(options.credentials !== undefined && { authenticator: nats.credsAuthenticator(new TextEncoder().encode(options.credentials)) }),
    ...(options.tls !== undefined && { tls: options.tls as NonNullable<ConnectionOptions['tls']> }),
    ...options.connectOptions,
  };
}

/** Servers and credentials from a nats:// URL (`nats://a:4222,b:4222`, `nats://user:pass@host`, `nats://token@host`). */
export function parseNatsUrl(url: string): { servers: string[]; credentials: { user?: string; pass?: string; token?: string } } {
  const match = /^nats:\/\/(?:([^@/]*)@)?([^/?#]+)/.exec(url);
  if (!match) throw new EventwireError('invalid_url', `"${url}" is not a nats:// URL (nats://host:4222)`);
  const [, auth, hosts] = match;
  const servers = hosts!.split(',').filter(Boolean).map((host) => `nats://${host}`);
  if (auth === undefined) return { servers, credentials: {} };
  const colon = auth.indexOf(':');
  const decode = (text: string): string => decodeURIComponent(text);
  if (colon === -1) return { servers, credentials: { token: decode(auth) } };
  return { servers, credentials: { user: decode(auth.slice(0, colon)), pass: decode(auth.slice(colon + 1)) } };
}

/** The NATS client's errors as eventwire codes. */
export function fromNatsError(error: unknown, fallback: ErrorCode): EventwireError {
  if (error instanceof EventwireError) return error;
  const name = error instanceof Error ? error.name : '';
  const message = error instanceof Error ? error.message : String(error);
  const code: ErrorCode =
    name === 'AuthorizationError' || name === 'UserAuthenticationExpiredError' || /authorization violation|authentication/i.test(message)
      ? 'unauthorized'
      : name === 'PermissionViolationError' || /permissions violation/i.test(message)
        ? 'forbidden'
        : name === 'TimeoutError'
          ? 'timeout'
          : fallback;
  return new EventwireError(code, `NATS: ${message}`, { cause: error });
}


const decoder = new TextDecoder();

/**
 * A NATS message's data parsed as JSON; throws `invalid_envelope` when it is
 * not JSON (so no eventwire event), naming the subject.
 */
export function parseNatsJson(data: Uint8Array, subject: string): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    throw new EventwireError('invalid_envelope', `a message on "${subject}" is not JSON (not an eventwire event)`);
  }
}

/** What becomes of the messages a pattern owns (see {@link NatsPatternOwners.subscribe}). */
export interface NatsMessageHandlers {
  /** A message parsed as JSON (not yet checked to be an envelope). */
  receive(envelope: unknown, message: Msg): void;
  /** A message that is not JSON: no eventwire event (`invalid_envelope`). */
  notJson(error: EventwireError): void;
  /** The subscription failed (a permission, the connection). */
  failed(error: EventwireError): void;
}

/**
 * Patterns subscribed on one NATS connection, and which of them owns a
 * message. Several patterns may match one subject (`order.*` and `order.#`)
 * and NATS then sends the message once per subscription; the oldest matching
 * pattern delivers it and the others drop their copy, so each message is
 * handled once with no id cache.
 */
export class NatsPatternOwners<TEntry extends { readonly pattern: string }> {
  readonly #trie = new TopicTrie<TEntry>();
  readonly #ages = new Map<TEntry, number>();
  #nextAge = 0;

  get size(): number {
    return this.#ages.size;
  }

  add(entry: TEntry): void {
    this.#ages.set(entry, ++this.#nextAge);
    this.#trie.add(entry.pattern, entry);
  }

  delete(entry: TEntry): void {
    this.#ages.delete(entry);
    this.#trie.remove(entry.pattern, entry);
  }

  /**
   * Subscribes the subjects of `entry`'s pattern on `connection`. Only the
   * messages it owns reach `handlers`: never internal subjects, never the
   * copy another matching pattern delivers, each parsed from JSON once.
   */
  subscribe(connection: NatsConnection, entry: TEntry, handlers: NatsMessageHandlers): Subscription[] {
    return natsSubjectsFor(entry.pattern).map((subject) =>
      connection.subscribe(subject, {
        callback: (error, message) => {
          if (error) return handlers.failed(fromNatsError(error, 'internal'));
          if (isInternalSubject(message.subject) || !this.owns(entry, message.subject)) return;
          let envelope: unknown;
          try {
            envelope = parseNatsJson(message.data, message.subject);
          } catch (error) {
            return handlers.notJson(error as EventwireError);
          }
          handlers.receive(envelope, message);
        },
      }),
    );
  }

  /**
   * Whether `entry`'s copy of a message on `subject` is the one to handle.
   * True too when no pattern matches any more (being unsubscribed: what was
   * already in flight for it still arrives once).
   */
  owns(entry: TEntry, subject: string): boolean {
    if (this.#ages.size <= 1) return true;
    let owner: TEntry | undefined;
    let ownerAge = Infinity;
    this.#trie.forEachMatch(subject, (candidate) => {
      const age = this.#ages.get(candidate)!;
      if (age < ownerAge) {
        owner = candidate;
        ownerAge = age;
      }
    });
    return owner === undefined || owner === entry;
  }
}
