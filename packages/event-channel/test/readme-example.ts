// Docs stay true: a README's first ```ts block is an example file verbatim,
// and running that file prints `expected`. Used by each readme.test.ts.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);

export function testReadmeExample(
  packageDir: URL,
  expected: readonly string[],
  files: { readme?: URL; example?: URL } = {},
): void {
  const example = fileURLToPath(files.example ?? new URL('examples/readme.ts', packageDir));
  const readmeFile = files.readme ?? new URL('README.md', packageDir);
  const test = suite(`readme example (${fileURLToPath(readmeFile).split('/').slice(-2).join('/')})`);

  test('the README shows the example file verbatim', () => {
    const readme = readFileSync(readmeFile, 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.is(block, readFileSync(example, 'utf8'));
  });

  test('the example prints what the README says', async () => {
    const { stdout } = await run(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', example], {
      timeout: 20_000,
    });
    assert.equal(stdout.trim().split('\n'), expected);
  });

  test.run();
}
