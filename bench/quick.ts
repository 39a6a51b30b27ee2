// `--quick` (pnpm bench --quick): every benchmark does fewer rounds, so the
// whole suite, peers included, finishes in under two minutes. Its figures are
// a smoke check; bench/RESULTS.md is written from full runs.
export const quick = process.argv.includes('--quick');
