// A slow disk for tests: a tiny shared library, loaded with LD_PRELOAD into
// a process under test, that delays every fdatasync(2) and fsync(2) by
// EVENTWIRE_TEST_FSYNC_DELAY_MS before doing the real one. The writes and
// the syncs are real; only their duration is that of an overloaded volume.
// Built with the system's C compiler on first use (gcc, a Debian package
// that .ci/run installs), into a temporary directory.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binaryAvailable } from './server-process.js';

const SOURCE = `
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void pause_for_it(void) {
  const char *ms = getenv("EVENTWIRE_TEST_FSYNC_DELAY_MS");
  if (!ms) return;
  long value = atol(ms);
  struct timespec wait = { value / 1000, (value % 1000) * 1000000L };
  nanosleep(&wait, 0);
}

int fdatasync(int fd) {
  static int (*real)(int) = 0;
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
  pause_for_it();
  return real(fd);
}

int fsync(int fd) {
  static int (*real)(int) = 0;
  if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
  pause_for_it();
  return real(fd);
}
`;

/** Whether a C compiler is there to build the library; logs why not, and throws under CI (where .ci/run installs it). */
export function slowFsyncAvailable(): boolean {
  return binaryAvailable('cc', ['--version'], 'slow-disk', 'apt-get install -y gcc');
}

let built: string | undefined;

/** The environment that makes a child process's fsyncs take `delayMs` each. */
export function slowFsyncEnv(delayMs: number): Record<string, string> {
  if (!built) {
    const dir = mkdtempSync(join(tmpdir(), 'slow-fsync-'));
    writeFileSync(join(dir, 'slow-fsync.c'), SOURCE);
    built = join(dir, 'slow-fsync.so');
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', built, join(dir, 'slow-fsync.c'), '-ldl']);
  }
  return { LD_PRELOAD: built, EVENTWIRE_TEST_FSYNC_DELAY_MS: String(delayMs) };
}
