// Throwaway Kafka-protocol servers for tests: librdkafka's mock cluster (no
// Kafka broker is packaged for Debian), hosted by kafka-mock/mock-cluster.c.
// Each server is one process with its brokers on OS-chosen ports and its log
// in memory (so nothing to clean on disk), controlled over its stdin: topics
// made with a chosen partition count, brokers taken down and up. It is killed
// by its pid, and with the owning process (its stdin closing ends it too).
// The helper is compiled with `cc` against librdkafka on first use, into a
// cache directory keyed by the source's hash (never into the repo).
// Missing cc or librdkafka-dev locally: tests skip with a loud reason; under
// CI=true they fail (.ci/run installs both).
//
// What the mock is not (say so in the test that meets it): Apache Kafka. It has
// no CreateTopics/DeleteTopics/DescribeConfigs (topics come from createTopic()
// or auto-create with 4 partitions), Metadata only up to v2, retention as a
// small size cap per partition, no message size limit, and a consumer-group
// rejoin waits for the session timeout.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const source = fileURLToPath(new URL('./kafka-mock/mock-cluster.c', import.meta.url));
const compiler = process.env['CC'] ?? 'cc';
const compileFlags = ['-O2', '-Wall'];
const INSTALL = 'apt-get install -y gcc librdkafka-dev';

/** The defaults of `startKafkaServer`. */
export const kafkaServerDefaults = {
  /**
   * Mock brokers in the cluster. Three, so a test can take one down and still
   * have a cluster, and a client meets a broker list, not one address.
   * @default 3
   */
  brokers: 3,
  /** How long the helper may take to print its bootstrap line. @default 10000 */
  startTimeoutMs: 10_000,
  /** How long one control command may take to be answered. @default 5000 */
  commandTimeoutMs: 5000,
} as const;

export interface KafkaServerOptions {
  /** @default kafkaServerDefaults.brokers */
  readonly brokers?: number;
}

export interface KafkaBroker {
  /** The broker's node id (1..n, in bootstrap order). */
  readonly id: number;
  readonly host: string;
  readonly port: number;
}

export interface KafkaServer extends AsyncDisposable {
  /** `kafka://127.0.0.1:port,127.0.0.1:port,…` */
  readonly url: string;
  /** The brokers, ids 1..n. */
  readonly brokers: readonly KafkaBroker[];
  /** `host:port` of every broker: what a Kafka client's `brokers` option takes. */
  readonly bootstrap: readonly string[];
  /** The helper process's id (undefined once it has exited). */
  readonly pid: number | undefined;
  /** Creates a topic with this many partitions (replication factor 1). */
  createTopic(name: string, partitions?: number): Promise<void>;
  /**
   * What a kafka:// channel's `ensureTopic` option takes in tests: makes the
   * Kafka topic with one partition, once per run of the mock (a restart
   * forgets them, as it forgets the log); a topic the mock already
   * auto-created is left as it is. The mock has no CreateTopics and
   * auto-creates four partitions, where tests want one publisher's order.
   */
  readonly ensureTopic: (kafkaTopic: string) => Promise<void>;
  /** Closes this broker's connections and refuses new ones; every broker when none is named. */
  down(brokerId?: number): Promise<void>;
  /** Lets this broker (every broker when none is named) answer again. */
  up(brokerId?: number): Promise<void>;
  /** Moves a partition's leadership to a broker. */
  leader(topic: string, partition: number, brokerId: number): Promise<void>;
  /** Stops it (stdin closed; SIGKILL by pid after 3 s); its log is gone. */
  stop(): Promise<void>;
  /** kill -9 by pid, as a crash; `restart()` brings it back. */
  kill(): Promise<void>;
  /**
   * After `kill` or `stop`: a new mock at the same addresses (the clients'
   * bootstrap list stays true). It is a new cluster: empty log, topics gone,
   * as a Kafka that lost its disks — not one restarted on its log.
   */
  restart(): Promise<void>;
  /** `await using server = await startKafkaServer()` stops it on scope exit. */
  [Symbol.asyncDispose](): Promise<void>;
}

let built: string | undefined;
let buildError: string | undefined;

/**
 * Compiles the helper once per source version (cached by hash across runs and
 * processes; built under a temporary name and renamed, so two test files
 * building at once never run a half-written file). Returns the binary, or
 * throws with the compiler's complaint.
 */
function buildHelper(): string {
  if (built) return built;
  if (buildError) throw new Error(buildError);
  const text = readFileSync(source);
  const hash = createHash('sha256').update(text).update(`${compiler} ${compileFlags.join(' ')}`).digest('hex').slice(0, 16);
  const dir = join(process.env['EVENTWIRE_CACHE_DIR'] ?? join(tmpdir(), 'eventwire-cache'), `kafka-mock-${hash}`);
  const binary = join(dir, 'mock-cluster');
  if (!existsSync(binary)) {
    mkdirSync(dir, { recursive: true });
    const partial = join(dir, `mock-cluster.${process.pid}.partial`);
    const result = spawnSync(compiler, [...compileFlags, '-o', partial, source, '-lrdkafka', '-ldl'], { encoding: 'utf8' });
    if (result.status !== 0) {
      rmSync(partial, { force: true });
      rmSync(dir, { recursive: true, force: true });
      const why = result.error ? `${compiler} not found` : result.stderr.trim().split('\n').slice(0, 3).join(' / ');
      buildError = `could not build the Kafka mock helper (${INSTALL}): ${why}`;
      throw new Error(buildError);
    }
    renameSync(partial, binary);
  }
  built = binary;
  return binary;
}

/**
 * True when the mock helper builds and runs here (cc and librdkafka-dev
 * installed); logs why not, and throws under CI (where .ci/run installs them).
 */
export function kafkaServerAvailable(): boolean {
  try {
    const binary = buildHelper();
    // A smoke run: the shared library must load, not only link.
    execFileSync(binary, ['1'], { input: 'quit\n', timeout: 10_000, stdio: ['pipe', 'ignore', 'pipe'] });
    return true;
  } catch (error) {
    const why = (error as Error).message;
    if (process.env['CI'] === 'true') throw new Error(`${why} — .ci/run installs them`);
    console.log(`skipping Kafka tests: ${why}`);
    return false;
  }
}

/** One run of the helper process: its bootstrap line read, commands answered in order. */
interface HelperRun {
  readonly bootstrap: readonly string[];
  readonly pid: number;
  readonly exited: boolean;
  command(line: string): Promise<void>;
  /** Closes its stdin (SIGKILL by pid after 3 s) and waits for the exit. */
  stop(): Promise<void>;
  /** SIGKILL by pid, and waits for the exit. */
  kill(): Promise<void>;
}

async function runHelper(binary: string, count: number, ports: readonly number[] | undefined): Promise<HelperRun> {
  const child = spawn(binary, [String(count)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...(ports && { MOCK_CLUSTER_PORTS: ports.join(',') }) },
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${binary}`);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  // The owning process going away takes the helper with it (stdin closing
  // would too, but a kill by pid does not wait for the helper to read).
  const onExit = (): void => {
    if (!exited) process.kill(pid, 'SIGKILL');
  };
  process.once('exit', onExit);
  void exit.then(() => process.removeListener('exit', onExit));

  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  // stdout is line-based: the bootstrap line first, then one reply per command, in order.
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  let pending = '';
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      waiting.shift()?.resolve(line);
    }
  });
  void exit.then(() => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`the Kafka mock exited:\n${stderr}`));
  });
  const nextLine = (ms: number, what: string): Promise<string> =>
    new Promise((resolve, reject) => {
      if (exited) return reject(new Error(`the Kafka mock exited before ${what}:\n${stderr}`));
      const timer = setTimeout(() => reject(new Error(`the Kafka mock did not answer ${what} within ${ms} ms:\n${stderr}`)), ms);
      waiting.push({
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });

  const kill = async (): Promise<void> => {
    if (!exited) process.kill(pid, 'SIGKILL');
    await exit;
  };
  let ready: string;
  try {
    ready = await nextLine(kafkaServerDefaults.startTimeoutMs, 'with its bootstrap line');
  } catch (error) {
    await kill();
    throw error;
  }
  const match = /^bootstrap (\S+)$/.exec(ready);
  if (!match) {
    await kill();
    throw new Error(`the Kafka mock said ${JSON.stringify(ready)} instead of its bootstrap line:\n${stderr}`);
  }

  // One command at a time: replies come back in order, and a failed command
  // must not shift the next one's answer.
  let queue: Promise<unknown> = Promise.resolve();
  const command = (line: string): Promise<void> => {
    const run = async (): Promise<void> => {
      const answer = nextLine(kafkaServerDefaults.commandTimeoutMs, `"${line}"`);
      child.stdin.write(`${line}\n`);
      const reply = await answer;
      if (reply !== `ok ${line}`) throw new Error(`the Kafka mock refused "${line}": ${reply}`);
    };
    const result = queue.then(run, run);
    queue = result.catch(() => undefined);
    return result;
  };
  const stop = async (): Promise<void> => {
    if (exited) return;
    child.stdin.end();
    const timer = setTimeout(() => {
      if (!exited) process.kill(pid, 'SIGKILL');
    }, 3000);
    await exit;
    clearTimeout(timer);
  };
  return {
    bootstrap: match[1]!.split(','),
    pid,
    get exited() {
      return exited;
    },
    command,
    stop,
    kill,
  };
}

/** Starts a mock Kafka cluster; resolves once every broker listens. */
export async function startKafkaServer(options: KafkaServerOptions = {}): Promise<KafkaServer> {
  const count = options.brokers ?? kafkaServerDefaults.brokers;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`brokers must be a positive integer, got ${count}`);
  const binary = buildHelper();
  let run = await runHelper(binary, count, undefined);
  const bootstrap = run.bootstrap;
  const brokers = bootstrap.map((address, index): KafkaBroker => {
    const colon = address.lastIndexOf(':');
    return { id: index + 1, host: address.slice(0, colon), port: Number(address.slice(colon + 1)) };
  });
  const brokerIds = (brokerId: number | undefined): number[] => (brokerId === undefined ? brokers.map((broker) => broker.id) : [brokerId]);
  const plain = (name: string): string => {
    // The helper reads whitespace-separated words; Kafka names never hold spaces.
    if (!/^[A-Za-z0-9._-]{1,249}$/.test(name)) throw new RangeError(`not a Kafka topic name: ${JSON.stringify(name)}`);
    return name;
  };
  const command = (line: string): Promise<void> => run.command(line);
  /** ensureTopic's topics, per run of the mock. */
  let made = new Map<string, Promise<void>>();

  return {
    url: `kafka://${bootstrap.join(',')}`,
    brokers,
    bootstrap,
    get pid() {
      return run.exited ? undefined : run.pid;
    },
    createTopic: (name, partitions = 1) => command(`topic ${plain(name)} ${partitions}`),
    ensureTopic: (kafkaTopic) => {
      let making = made.get(kafkaTopic);
      if (!making) made.set(kafkaTopic, (making = command(`topic ${plain(kafkaTopic)} 1`).catch((error: Error) => {
        // Auto-created first (a client read it before): there already, as wanted enough.
        if (!/TOPIC_ALREADY_EXISTS/.test(error.message)) throw error;
      })));
      return making;
    },
    down: async (brokerId) => {
      for (const id of brokerIds(brokerId)) await command(`down ${id}`);
    },
    up: async (brokerId) => {
      for (const id of brokerIds(brokerId)) await command(`up ${id}`);
    },
    leader: (topic, partition, brokerId) => command(`leader ${plain(topic)} ${partition} ${brokerId}`),
    kill: () => run.kill(),
    restart: async () => {
      if (!run.exited) throw new Error('restart() follows kill() or stop(): the mock is still running');
      run = await runHelper(binary, count, brokers.map((broker) => broker.port));
      made = new Map();
      if (run.bootstrap.join(',') !== bootstrap.join(',')) {
        await run.kill();
        throw new Error(`the restarted Kafka mock listens on ${run.bootstrap.join(',')}, not ${bootstrap.join(',')}`);
      }
    },
    stop: () => run.stop(),
    [Symbol.asyncDispose]: () => run.stop(),
  };
}
