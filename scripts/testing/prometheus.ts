// A throwaway Prometheus server (Debian's prometheus package) for tests: on a
// free port, its data in a temp directory, scraping one target, killed by its
// owner. Missing locally: tests skip with a loud reason; under CI=true they
// fail (.ci/run installs it). The system service is never used.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './nats-server.js';

/** True when prometheus and promtool can run here; logs why not, and throws under CI. */
export function prometheusAvailable(): boolean {
  const found = ['prometheus', 'promtool'].every((binary) => spawnSync(binary, ['--version'], { encoding: 'utf8' }).status === 0);
  if (found) return true;
  if (process.env['CI'] === 'true') throw new Error('prometheus/promtool are missing; .ci/run installs them (apt-get install prometheus)');
  console.log('skipping Prometheus tests: prometheus not installed (apt-get install -y prometheus)');
  return false;
}

/** `promtool check metrics` on an exposition: its problem lines (none when it is clean). */
export function promtoolProblems(text: string): string[] {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return `${run.stdout}${run.stderr}`.split('\n').filter((line) => line.trim() !== '');
}

export interface RunningPrometheus {
  readonly url: string;
  /** An instant query's result vector. */
  query(expression: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  stop(): Promise<void>;
}

/** Starts Prometheus scraping `target` (host:port) every `intervalMs`, with a bearer token. */
export async function startPrometheus(options: { target: string; bearer?: string; metricsPath?: string; intervalMs?: number }): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const interval = `${options.intervalMs ?? 200}ms`;
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      'scrape_configs:',
      '  - job_name: eventwire',
      `    metrics_path: ${options.metricsPath ?? '/metrics'}`,
      ...(options.bearer ? ['    authorization:', `      credentials: ${options.bearer}`] : []),
      '    static_configs:',
      `      - targets: ['${options.target}']`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const child = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => (log = (log + chunk).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`).then((response) => response.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus did not become ready:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    async query(expression) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expression)}`);
      const body = (await response.json()) as { status: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }; error?: string };
      if (body.status !== 'success') throw new Error(`query ${expression}: ${body.error}`);
      return body.data!.result;
    },
    stop,
  };
}
