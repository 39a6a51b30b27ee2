// How the test runner reads one test file's run: uvu's closing block, the
// exit code, and what killed it. Kept apart from the runner so its own tests
// can feed it real uvu output (scripts/test/runner.test.ts).

/**
 * @param {{ output: string, code: number, signal: string | null, deadline: boolean, deadlineMs: number }} run
 * @returns {{ passed: number, failed: number, skipped: number, problems: string[] }}
 *   counts to add to the totals, and why the file failed (each a suffix for its name)
 */
export function summariseFile({ output, code, signal, deadline, deadlineMs }) {
  // uvu prints one block per file: "Total" counts the tests that ran (skipped
  // ones are not in it), "Passed" those of them that passed.
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
  const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
  if (Number.isNaN(total) || Number.isNaN(passed)) {
    // Crashed or hung before uvu could summarise: count the file as one failure.
    const why = deadline ? `hung: killed after ${deadlineMs} ms` : signal ? `killed by ${signal}` : `exit ${code}`;
    return { passed: 0, failed: 1, skipped: 0, problems: [` (no summary, ${why})`] };
  }
  const failed = Math.max(0, total - passed);
  const problems = [];
  if (failed > 0) problems.push(`: ${failed} failed`);
  // A file whose tests were all skipped is skipped (it said why); one that
  // declared no test at all, or exited non-zero after passing, is a failure.
  let extra = 0;
  if (total === 0 && skipped === 0) {
    problems.push(' (ran no test)');
    extra++;
  } else if (failed === 0 && code !== 0) {
    problems.push(` (exit ${code} after passing tests)`);
    extra++;
  }
  return { passed, failed: failed + extra, skipped, problems };
}
