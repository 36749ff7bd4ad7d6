/**
 * Test-only manual clock for the scheduler and the lag monitor: time moves only when a test says so.
 *
 * @module
 */
import type { SchedulerClock } from "./clock.ts";

/** A manual clock: timers fire only inside `advance` (or after a `stall`), in time order. */
export class FakeClock implements SchedulerClock {
  /** Current time in ms. */
  t = 0;
  private nextId = 0;
  private timers = new Map<number, { at: number; cb: () => void }>();
  /** See {@link SchedulerClock.now}. */
  now = (): number => this.t;
  /** See {@link SchedulerClock.setTimer}. */
  setTimer = (cb: () => void, ms: number): unknown => {
    const id = ++this.nextId;
    this.timers.set(id, { at: this.t + ms, cb });
    return id;
  };
  /** See {@link SchedulerClock.clearTimer}. */
  clearTimer = (h: unknown): void => void this.timers.delete(h as number);
  /** Timers armed and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }
  /** Moves time forward by `ms`, firing due timers and letting promise chains settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; cb: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].cb();
    }
    this.t = end;
    await settle();
  }
  /**
   * A blocked event loop: time jumps `ms` with nothing running, then every overdue timer fires late, in order of
   * its due time, the way a real loop catches up.
   */
  async stall(ms: number): Promise<void> {
    this.t += ms;
    await this.advance(0);
  }
}

/**
 * Lets every pending promise continuation run: one macrotask turn drains the microtask queue. A message on a
 * fresh channel is that turn without the ~2 ms a nested `setTimeout(0)` costs here, which matters when a fake
 * minute fires hundreds of timers (the lag monitor ticks ten times a second).
 */
export const settle = (): Promise<void> =>
  new Promise<void>((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(0);
    port2.close();
  });
