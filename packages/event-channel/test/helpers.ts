// The event-channel tests' helpers. What every package's tests share (bounded
// waits, unique topics, deferred promises, collectors) lives once in
// scripts/testing/ and is re-exported here, so a test imports one module.
//
// Extending: a helper only this package's tests need goes here; one the
// broker's (or another package's) tests need too goes in scripts/testing/
// (waits.ts, unique.ts, or a server's own file) and is re-exported here.
import type { Test } from 'uvu';
import { startKafkaServer, type KafkaServer } from '../../../scripts/testing/kafka-server.js';
import { EventwireError } from '../src/index.js';

export { uniqueTopic } from '../../../scripts/testing/unique.js';
export { collector, deferred, nextStatus, until, waitDefaults, within } from '../../../scripts/testing/waits.js';

/** Runs `fn`, expecting it to throw or reject with an EventwireError of `code`. */
export async function expectCode(fn: () => unknown, code: string): Promise<EventwireError> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof EventwireError)) {
      throw new Error(`Expected EventwireError "${code}", got ${String(error)}`);
    }
    if (error.code !== code) throw new Error(`Expected code "${code}", got "${error.code}": ${error.message}`);
    return error;
  }
  throw new Error(`Expected EventwireError "${code}", but nothing was thrown`);
}

/**
 * A Kafka test server for the suite, started before its tests (or before
 * each, `each`) and stopped after, when the mock can be built here: true.
 * Else the suite says why it is skipped (under CI=true the availability
 * check has already failed) and this returns false.
 */
export function withKafkaServer(
  test: Test<{ server: KafkaServer }>,
  available: boolean,
  { each = false, skipped = '(cc or librdkafka-dev not installed: no Kafka test server)' }: { each?: boolean; skipped?: string } = {},
): boolean {
  if (!available) {
    test.skip(skipped, () => {});
    return false;
  }
  (each ? test.before.each : test.before)(async (context) => {
    context.server = await startKafkaServer();
  });
  (each ? test.after.each : test.after)(async (context) => {
    await context.server.stop();
  });
  return true;
}

