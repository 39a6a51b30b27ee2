// Virtual time for a test hub: the process's timers, `Date` and
// `performance.now()` answer to a clock the test moves. `performance` is
// faked too because every emit's deadline reads it (event-channel's
// emit-deadline.ts): with only the timers faked, a deadline would run on
// real time while its timer ran on virtual time (Node's own mock.timers
// leaves `performance.now` real, which is why this is @sinonjs/fake-timers).
// `setImmediate`, `process.nextTick` and microtasks stay real: the hub's
// pipes cross on them, and "settled" means they have run out.
import { EventwireError } from '@eventwire/event-channel';
import type { install } from '@sinonjs/fake-timers';

type InstalledClock = ReturnType<typeof install>;

/** One clock per process: the globals it replaces are the process's. */
let installed: VirtualClock | undefined;

/** Whether a hub's virtual clock holds the process's timers now. */
export function virtualTimeInstalled(): boolean {
  return installed !== undefined;
}

export class VirtualClock {
  readonly #clock: InstalledClock;

  private constructor(clock: InstalledClock) {
    this.#clock = clock;
  }

  /** Replaces the globals; throws `invalid_config` while another hub's clock holds them. */
  static async install(now: number): Promise<VirtualClock> {
    if (installed) throw new EventwireError('invalid_config', 'A test hub with virtual time is open already: close it first (the clock replaces process-wide globals)');
    // Loaded here, not at the top: only a hub on virtual time needs it.
    const { install } = await import('@sinonjs/fake-timers');
    if (installed) throw new EventwireError('invalid_config', 'A test hub with virtual time is open already: close it first (the clock replaces process-wide globals)');
    const fake = install({ now, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
    const clock = new VirtualClock(fake);
    // nextDue reads the library's timer heap: a release without it must fail here, not skip time silently.
    const probe = setTimeout(() => {}, 1);
    const readable = clock.nextDue() === now + 1;
    clearTimeout(probe);
    if (!readable) {
      fake.uninstall();
      throw new EventwireError('internal', "@sinonjs/fake-timers keeps no timer heap this kit can read (it was written against 15.5): virtual time is unavailable");
    }
    installed = clock;
    return clock;
  }

  /** Virtual milliseconds since the epoch. */
  get now(): number {
    return this.#clock.now;
  }

  /**
   * When the earliest pending timer is due, if any. Read from the clock's
   * timer heap (fake-timers 15 keeps it as `timerHeap`; no public call
   * answers this without firing the timer).
   */
  nextDue(): number | undefined {
    const heap = (this.#clock as unknown as { timerHeap?: { peek(): { callAt: number } | undefined } }).timerHeap;
    return heap?.peek()?.callAt;
  }

  /** Moves the clock `ms` forward, firing the timers due on the way in order, microtasks between them. */
  async tick(ms: number): Promise<void> {
    await this.#clock.tickAsync(ms);
  }

  /** Gives the globals back. Timers still pending are dropped with the clock. */
  uninstall(): void {
    if (installed !== this) return;
    installed = undefined;
    this.#clock.uninstall();
  }
}
