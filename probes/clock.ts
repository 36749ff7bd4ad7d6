/**
 * The clock and timers the probe engine runs on, injected so tests can drive time by hand.
 *
 * @module
 */

/** The platform functions the scheduler and the lag monitor need; tests pass a fake. */
export interface SchedulerClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Calls `callback` once after `delayMs`; returns a handle for `clearTimer`. */
  setTimer(callback: () => void, delayMs: number): unknown;
  /** Cancels a timer from `setTimer`. */
  clearTimer(handle: unknown): void;
  /**
   * Lets the process exit while this timer is pending (`Deno.unrefTimer`). Optional: a fake clock keeps no
   * process alive, so it need not implement it.
   */
  unrefTimer?(handle: unknown): void;
}

/** The real clock: `performance.now()` and setTimeout. */
export const systemClock: SchedulerClock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as number),
  unrefTimer: (handle) => Deno.unrefTimer(handle as number),
};
