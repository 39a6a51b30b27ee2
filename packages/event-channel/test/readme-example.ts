// Docs stay true: a package README's first ```ts block is its
// examples/readme.ts verbatim, and running that file prints `expected`.
// Used by each package's readme.test.ts.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);

export function testReadmeExample(packageDir: URL, expected: readonly string[]): void {
  const example = fileURLToPath(new URL('examples/readme.ts', packageDir));
  const test = suite('readme example');

  test('the README shows examples/readme.ts verbatim', () => {
    const readme = readFileSync(new URL('README.md', packageDir), 'utf8');
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
