// The default bound on history held in memory, from the memory the process may use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { defaultHistoryMemoryBytes } from '../src/index.js';

const GiB = 1024 ** 3;

test('an eighth of the cgroup limit where there is one, not of the host', () => {
  assert.is(defaultHistoryMemoryBytes({ total: 64 * GiB, constrained: 1 * GiB }), GiB / 8);
});

test('an eighth of the host without a limit (cgroup v2 reports 2^64), at most 1 GiB', () => {
  assert.is(defaultHistoryMemoryBytes({ total: 4 * GiB, constrained: 2 ** 64 }), GiB / 2);
  assert.is(defaultHistoryMemoryBytes({ total: 64 * GiB, constrained: undefined }), GiB);
  assert.is(defaultHistoryMemoryBytes({ total: 2 * GiB, constrained: 0 }), GiB / 4);
});

test.run();
