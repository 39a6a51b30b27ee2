// A broker CLI process for the cluster benchmarks: on a free port, joined to
// NATS when `cluster` is given (ready once its log says it joined). A cluster
// with options the --cluster flag cannot carry (kafka.fetchWaitMs) comes in a
// --config file among extraArgs, with `joins` true so it is still waited for.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../packages/event-broker/bin/event-broker.js', import.meta.url));

export interface BrokerProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startBrokerProcess(
  cluster: string | undefined,
  extraArgs: readonly string[] = [],
  joins: boolean = cluster !== undefined,
): Promise<BrokerProcess> {
  const args = [cli, '--port', '0', '--host', '127.0.0.1', '--quiet', ...(cluster ? ['--cluster', cluster] : []), ...extraArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${text}`)), 30_000);
    const onData = (chunk: Buffer): void => {
      text += chunk;
      const listening = /listening on (ws:\/\/\S+)/.exec(text);
      if (listening && (!joins || /cluster: node \S+ joined/.test(text))) {
        clearTimeout(timer);
        resolve(listening[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { url, pid: child.pid!, stop: async () => void (child.kill('SIGTERM'), await exited) };
}
