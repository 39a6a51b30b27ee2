// The broker's HTTP server, plain or TLS. With a certificate and key the
// broker serves https:// and wss:// itself on every surface (no proxy needed
// to terminate TLS); the files are read again on `reload()` (the CLI's SIGHUP)
// and when they change on disk, so a renewed certificate (certbot, cert-manager)
// reaches new connections without a restart. Connections already open keep
// the certificate they were made with.
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createSecureContext } from 'node:tls';
import { EventwireError } from '@eventwire/event-channel';

/** The certificate chain and private key, as PEM file paths. */
export interface TlsFiles {
  /** PEM certificate (its chain after it, as certbot's `fullchain.pem`). */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
}

export const tlsDefaults = {
  /**
   * How often the files are checked for a change. Polled (`fs.watchFile`),
   * not `fs.watch`: a renewal usually replaces the file (a rename or a
   * symlink swap), which an inotify watch on the old inode never sees.
   */
  watchIntervalMs: 2000,
} as const;

export interface BrokerHttpServer {
  readonly server: Server | HttpsServer;
  /** `wss`/`https` when serving TLS. */
  readonly secure: boolean;
  /** Reads the files again; throws (and keeps the certificate in use) when they do not make a valid pair. */
  reload(): void;
  /** Stops watching the files. */
  close(): void;
}

/** `tlsCert`/`tlsKey` as given: both or neither. */
export function tlsFilesOf(cert: string | undefined, key: string | undefined): TlsFiles | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new EventwireError('invalid_config', `TLS needs both tlsCert and tlsKey (--tls-cert, --tls-key); only ${cert === undefined ? 'tlsKey' : 'tlsCert'} is set`);
  }
  return { cert, key };
}

/** An HTTP server, or an HTTPS one watching its certificate files when `tls` is given. */
export function createBrokerHttpServer(
  listener: (request: IncomingMessage, response: ServerResponse) => void,
  tls: TlsFiles | undefined,
  log: (line: string) => void,
  watchIntervalMs: number = tlsDefaults.watchIntervalMs,
): BrokerHttpServer {
  if (!tls) return { server: createHttpServer(listener), secure: false, reload: () => {}, close: () => {} };
  // A bad file at start is a configuration error: the broker does not start on plain HTTP instead.
  const server = createHttpsServer(readPair(tls), listener);
  const reload = (): void => {
    // Throws on a key that does not match the certificate: the old context stays in use.
    server.setSecureContext(readPair(tls));
    log(`TLS certificate reloaded from ${tls.cert}`);
  };
  const changed = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
    try {
      reload();
    } catch (error) {
      // Mid-renewal (the certificate written, the key not yet): the next change completes the pair.
      log(`warning: TLS certificate not reloaded: ${(error as Error).message}`);
    }
  };
  const options = { interval: watchIntervalMs, persistent: false };
  watchFile(tls.cert, options, changed);
  watchFile(tls.key, options, changed);
  return {
    server,
    secure: true,
    reload,
    close: () => {
      unwatchFile(tls.cert, changed);
      unwatchFile(tls.key, changed);
    },
  };
}

/** The files' contents, checked to be a certificate and its key (`invalid_config` otherwise). */
function readPair(tls: TlsFiles): { cert: Buffer; key: Buffer } {
  try {
    const pair = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    createSecureContext(pair);
    return pair;
  } catch (error) {
    throw new EventwireError('invalid_config', `TLS certificate ${tls.cert} and key ${tls.key} are not a usable pair: ${(error as Error).message}`, { cause: error });
  }
}
