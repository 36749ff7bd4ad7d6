/**
 * Event-loop lag monitor: a periodic timer that records how late it fires, so the scheduler can tell "the target
 * did not answer in time" from "this process was not running to hear the answer".
 *
 * A timer due at `d` that fires at `f` means the event loop could not run anything from `d` to `f` (busy with
 * other work, paused by GC, or descheduled by a CPU-starved kernel): that interval is a *stall*. Stalls are kept
 * in a small ring so one can ask how much of a window the process lost. A stall still in progress (the timer is
 * overdue right now) counts too: a probe's deadline callback may run in the same loop turn that ends a stall,
 * before this monitor's own timer had a chance to fire.
 *
 * Resolution: a stall is seen from the first tick due inside it, so it is under-measured by up to one interval.
 * Cost (measured on this machine, idle Deno 2.9.6 process): about 0.4 ms of CPU per wake-up, so 4 ms/s (0.4 % of
 * a core) at the default 100 ms; in a busy process the tick rides on wake-ups that happen anyway. That is 40 % of
 * a core for a 100-node fleet simulated on one machine, and the price of an idle agent everywhere: with
 * `onDemand` the monitor ticks only while held — the scheduler holds it while a probe is in flight, the only time
 * a stall can be mistaken for a target's fault — so an agent probing 10 endpoints a second for 1 ms each sets
 * and clears a timer per probe and almost never wakes up for it.
 *
 * @module
 */
import { systemClock } from "./clock.ts";
import type { SchedulerClock } from "./clock.ts";

/** Default tick interval: fine enough to see a stall within a 1 s probe timeout, cheap enough to run always. */
export const DEFAULT_LAG_INTERVAL_MS = 100;

/** Default number of stalls kept: with a tick every 100 ms, at least 100 s of continuous lag. */
export const DEFAULT_LAG_CAPACITY = 1024;

/** Late firings below this are timer slack, not stalls, and are not stored (they are still reported). */
const STALL_MIN_MS = 1;

/** How far back {@link LagStats.maxMs} looks. */
const STATS_WINDOW_MS = 10_000;

/** Construction options. */
export interface LagMonitorOptions {
  /** Default {@link systemClock}. Its timers are unref'd when it can, so monitoring never keeps a process alive. */
  readonly clock?: SchedulerClock;
  /** Tick interval in ms; default {@link DEFAULT_LAG_INTERVAL_MS}. */
  readonly intervalMs?: number;
  /** Stalls kept for {@link LagMonitor.observed}; default {@link DEFAULT_LAG_CAPACITY}. */
  readonly capacity?: number;
  /** Called with every tick's lag in ms (0 when on time), e.g. to feed a histogram; exceptions are logged. */
  readonly onSample?: (lagMs: number) => void;
  /**
   * Tick only while {@link LagMonitor.hold held} (default false: always). Stalls while nobody holds the monitor
   * are not measured — nobody asks about them.
   */
  readonly onDemand?: boolean;
}

/** What the monitor saw during one window. */
export interface LagWindow {
  /** Total time (ms) of the window spent inside stalls: how much of it the process could not run. */
  readonly stalledMs: number;
  /** Longest single stall (ms, whole length) overlapping the window; 0 when none. */
  readonly maxMs: number;
}

/** Recent lag, for metrics. */
export interface LagStats {
  /** Lag of the latest tick in ms (or of the stall in progress, if longer). */
  readonly lastMs: number;
  /** Longest stall in ms overlapping the last {@link LagStats.windowMs}. */
  readonly maxMs: number;
  /** The window of `maxMs` in ms. */
  readonly windowMs: number;
  /** Ticks since the monitor started. */
  readonly ticks: number;
}

/** A running monitor. */
export interface LagMonitor {
  /** Stalls overlapping `[fromMs, toMs]` (clock milliseconds), including one in progress. */
  observed(fromMs: number, toMs: number): LagWindow;
  /** Recent lag for metrics. */
  stats(): LagStats;
  /**
   * Keeps an on-demand monitor ticking until the returned release is called (once); holds nest. The first
   * hold starts a fresh interval. A no-op for an always-on monitor.
   */
  hold(): () => void;
  /** Stops ticking; the history stays readable. Idempotent. */
  stop(): void;
}

/** Starts a monitor; its first tick is due one interval from now. */
export function startLagMonitor(options: LagMonitorOptions = {}): LagMonitor {
  const clock = options.clock ?? systemClock;
  const intervalMs = Math.max(1, options.intervalMs ?? DEFAULT_LAG_INTERVAL_MS);
  const capacity = Math.max(1, Math.floor(options.capacity ?? DEFAULT_LAG_CAPACITY));
  // Ring of stalls [from, to]: two typed arrays, no per-tick allocation.
  const from = new Float64Array(capacity);
  const to = new Float64Array(capacity);
  let head = 0; // next write position
  let size = 0;
  let due = 0;
  let timer: unknown;
  let stopped = false;
  let ticks = 0;
  let lastMs = 0;
  const onDemand = options.onDemand ?? false;
  let holds = 0;
  let armed = false;

  function disarm(): void {
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
    armed = false;
  }

  function release(): void {
    if (--holds === 0) disarm();
  }

  function arm(): void {
    armed = true;
    due = clock.now() + intervalMs;
    timer = clock.setTimer(tick, intervalMs);
    clock.unrefTimer?.(timer);
  }

  function tick(): void {
    timer = undefined;
    if (stopped) return;
    const firedAt = clock.now();
    const lag = Math.max(0, firedAt - due);
    ticks++;
    lastMs = lag;
    if (lag >= STALL_MIN_MS) {
      from[head] = due;
      to[head] = firedAt;
      head = (head + 1) % capacity;
      if (size < capacity) size++;
    }
    arm();
    if (options.onSample) {
      try {
        options.onSample(lag);
      } catch (error) {
        console.error(JSON.stringify({ msg: "lag monitor onSample callback threw", error: String(error) }));
      }
    }
  }

  /** The stall in progress, if the tick is overdue now. */
  function pending(now: number): number {
    return !stopped && armed && now > due ? now - due : 0;
  }

  function observed(fromMs: number, toMs: number): LagWindow {
    let stalledMs = 0;
    let maxMs = 0;
    const now = clock.now();
    const open = pending(now);
    if (open >= STALL_MIN_MS) {
      const overlap = Math.min(now, toMs) - Math.max(due, fromMs);
      if (overlap > 0) {
        stalledMs += overlap;
        maxMs = open;
      }
    }
    // Newest first; stalls are stored in time order, so stop at the first that ended before the window.
    for (let i = 0, j = head; i < size; i++) {
      j = j === 0 ? capacity - 1 : j - 1;
      if (to[j] <= fromMs) break;
      const overlap = Math.min(to[j], toMs) - Math.max(from[j], fromMs);
      if (overlap > 0) {
        stalledMs += overlap;
        maxMs = Math.max(maxMs, to[j] - from[j]);
      }
    }
    return { stalledMs, maxMs };
  }

  if (!onDemand) arm();

  return {
    observed,
    hold() {
      if (!onDemand) return () => {};
      if (holds++ === 0 && !stopped) arm();
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    },
    stats() {
      const now = clock.now();
      const open = pending(now);
      return {
        lastMs: Math.max(lastMs, open),
        maxMs: Math.max(open, observed(now - STATS_WINDOW_MS, now).maxMs),
        windowMs: STATS_WINDOW_MS,
        ticks,
      };
    },
    stop() {
      stopped = true;
      disarm();
    },
  };
}
