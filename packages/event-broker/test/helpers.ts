// The event-broker tests' helpers: a real broker on an OS-chosen port that
// can restart on the same port, a raw WebSocket client whose waits have
// deadlines, not sleeps, and the broker CLI as a real process. Everything that
// starts something is `await using`-able (Symbol.asyncDispose stops it). What
// every package's tests share (bounded waits, unique topics) lives once in
// scripts/testing/ and is re-exported here, so a test imports one module; the
// cluster fixtures (a broker cluster over NATS) are in cluster-helpers.ts.
//
// Extending: a helper only the broker's tests need goes here (or, for the
// cluster, in cluster-helpers.ts); one another package's tests need too goes
// in scripts/testing/ and is re-exported here. A helper that starts something
// returns a handle with `stop()` and `[Symbol.asyncDispose]`.
import { EventwireError, type EventMap } from '@eventwire/event-channel';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { until, waitDefaults, within } from '../../../scripts/testing/waits.js';
import { EventBrokerServer, MemoryHistoryStore, type BrokerOptions, type HistoryStore } from '../src/index.js';

export { uniqueTopic } from '../../../scripts/testing/unique.js';
export { deferred, nextStatus, until, waitDefaults, within } from '../../../scripts/testing/waits.js';

export interface TestBroker<TEvents extends EventMap> extends AsyncDisposable {
  broker: EventBrokerServer<TEvents>;
  readonly port: number;
  readonly url: string;
  readonly httpUrl: string;
  /** Errors the broker reported through onError. */
  readonly errors: EventwireError[];
  /** Lines the broker logged. */
  readonly logs: string[];
  /** Stops the broker. */
  stop(): Promise<void>;
  /** Starts a new broker on the same port (after stop()), with the same setup. */
  start(): Promise<void>;
  /** stop() then start(): a real outage and a real recovery. */
  restart(): Promise<void>;
  /** `await using server = await startBroker(…)` stops it on scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startBroker<TEvents extends EventMap>(
  options: BrokerOptions<TEvents> = {},
  setup: (broker: EventBrokerServer<TEvents>) => void = () => {},
): Promise<TestBroker<TEvents>> {
  const errors: EventwireError[] = [];
  const logs: string[] = [];
  let port = 0;
  const create = (): EventBrokerServer<TEvents> => {
    const broker = new EventBrokerServer<TEvents>({
      host: '127.0.0.1',
      onError: (error) => errors.push(error),
      log: (line) => logs.push(line),
      ...options,
      port,
    });
    setup(broker);
    return broker;
  };
  const handle: TestBroker<TEvents> = {
    broker: create(),
    port: 0,
    url: '',
    httpUrl: '',
    errors,
    logs,
    stop: () => handle.broker.close(),
    async start() {
      handle.broker = create();
      await handle.broker.listen();
    },
    async restart() {
      await handle.stop();
      await handle.start();
    },
    [Symbol.asyncDispose]: () => handle.stop(),
  };
  const address = await handle.broker.listen();
  port = address.port;
  Object.assign(handle, { port, url: address.url, httpUrl: address.httpUrl });
  return handle;
}

type Json = Record<string, unknown>;

/** A raw WebSocket client: everything it receives is queued; `next()` waits for a match. */
export class RawClient {
  readonly socket: WebSocket;
  readonly received: Json[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #cursor = 0;
  #waiters: Array<() => void> = [];

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.on('message', (data) => {
      this.received.push(JSON.parse(String(data)) as Json);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
  }

  /** `localAddress` picks the client's source address (127.0.0.2 is another IP on loopback); `headers` go with the upgrade; `ca` trusts a wss:// test certificate. */
  static async open(url: string, options: { localAddress?: string; headers?: Record<string, string>; ca?: string | Buffer } = {}): Promise<RawClient> {
    const socket = new WebSocket(url, options);
    const client = new RawClient(socket);
    await within(
      new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      }),
      2000,
      `open ${url}`,
    );
    return client;
  }

  /** Opens a native-protocol client and completes hello/welcome. */
  static async native(url: string): Promise<RawClient> {
    const client = await RawClient.open(url);
    client.send({ type: 'hello', protocol: 1 });
    await client.next((frame) => frame['type'] === 'welcome');
    return client;
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next received frame (after those already taken) that matches. */
  async next(match: (frame: Json) => boolean = () => true, ms = 2000): Promise<Json> {
    return within(
      (async () => {
        for (;;) {
          while (this.#cursor < this.received.length) {
            const frame = this.received[this.#cursor++]!;
            if (match(frame)) return frame;
          }
          if (this.socket.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting');
          await new Promise<void>((resolve) => this.#waiters.push(resolve));
        }
      })(),
      ms,
      'a matching frame',
    );
  }

  close(): void {
    this.socket.close();
  }

  /** `await using client = await RawClient.open(…)` closes it on scope exit (terminates it if the close handshake hangs). */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await within(this.closed, waitDefaults.deadlineMs, 'the client closed').catch(() => this.socket.terminate());
  }
}

/** A raw client on the Pusher surface of `server` for the app `key`, past `pusher:connection_established`; its socket id. */
export async function pusherSocket(server: { readonly url: string }, key: string): Promise<{ client: RawClient; socketId: string }> {
  const client = await RawClient.open(`${server.url}/app/${key}?protocol=7`);
  const established = await client.next((frame) => frame['event'] === 'pusher:connection_established');
  return { client, socketId: (JSON.parse(established['data'] as string) as { socket_id: string }).socket_id };
}

/** Attempts a WebSocket upgrade that the broker should refuse; resolves with its HTTP answer. */
export function upgradeRefusal(
  url: string,
  options: { localAddress?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: unknown; headers: Record<string, string | string[] | undefined> }> {
  return within(
    new Promise((resolve, reject) => {
      const socket = new WebSocket(url, options);
      socket.on('open', () => reject(new Error(`upgrade to ${url} was accepted`)));
      socket.on('error', () => {});
      socket.on('unexpected-response', (_request, response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text), headers: response.headers }));
      });
    }),
    2000,
    `refusal of ${url}`,
  );
}

/** A memory store that outlives broker restarts: what a data directory gives a real broker. */
export function keptMemoryStore(): HistoryStore {
  return new MemoryHistoryStore();
}

/** The event-broker CLI (from src/, through tsx) as a real process. */
export interface BrokerProcess extends AsyncDisposable {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  readonly exit: Promise<number | null>;
  /** `await using broker = runBrokerCli(…)` kills it (SIGKILL, by its id) on scope exit, unless it has exited. */
  [Symbol.asyncDispose](): Promise<void>;
}

const cliPath = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

/**
 * Starts `event-broker args…`; with `openFiles`, under `prlimit
 * --nofile=N:N` (the process's open-file limit, as an operator sets it).
 */
export function runBrokerCli(args: string[], options: { env?: Record<string, string>; openFiles?: number } = {}): BrokerProcess {
  const node = [process.execPath, '--conditions=@eventwire/source', '--import', 'tsx', cliPath, ...args];
  const [command, ...rest] = options.openFiles === undefined ? node : ['prlimit', `--nofile=${options.openFiles}:${options.openFiles}`, ...node];
  const child = spawn(command!, rest, { env: { ...process.env, ...options.env } });
  let text = '';
  child.stdout.on('data', (chunk) => (text += chunk));
  child.stderr.on('data', (chunk) => (text += chunk));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => text,
    exit,
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}

/** Resolves with the first match of `pattern` in `output()`, waiting for it (bounded). */
export async function waitForOutput(output: () => string, pattern: RegExp, what: string, ms = 20_000): Promise<RegExpExecArray> {
  let match: RegExpExecArray | null = null;
  await until(() => (match = pattern.exec(output())) !== null, what, ms);
  return match!;
}

/** Resident and peak resident memory of a process (a broker run by runBrokerCli), in bytes (Linux /proc). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** The code of the EventwireError `action` throws (asserted to be one), or undefined when it throws nothing. */
export function errorCodeOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    assert.instance(error, EventwireError);
    return (error as EventwireError).code;
  }
}

/** The code of the EventwireError `promise` rejects with (asserted to be one), or undefined when it resolves. */
export async function rejectionCodeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    assert.instance(error, EventwireError);
    return (error as EventwireError).code;
  }
}
