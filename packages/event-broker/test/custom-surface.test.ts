// A surface of our own, registered purely through the Surface contract (no
// edit to the broker): the "echo" protocol of examples/echo-surface.ts, on
// `/echo`, subscribing and publishing with JSON frames. Its clients must go through the
// same admission, authentication, channel rules, hooks and router as every
// built-in surface, and events must cross between it and the native protocol.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EventwireError } from '@eventwire/event-channel';
// The echo protocol (and its SurfaceRegistry entry) is the package's example of a surface of your own.
import { createEchoSurface } from '../examples/echo-surface.js';
import { RawClient, startBroker, upgradeRefusal, within } from './helpers.js';

const test = suite('a surface of your own');

test('an echo surface speaks through the broker’s auth, rules, hooks and router, beside the native protocol', async () => {
  const origins: string[] = [];
  const server = await startBroker(
    {
      surfaces: [createEchoSurface],
      // Tokens name the user; no token is refused on every surface.
      authenticate: ({ token }) => {
        if (token === undefined) throw new EventwireError('unauthorized', 'a token is needed');
        return { id: token };
      },
    },
    (broker) => {
      broker.channel('private-room.{owner}', (user, { owner }) => user?.id === owner);
      broker.intercept('note.#', (event, ctx) => {
        origins.push(ctx.origin.surface);
        if ((event.data as { text?: string }).text === 'spam') ctx.reject('no spam');
        ctx.transform({ ...(event.data as object), seen: true });
      });
    },
  );
  try {
    // Authentication at the upgrade, as for every surface whose credentials are required.
    assert.is((await upgradeRefusal(`${server.url}/echo`)).status, 401);
    assert.ok(server.broker.stats().refused.unauthorized >= 1, 'counted with the other refusals');

    const echo = await RawClient.open(`${server.url}/echo?token=alice`);
    await echo.next((frame) => frame['type'] === 'hello');
    assert.is(server.broker.stats().connections.echo, 1, 'counted under its own name');

    // Channel rules: alice's room, not bob's.
    echo.send({ op: 'subscribe', pattern: 'private-room.bob' });
    assert.is((await echo.next((frame) => frame['type'] !== 'hello'))['code'], 'forbidden');
    echo.send({ op: 'subscribe', pattern: 'private-room.alice' });
    assert.equal(await echo.next(), { type: 'subscribed', pattern: 'private-room.alice' });
    echo.send({ op: 'subscribe', pattern: 'note.*' });
    await echo.next((frame) => frame['type'] === 'subscribed');

    // The router: a native publish reaches the echo client.
    const native = await RawClient.open(`${server.url}/?token=carol`);
    native.send({ type: 'hello', protocol: 1 });
    await native.next((frame) => frame['type'] === 'welcome');
    native.send({ type: 'subscribe', id: 's', pattern: 'note.*' });
    await native.next((frame) => frame['type'] === 'ack');
    native.send({ type: 'publish', id: 'p', event: { id: 'n1', topic: 'note.native', source: 'test', time: new Date().toISOString(), data: { text: 'hi' } } });
    assert.equal(await echo.next((frame) => frame['type'] === 'event'), { type: 'event', topic: 'note.native', data: { text: 'hi', seen: true } });

    // Hooks: an echo publish is intercepted with its surface's name, transformed, and delivered natively.
    echo.send({ op: 'publish', topic: 'note.echo', data: { text: 'hello' } });
    await echo.next((frame) => frame['type'] === 'published');
    const delivered = await native.next((frame) => frame['type'] === 'event' && (frame['event'] as { topic: string }).topic === 'note.echo');
    assert.equal((delivered['event'] as { data: unknown }).data, { text: 'hello', seen: true });
    echo.send({ op: 'publish', topic: 'note.echo', data: { text: 'spam' } });
    assert.is((await echo.next((frame) => frame['type'] === 'error'))['code'], 'rejected');
    assert.equal(origins, ['native', 'echo', 'echo']);

    // Leaving: the router forgets it when it closes.
    echo.close();
    await within(echo.closed, 2000, 'echo closed');
    await within(
      (async () => {
        while (server.broker.stats().connections.echo !== 0) await new Promise((resolve) => setImmediate(resolve));
      })(),
      2000,
      'the echo connection is gone',
    );
    native.close();
  } finally {
    await server.stop();
  }
});

test('the example runs: an echo client and an EventChannel exchange events through one broker', async () => {
  const example = fileURLToPath(new URL('../examples/echo-surface.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=@eventwire/source', '--import', 'tsx', example], { timeout: 20_000 });
  assert.equal(stdout.trim().split('\n'), [
    'hook saw native',
    'echo got {"type":"event","topic":"note.from-channel","data":{"text":"hi echo"}}',
    'hook saw echo',
    'channel got {"text":"hi channel"}',
  ]);
});

test.run();
