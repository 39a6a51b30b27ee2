// Which topics keep history: the first matching rule, and the per-topic cache
// the broker consults on every publish (bounded; evicting must not change answers).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HistoryRules, historyRuleDefaults } from '../src/protocol/index.js';

test('the first matching rule gives the retention; a topic no rule matches keeps no history', () => {
  const rules = new HistoryRules([{ pattern: 'order.vip.*', maxEvents: 5 }, { pattern: 'order.#', maxAgeMs: 1000 }]);
  assert.equal(rules.retentionFor('order.vip.1'), { pattern: 'order.vip.*', maxEvents: 5, maxAgeMs: historyRuleDefaults.maxAgeMs });
  assert.equal(rules.retentionFor('order.std.1'), { pattern: 'order.#', maxEvents: historyRuleDefaults.maxEvents, maxAgeMs: 1000 });
  assert.is(rules.retentionFor('chat.x'), undefined);
});

test('past the cache bound, answers stay the same for old and new topics alike, many times over', () => {
  const rules = new HistoryRules([{ pattern: 'kept.#', maxEvents: 7 }]);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 10_000; i++) {
      const topic = i % 2 ? `kept.t${i}` : `plain.t${i}`;
      assert.is(rules.retentionFor(topic)?.maxEvents, i % 2 ? 7 : undefined, topic);
    }
  }
});

test('a rule with {name} captures keeps history as the * it stands for', () => {
  const rules = new HistoryRules([{ pattern: 'order.{id}.#', maxEvents: 5 }]);
  assert.is(rules.retentionFor('order.7.paid')?.maxEvents, 5);
  assert.is(rules.retentionFor('order.7')?.maxEvents, 5);
  assert.is(rules.retentionFor('invoice.7'), undefined);
  assert.is(rules.rules[0]!.pattern, 'order.*.#');
  assert.throws(() => new HistoryRules([{ pattern: 'order.{id}.{id}' }]), (error: { code: string }) => error.code === 'invalid_pattern');
});

test.run();
