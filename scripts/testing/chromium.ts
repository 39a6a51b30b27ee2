// Headless Chromium for browser tests: the system browser (Debian's chromium
// package), driven by playwright-core, which downloads nothing.
import { existsSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { within } from './waits.js';

export const chromiumPath = '/usr/bin/chromium';

/**
 * Whether browser tests can run here. Locally a missing browser means skip,
 * with the reason printed; under CI=true it is an error (.ci/run installs it).
 */
export function chromiumAvailable(): boolean {
  if (existsSync(chromiumPath)) return true;
  if (process.env['CI'] === 'true') throw new Error(`${chromiumPath} is missing; .ci/run installs it (apt-get install chromium)`);
  console.log(`skipping browser tests: ${chromiumPath} not installed (apt-get install -y chromium)`);
  return false;
}

/** Launches headless Chromium with the flags this sandboxed, offline machine needs. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: chromiumPath,
    // Background networking and component updates would try to reach the
    // internet, which this machine refuses; --no-sandbox because tests run as root.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/**
 * The bound for a wait through a headless browser (a page loading, a round
 * trip through a page and a child process). Longer than waits.ts'
 * `waitDefaults.deadlineMs` because a page is slow on a loaded two-core
 * machine; browser tests pass it to `until` explicitly.
 */
export const browserWaitMs = 10_000;

/**
 * Evaluates `expression` in the page until `done` accepts its value (every
 * 20 ms: each check is a round trip to the browser); fails after `ms` naming
 * `what`. For page state that has no event to await.
 */
export async function pageValue<T>(page: Page, expression: string, done: (value: T) => boolean, what: string, ms = browserWaitMs): Promise<T> {
  // The poll stops with the deadline: a failed wait must not keep the test process alive.
  let expired = false;
  try {
    return await within(
      (async () => {
        for (;;) {
          const value = (await page.evaluate(expression)) as T;
          if (done(value) || expired) return value;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })(),
      ms,
      what,
    );
  } finally {
    expired = true;
  }
}
