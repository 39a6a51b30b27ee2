// Preloaded into every Node.js server of the comparison (with --expose-gc):
// SIGUSR2 runs a full GC and answers on stdout, so the harness can read
// memory per connection after a collection rather than amid garbage.
process.on('SIGUSR2', () => {
  globalThis.gc();
  globalThis.gc();
  process.stdout.write('gc done\n');
});
