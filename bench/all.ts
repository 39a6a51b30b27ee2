// Runs every benchmark in turn, each in its own process, passing the command
// line through (`--quick` included). The comparison against peers runs last.
//   pnpm --filter @eventwire/bench bench [--quick]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const scripts = ['topic-trie.bench.ts', 'broker.bench.ts', 'connection-memory.bench.ts', 'logger.bench.ts', 'history.bench.ts', 'auth.bench.ts', 'compare/run.ts'];
for (const script of scripts) {
  console.log(`\n=== ${script}\n`);
  const { status } = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url)), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  if (status !== 0) {
    console.error(`${script} failed (exit ${status})`);
    process.exit(1);
  }
}
