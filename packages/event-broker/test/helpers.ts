// Test helpers: a real broker on an OS-chosen port that can restart on the
// same port, and a raw WebSocket client whose waits have deadlines, not sleeps.
import type { EventMap, EventwireError } from '@eventwire/event-channel';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { EventBrokerServer, MemoryHistoryStore, type BrokerOptions, type HistoryStore } from '../src/index.js';

export interface TestBroker<TEvents extends EventMap> {
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
  };
  const address = await handle.broker.listen();
  port = address.port;
  Object.assign(handle, { port, url: address.url, httpUrl: address.httpUrl });
  return handle;
}

/** Resolves with `promise` or fails with a clear message after `ms` (an upper bound, not a sync tool). */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Resolves once `condition()` holds, checking every few milliseconds; fails
 * with `what` after `ms`. For state that changes without an event to await
 * (counters, another process's output).
 */
export async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  // The poll stops with the deadline: a failed wait must not keep the test process alive.
  let expired = false;
  try {
    await within(
      (async () => {
        while (!expired && !condition()) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      ms,
      what,
    );
  } finally {
    expired = true;
  }
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

  /** `localAddress` picks the client's source address (127.0.0.2 is another IP on loopback); `headers` go with the upgrade. */
  static async open(url: string, options: { localAddress?: string; headers?: Record<string, string> } = {}): Promise<RawClient> {
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
export interface BrokerProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  readonly exit: Promise<number | null>;
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
  return { child, output: () => text, exit };
}

/** Resolves with the first match of `pattern` in `output()`, waiting for it (bounded). */
export async function waitForOutput(output: () => string, pattern: RegExp, what: string, ms = 20_000): Promise<RegExpExecArray> {
  let match: RegExpExecArray | null = null;
  await until(() => (match = pattern.exec(output())) !== null, what, ms);
  return match!;
}
