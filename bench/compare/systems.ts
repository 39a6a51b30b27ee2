// How each compared system's server is started, as its own process, and what
// version it is. Every server prints or logs the URL it listens on.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface RunningServer {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Which client adapter talks to a system. */
export type ClientKey = 'eventwire' | 'eventwire-synap' | 'ws' | 'socketio' | 'nats';

export interface SystemSpec {
  /** Selects it on the command line (--systems) and in the results. */
  readonly key: string;
  /** The client adapter that talks to it. */
  readonly client: ClientKey;
  readonly name: string;
  version(): string;
  start(): Promise<RunningServer>;
  /** Why it cannot run here, if it cannot. */
  unavailable?(): string | undefined;
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));
const packageVersion = (path: string) => (JSON.parse(readFileSync(here(path), 'utf8')) as { version: string }).version;

function launch(command: string, args: string[], listening: RegExp, urlOf: (match: RegExpExecArray) => string): Promise<RunningServer> {
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`${command} did not start: ${text}`)), 15_000);
    const onData = (chunk: Buffer) => {
      text += chunk;
      const match = listening.exec(text);
      if (!match) return;
      clearTimeout(timer);
      resolve({
        url: urlOf(match),
        pid: child.pid!,
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 3000).unref();
          }),
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${command} exited ${code}: ${text}`)));
  });
}

function hasNatsServer(): boolean {
  try {
    execFileSync('nats-server', ['--version']);
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const eventwireBroker = (): Promise<RunningServer> =>
  launch(process.execPath, [here('../../packages/event-broker/bin/event-broker.js'), '--port', '0', '--quiet'], /listening on (ws:\/\/\S+)/, (m) => m[1]!);

export const systems: readonly SystemSpec[] = [
  {
    key: 'ws',
    client: 'ws',
    name: 'bare ws broadcast',
    version: () => `ws ${packageVersion('../node_modules/ws/package.json')}`,
    start: () => launch(process.execPath, [here('servers/ws-broadcast.mjs')], /listening on (ws:\/\/\S+)/, (m) => m[1]!),
  },
  {
    key: 'eventwire',
    client: 'eventwire',
    name: 'eventwire (native)',
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}`,
    start: eventwireBroker,
  },
  {
    key: 'eventwire-synap',
    client: 'eventwire-synap',
    name: 'eventwire (Synap surface)',
    version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}`,
    start: eventwireBroker,
  },
  ...[1, 5].map(
    (observers): SystemSpec => ({
      key: `eventwire-hooks-${observers}`,
      client: 'eventwire',
      name: `eventwire (native) + ${observers} observer${observers > 1 ? 's' : ''}`,
      version: () => `@eventwire/event-broker ${packageVersion('../../packages/event-broker/package.json')}`,
      start: () => launch(process.execPath, [here('servers/eventwire-hooks.mjs'), String(observers)], /listening on (ws:\/\/\S+)/, (m) => m[1]!),
    }),
  ),
  {
    key: 'socketio',
    client: 'socketio',
    name: 'Socket.IO 4 (rooms)',
    version: () => `socket.io ${packageVersion('../node_modules/socket.io/package.json')}`,
    start: () => launch(process.execPath, [here('servers/socketio.mjs')], /listening on (ws:\/\/\S+)/, (m) => m[1]!),
  },
  {
    key: 'nats',
    client: 'nats',
    name: 'nats-server (WebSocket)',
    version: () => execFileSync('nats-server', ['--version']).toString().trim(),
    unavailable: () => {
      if (hasNatsServer()) return undefined;
      // A clean machine: install it the way CI would, when we may.
      if (process.getuid?.() === 0) {
        try {
          console.log('installing nats-server (apt-get install -y nats-server) …');
          execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server'], { stdio: 'ignore' });
        } catch {
          // fall through to the reason below
        }
        if (hasNatsServer()) return undefined;
      }
      return 'nats-server is not installed (apt-get install -y nats-server)';
    },
    async start() {
      const [tcp, ws] = [await freePort(), await freePort()];
      const config = join(mkdtempSync(join(tmpdir(), 'nats-bench-')), 'nats.conf');
      writeFileSync(config, `listen: 127.0.0.1:${tcp}\nwebsocket {\n  listen: "127.0.0.1:${ws}"\n  no_tls: true\n}\n`);
      return launch('nats-server', ['-c', config], /Listening for websocket clients on (ws:\/\/\S+)/, () => `ws://127.0.0.1:${ws}`);
    },
  },
];
