// The package as a consumer sees it: dist/ through the exports map, no source
// condition. The test command builds before it runs this file.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const tsc = fileURLToPath(new URL('../../../node_modules/.bin/tsc', import.meta.url));
const test = suite('package');

test('dist is built with declarations', () => {
  for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/channel.d.ts']) {
    assert.ok(existsSync(new URL(`../${file}`, import.meta.url)), `${file} missing; run the build`);
  }
});

test('the exports map resolves to dist and exposes the public API', async () => {
  const script = `
    const m = await import('@eventwire/event-channel');
    const url = import.meta.resolve('@eventwire/event-channel');
    console.log(JSON.stringify({ url, names: Object.keys(m).sort() }));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir });
  const { url, names } = JSON.parse(stdout) as { url: string; names: string[] };
  assert.match(url, /\/dist\/index\.js$/);
  for (const name of ['EventChannel', 'defineEvents', 'EventwireError', 'TopicTrie', 'toCloudEvent', 'MemoryHub']) {
    assert.ok(names.includes(name), `${name} not exported`);
  }
  // Internals the broker reaches through ./protocol, or nobody outside: not public API.
  for (const name of ['EXCEPT_FIELD', 'EXCEPT_HEADER', 'PubSubTransport', 'NOTIFY_PAYLOAD_LIMIT', 'MemoryTransport', 'isErrorCode']) {
    assert.not.ok(names.includes(name), `${name} is internal, yet exported`);
  }
});

test('./protocol exports what the broker imports, and not the rest of the internals', async () => {
  const script = `
    const m = await import('@eventwire/event-channel/protocol');
    console.log(JSON.stringify(Object.keys(m).sort()));`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: packageDir });
  const names = JSON.parse(stdout) as string[];
  for (const name of ['encodeFrame', 'parseClientFrame', 'closeCodes', 'MemoryHistoryStore', 'PubSubTransport', 'RedisTransport', 'loadNats', 'Outbox']) {
    assert.ok(names.includes(name), `${name} (imported by the broker) not exported`);
  }
  for (const name of ['parseServerFrame', 'isTerminalCloseCode', 'ORIGIN_FIELD', 'answersWithin', 'parseOffset', 'streamCovers', 'natsSubjectsFor']) {
    assert.not.ok(names.includes(name), `${name} is used by nobody outside the package, yet exported`);
  }
});

test('the published types type-check a consumer (errors included)', async () => {
  await run(tsc, ['-p', 'test/fixtures/consumer/tsconfig.json'], { cwd: packageDir });
});

test.run();
