// `{name}` captures where the broker takes a pattern from code or config:
// permissions, channel rules and config files read them as the `*` they stand
// for (hooks: hooks.test.ts; history rules: event-channel's history-rules.test).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { TopicError } from '@eventwire/event-channel';
import { ChannelRules } from '../src/auth/channels.js';
import { assertPermissions, checkPermission } from '../src/auth/permissions.js';
import { validateConfig } from '../src/config.js';
import { TopicGroups } from '../src/topic-groups.js';
import { errorCodeOf } from './helpers.js';

const test = suite('captures in the broker');

test('a grant with captures allows what its * form allows, to publish and to subscribe', () => {
  const permissions = { publish: ['order.{id}.#'], subscribe: ['tenant.{t}.order.*'] };
  assertPermissions(permissions, 'users.svc');
  for (const topic of ['order.7', 'order.7.paid', 'order.7.paid.late']) assert.is(errorCodeOf(() => checkPermission(permissions, 'publish', topic)), undefined, topic);
  for (const topic of ['order', 'orders.7', 'invoice.7']) assert.is(errorCodeOf(() => checkPermission(permissions, 'publish', topic)), 'forbidden', topic);
  for (const pattern of ['tenant.t1.order.*', 'tenant.*.order.paid', 'tenant.t1.order.created']) {
    assert.is(errorCodeOf(() => checkPermission(permissions, 'subscribe', pattern)), undefined, pattern);
  }
  for (const pattern of ['tenant.#', 'tenant.t1.order.#']) assert.is(errorCodeOf(() => checkPermission(permissions, 'subscribe', pattern)), 'forbidden', pattern);
});

test('a grant with a repeated or broken capture is refused where it is declared', () => {
  assert.is(errorCodeOf(() => assertPermissions({ publish: ['order.{id}.{id}'] }, 'users.svc')), 'invalid_pattern');
  assert.is(errorCodeOf(() => assertPermissions({ subscribe: ['order.{id'] }, 'users.svc')), 'invalid_pattern');
});

test('a config file may use captures in its patterns; a repeated one is refused naming the key', () => {
  const valid = validateConfig({ permissions: { authenticated: { publish: ['order.{id}.#'], subscribe: ['{area}.#'] } } }, 'broker.json');
  assert.ok(valid);
  try {
    validateConfig({ permissions: { authenticated: { publish: ['order.{id}.{id}'] } } }, 'broker.json');
    assert.unreachable('a repeated capture was accepted');
  } catch (error) {
    assert.match(String((error as Error).message), /permissions\.authenticated\.publish\[0\].*duplicate_capture/s);
  }
});

test('channel rules read {param} by the same grammar: a repeated name is refused, any name is an own field of params', async () => {
  const rules = new ChannelRules(1000);
  try {
    rules.add('private-user.{id}.{id}', () => true);
    assert.unreachable('a repeated param was accepted');
  } catch (error) {
    assert.equal([(error as TopicError).code, (error as TopicError).problem], ['invalid_pattern', 'duplicate_capture']);
  }
  assert.is(errorCodeOf(() => rules.add('private-user.{id', () => true)), 'invalid_pattern');
  let seen: Readonly<Record<string, string>> | undefined;
  rules.add('private-doc.{__proto__}.{owner}', (_user, params) => {
    seen = params;
    return true;
  });
  await rules.authorize({ id: 'ada' }, 'private-doc.d1.ada');
  assert.ok(seen && Object.hasOwn(seen, '__proto__'));
  assert.equal(Object.entries(seen!), [['__proto__', 'd1'], ['owner', 'ada']]);
});

test('metrics topic groups with captures group what their * form matches, labelled as written', () => {
  const groups = new TopicGroups(['order.{id}.#', 'log.*']);
  assert.is(groups.label(groups.classify('order.7.paid')), 'order.{id}.#');
  assert.is(groups.label(groups.classify('log.error')), 'log.*');
  assert.is(groups.label(groups.classify('invoice.7')), 'other');
  assert.is(errorCodeOf(() => new TopicGroups(['a.{x}.{x}'])), 'invalid_pattern');
});

test.run();
