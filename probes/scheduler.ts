/**
 * Probe scheduler: every (endpoint, probe) runs on its own period and random phase, bounded by a concurrency cap,
 * and only health *changes* are reported.
 *
 * Design: one min-heap of due times and one platform timer armed for the earliest, instead of a timer per
 * target (5,000 setIntervals cost more and cannot be re-phased) and instead of a global tick (which quantises
 * every probe to the tick, the anchor's 500 ms flaw). Each target's runs sit on a fixed grid
 * `first + k * period`, computed from intended times, never from completion times, so nothing drifts. The clock,
 * timer and probe runner are injected so tests drive the scheduler deterministically.
 *
 * Shared wake-ups: a grid's phase is drawn from {@link phaseSlotMs slots} (ten per period, at most 1 s apart),
 * not from a continuum, so the targets of one process that share a period wake it together. Waking a Deno
 * process costs more than the connect it wakes for, and a node's agent probing 100 endpoints every 10 s was
 * woken about 20 times a second for them (a timer, then the connect). Measured with `bench/memory.ts probing`:
 * 100 targets every 10 s 1.0 → 0.4 % of a core, 1,000 every second 20 → 15 %. Periods stay exact and the time
 * from a backend's failure to its next probe is as random as before: only the phases, which were arbitrary,
 * are shared. A burst is a tenth of a period's probes, under the concurrency cap; starting one delays its last
 * probe by a few ms (start lateness p99 2 → 18 ms with 100 at once).
 *
 * Two kinds of early re-check leave the grid for a while and come back to it (the grid itself never moves):
 * - transition re-checks ({@link ScheduledProbe.transitionPeriodSeconds}, HAProxy's `fastinter`) while a probe's
 *   latest result disagrees with its verdict;
 * - retries of *inconclusive* results: a timeout during which this process itself was stalled (see
 *   {@link isInconclusive}) says nothing about the target, so it is not counted and the probe is asked again.
 *
 * @module
 */
import { systemClock } from "./clock.ts";
import type { SchedulerClock } from "./clock.ts";
import { startLagMonitor } from "./lag.ts";
import type { LagMonitor, LagStats } from "./lag.ts";
import { endpointHealthy, initialProbeState, nextProbeState } from "./state.ts";
import type { ProbePolicy, ProbeState } from "./state.ts";
import type { ProbeResult, ProbeRunner, ProbeSpec } from "./types.ts";

export { systemClock };
export type { SchedulerClock };

/** Smallest stall (ms) that makes a timed-out result inconclusive; see {@link lagThresholdMs}. */
export const LAG_THRESHOLD_FLOOR_MS = 100;

/** Fraction of `timeoutSeconds` this process must have lost to stalls for a timeout to be inconclusive. */
export const LAG_THRESHOLD_FRACTION = 0.25;

/**
 * How much of a timed-out attempt this process must have spent stalled for the timeout to be inconclusive:
 * a quarter of the timeout, at least {@link LAG_THRESHOLD_FLOOR_MS} (250 ms at the CRD's minimum of 1 s).
 *
 * Why a quarter: a prober that loses a quarter of the budget to its own stalls has, under CPU starvation, lost
 * it spread over every step a connect or request needs (each waits its turn on a queued event loop), and a
 * reply that did arrive may be sitting unread when the deadline fires; below that, the target had at least
 * three quarters of its budget on a prober that was running, and the timeout is the target's. Why the floor:
 * normal jitter is far below it (measured here: idle ticks late by 0.4 ms p50 / 2.5 ms p99, GC pauses of a few
 * ms), so a loaded but healthy agent still counts real timeouts.
 */
export function lagThresholdMs(timeoutSeconds: number): number {
  const timeoutMs = Number.isFinite(timeoutSeconds) && timeoutSeconds > 0 ? timeoutSeconds * 1000 : 1000;
  return Math.max(LAG_THRESHOLD_FLOOR_MS, timeoutMs * LAG_THRESHOLD_FRACTION);
}

/**
 * Whether a result is inconclusive: only a timeout (`result.timedOut`, set by the runners when their own
 * deadline fired) can be, and only when this process was stalled for at least {@link lagThresholdMs} during the
 * attempt (`stalledMs`, from the lag monitor) or the deadline's timer itself fired that late. Answers from the
 * target (refused, reset, an HTTP status, a false query, an authentication error) are always conclusive,
 * whatever the lag.
 *
 * Trade-off: while this process stays overloaded, a target that really stopped answering (a black-holed node,
 * dropped SYNs) is not withdrawn by its timeouts, because each one is inconclusive; the first timeout measured
 * without a stall counts again. We accept it because the opposite failure is worse: a starved agent withdrawing
 * every healthy endpoint of its node at once (seen: 30,870 false timeouts, 1,408 healthy endpoints flipped on a
 * 100-agent fleet). Retries of inconclusive results back off (1×, 2×, 4×... the retry interval, up to the
 * period), so an overloaded agent is not loaded further by them.
 */
export function isInconclusive(result: ProbeResult, timeoutSeconds: number, stalledMs: number): boolean {
  if (!result.timedOut) return false;
  const threshold = lagThresholdMs(timeoutSeconds);
  return stalledMs >= threshold || (result.deadlineLateMs ?? 0) >= threshold;
}

/** One probe of an endpoint as the scheduler runs it; thresholds come from `spec`. */
export interface ScheduledProbe {
  /** Unique within the endpoint; reported in changes (e.g. the CRD probe index or a name). */
  readonly name: string;
  /** Resolved port for this endpoint. */
  readonly port: number;
  /** What to run. */
  readonly spec: ProbeSpec;
  /** Interval between runs. */
  readonly periodSeconds: number;
  /** No runs until this long after the endpoint started (see {@link EndpointConfig.startedAtMs}). */
  readonly initialDelaySeconds: number;
  /**
   * Re-check interval while the probe's latest result disagrees with its verdict (HAProxy's `fastinter`): a
   * healthy probe that failed fewer than failureThreshold times in a row, or an unhealthy one that passed fewer
   * than successThreshold times, runs again this long after its previous run *completed*. A backend that fails
   * at `t` is then confirmed down by about `t + (time to its next run) + (failureThreshold - 1) ×
   * (transitionPeriodSeconds + run duration)` instead of `(failureThreshold - 1) × periodSeconds` later; a new
   * endpoint needing several successes is confirmed up as fast. Once the verdict flips or the streak breaks, the
   * probe is back on its grid, so a steady backend (healthy or dead) is probed at the same rate as without it.
   * Unset, not positive, or not below `periodSeconds`: off.
   */
  readonly transitionPeriodSeconds?: number;
}

function periodMsOf(p: ScheduledProbe): number {
  return Math.max(10, p.periodSeconds * 1000);
}

/** Most slots a period's phases are drawn from: the burst a slot wakes for is a tenth of the period's probes. */
const PHASE_SLOTS_PER_PERIOD = 10;

/** Widest phase slot: longer periods get more slots rather than larger bursts. */
const MAX_PHASE_SLOT_MS = 1000;

/**
 * Width in ms of the phase slots of a period: grids of targets with this period start on multiples of it (of
 * the scheduler clock), so those sharing a slot share the process's wake-up. A tenth of the period, at most 1 s:
 * 100 ms at the CRD's 1 s minimum, 1 s at the default 10 s.
 */
export function phaseSlotMs(periodMs: number): number {
  return Math.min(MAX_PHASE_SLOT_MS, periodMs / PHASE_SLOTS_PER_PERIOD);
}

/**
 * A phase slot boundary of `periodMs` (see {@link phaseSlotMs}) near `ms`: `Math.round` for the nearest one,
 * `Math.ceil` for the first at or after it (a phase never starts before it was asked for).
 */
function slotBoundary(ms: number, periodMs: number, to: (x: number) => number): number {
  const slot = phaseSlotMs(periodMs);
  return to(ms / slot) * slot;
}

/** The transition re-check interval in ms, or undefined when the option is off or would not be faster. */
function transitionMsOf(p: ScheduledProbe, periodMs: number): number | undefined {
  const s = p.transitionPeriodSeconds;
  if (s === undefined || !Number.isFinite(s) || s <= 0) return undefined;
  const ms = Math.max(10, s * 1000);
  return ms < periodMs ? ms : undefined;
}

/** The latest result disagrees with the verdict: a streak that has not reached its threshold yet. */
function inTransition(state: ProbeState): boolean {
  return state.healthy ? state.failures > 0 : state.successes > 0;
}

function policyOf(p: ScheduledProbe): ProbePolicy {
  return {
    initialDelaySeconds: p.initialDelaySeconds,
    successThreshold: p.spec.successThreshold,
    failureThreshold: p.spec.failureThreshold,
  };
}

/** Desired configuration of one endpoint. */
export interface EndpointConfig {
  /** The endpoint's IP literal. */
  readonly ip: string;
  /** Its probes (AND-ed); none means always healthy. */
  readonly probes: readonly ScheduledProbe[];
  /** Start healthy (agent restart adopting a published endpoint); only applies when the endpoint is new. */
  readonly seedHealthy?: boolean;
  /** When the endpoint came up, on the scheduler clock, for the initial delay; default: when first `set`. */
  readonly startedAtMs?: number;
}

/** A change of a probe's verdict (and possibly of its endpoint's). */
export interface HealthChange {
  /** Endpoint key given to `set`. */
  readonly endpoint: string;
  /** Probe whose verdict changed; absent when the endpoint changed because probes were added or removed. */
  readonly probe?: string;
  /** The probe's new verdict (absent with `probe`). */
  readonly probeHealthy?: boolean;
  /** The result that caused the change (absent with `probe`). */
  readonly result?: ProbeResult;
  /** The endpoint's verdict after the change: all probes healthy. */
  readonly endpointHealthy: boolean;
  /** Whether `endpointHealthy` differs from before this change. */
  readonly endpointChanged: boolean;
  /** Names of the endpoint's probes that are unhealthy now. */
  readonly failingProbes: readonly string[];
}

/** Every completed probe, for metrics; `latenessMs` is start time minus intended time. */
export interface ProbeCompletion {
  /** Endpoint key. */
  readonly endpoint: string;
  /** Probe name. */
  readonly probe: string;
  /** The probe's result. */
  readonly result: ProbeResult;
  /**
   * The probe's latest *counted* result before this one (absent before its first): inconclusive results are
   * never the `previous` of anything, so comparing reasons sees only evidence about the target.
   */
  readonly previous?: ProbeResult;
  /** How late the probe started compared with its intended time (concurrency cap, busy event loop). */
  readonly latenessMs: number;
  /**
   * True when the result was a timeout while this process was stalled ({@link isInconclusive}): it changed
   * neither counters nor verdict, and the probe is retried soon. Count it apart from failures
   * (`swh_agent_probes_inconclusive_total`).
   */
  readonly inconclusive: boolean;
  /** For timed-out results: ms of the attempt during which this process was stalled (lag monitor). */
  readonly stalledMs?: number;
}

/** Construction options. */
export interface SchedulerOptions {
  /** Runs one probe; must honour its signal (see probes/run.ts `runProbe`). */
  readonly runProbe: ProbeRunner;
  /** Called synchronously for every verdict change; exceptions are caught and logged. */
  readonly onChange: (change: HealthChange) => void;
  /** Called after every probe result, counted or inconclusive (not for cancelled ones). */
  readonly onResult?: (completion: ProbeCompletion) => void;
  /** Default {@link systemClock}. */
  readonly clock?: SchedulerClock;
  /** Uniform [0, 1) source for phases; default Math.random. */
  readonly random?: () => number;
  /** Most probes in flight at once; further due probes wait in FIFO order. Default 1000. */
  readonly maxConcurrent?: number;
  /**
   * Where stalls of this process are learnt; default an on-demand monitor on `clock` (lag.ts, a tick every 100 ms
   * while a probe is in flight) that the scheduler stops in `close()`. A monitor passed here is shared and left
   * running; the scheduler holds it while probes are in flight (which keeps an on-demand one ticking).
   */
  readonly lagMonitor?: LagMonitor;
  /** Every tick's lag in ms from the default monitor (e.g. a lag histogram); ignored with `lagMonitor`. */
  readonly onLagSample?: (lagMs: number) => void;
}

/** Counters for metrics and benchmarks. */
export interface SchedulerStats {
  /** Scheduled (endpoint, probe) pairs. */
  readonly targets: number;
  /** Probes running now. */
  readonly inFlight: number;
  /** Due probes waiting for a concurrency slot. */
  readonly queued: number;
  /** Probes started since creation. */
  readonly started: number;
  /** Slots skipped because the previous run was still going or the process fell more than a period behind. */
  readonly skipped: number;
  /** Inconclusive results (timeouts while this process was stalled) since creation; not counted in verdicts. */
  readonly inconclusive: number;
}

/** Current verdicts of one endpoint. */
export interface EndpointHealth {
  /** All probes healthy. */
  readonly healthy: boolean;
  /** Per-probe states by probe name. */
  readonly probes: Readonly<Record<string, ProbeState>>;
}

/** The scheduler's interface to the agent. */
export interface Scheduler {
  /** Adds or updates an endpoint (see module docs for how probe changes keep state). */
  set(endpoint: string, config: EndpointConfig): void;
  /** Stops probing an endpoint at once, aborting its in-flight probes; their results are dropped. */
  remove(endpoint: string): void;
  /** Current verdicts, or undefined for an unknown endpoint. */
  health(endpoint: string): EndpointHealth | undefined;
  /** Counters. */
  stats(): SchedulerStats;
  /** Recent event-loop lag of this process (for `swh_agent_event_loop_lag_seconds`). */
  lagStats(): LagStats;
  /** Removes everything and resolves when no probe is in flight any more. */
  close(): Promise<void>;
}

interface Target {
  readonly ep: Endpoint;
  probe: ScheduledProbe;
  state: ProbeState;
  periodMs: number;
  /** Re-check interval while in transition, or undefined when off. */
  transitionMs: number | undefined;
  /** Next slot on the grid `first + k * period`. */
  grid: number;
  /** Intended time of the next run: `grid`, or earlier for a transition re-check or an inconclusive retry. */
  due: number;
  /** Inconclusive results in a row: each doubles the retry delay, up to the period. */
  inconclusiveStreak: number;
  /** Position in the heap, -1 when not in it. */
  heapIndex: number;
  running?: AbortController;
  queued: boolean;
  removed: boolean;
}

interface Endpoint {
  readonly key: string;
  ip: string;
  targets: Map<string, Target>;
  healthy: boolean;
}

/** Creates a scheduler; nothing runs until endpoints are `set`. */
export function createScheduler(options: SchedulerOptions): Scheduler {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const maxConcurrent = Math.max(1, options.maxConcurrent ?? 1000);
  const endpoints = new Map<string, Endpoint>();
  const heap: Target[] = [];
  const waiting: { target: Target; intended: number }[] = [];
  let waitingHead = 0;
  let inFlight = 0;
  /** Releases the lag monitor's hold, taken while any probe is in flight (one per busy period, not per probe). */
  let releaseLag: (() => void) | undefined;
  /** Resolves close() once the last in-flight probe has settled. */
  let idle: (() => void) | undefined;
  let timer: unknown;
  let timerAt = Infinity;
  let started = 0;
  let skipped = 0;
  let inconclusive = 0;
  let closed = false;
  const ownsLag = options.lagMonitor === undefined;
  const lag = options.lagMonitor ??
    startLagMonitor({ clock, onSample: options.onLagSample, onDemand: true });

  function emit(change: HealthChange): void {
    try {
      options.onChange(change);
    } catch (error) {
      console.error(JSON.stringify({ msg: "scheduler onChange callback threw", error: String(error) }));
    }
  }

  function failing(ep: Endpoint): string[] {
    return [...ep.targets.values()].filter((t) => !t.state.healthy).map((t) => t.probe.name);
  }

  function recompute(ep: Endpoint): boolean {
    const before = ep.healthy;
    ep.healthy = endpointHealthy([...ep.targets.values()].map((t) => t.state));
    return before !== ep.healthy;
  }

  // ---- heap keyed by `due` --------------------------------------------------------------------------------
  function swap(i: number, j: number): void {
    const a = heap[i], b = heap[j];
    heap[i] = b;
    heap[j] = a;
    b.heapIndex = i;
    a.heapIndex = j;
  }
  function up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p].due <= heap[i].due) break;
      swap(i, p);
      i = p;
    }
  }
  function down(i: number): void {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < heap.length && heap[l].due < heap[m].due) m = l;
      if (r < heap.length && heap[r].due < heap[m].due) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  }
  function heapPush(t: Target): void {
    t.heapIndex = heap.length;
    heap.push(t);
    up(t.heapIndex);
  }
  function heapRemove(t: Target): void {
    const i = t.heapIndex;
    if (i < 0) return;
    const last = heap.pop()!;
    t.heapIndex = -1;
    if (last === t) return;
    heap[i] = last;
    last.heapIndex = i;
    up(i);
    down(last.heapIndex);
  }

  // ---- timer ----------------------------------------------------------------------------------------------
  function arm(): void {
    const next = heap.length > 0 ? heap[0].due : Infinity;
    // Re-arm only when the earliest due time moved earlier or the timer is idle: avoids clear/set churn.
    if (next >= timerAt) return;
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
    timerAt = next;
    if (next === Infinity) return;
    timer = clock.setTimer(tick, Math.max(0, next - clock.now()));
  }

  function tick(): void {
    timer = undefined;
    timerAt = Infinity;
    const now = clock.now();
    // 1 ms tolerance: timers may fire a fraction early; waiting again for <1 ms would only spin.
    while (heap.length > 0 && heap[0].due <= now + 1) {
      const t = heap[0];
      const intended = t.due;
      // A run on the grid (or an early one that reached the grid slot) takes the slot; an early run before it
      // leaves the grid alone, so the target comes back to the same phase.
      if (t.grid <= now + 1) advanceGrid(t, now);
      t.due = t.grid;
      down(0);
      dispatch(t, intended);
    }
    arm();
  }

  /**
   * Moves `grid` to its next slot; if we fell more than a period behind, skips missed slots instead of bursting.
   * A grid not yet on a phase slot (a new endpoint's prompt first run) joins the nearest one here: that one
   * interval is up to half a slot (5 % of the period) shorter or longer, and the grid is exact from then on.
   */
  function advanceGrid(t: Target, now: number): void {
    let next = slotBoundary(t.grid + t.periodMs, t.periodMs, Math.round);
    if (next <= now) {
      const missed = Math.ceil((now - next) / t.periodMs);
      skipped += missed;
      next += missed * t.periodMs;
      if (next <= now) next += t.periodMs;
    }
    t.grid = next;
  }

  /** Runs `t` again at `at` if that is before its next grid slot. */
  function recheckAt(t: Target, at: number): void {
    if (at >= t.grid || t.removed) return;
    heapRemove(t);
    t.due = at;
    heapPush(t);
    arm();
  }

  function dispatch(t: Target, intended: number): void {
    if (t.running || t.queued) {
      skipped++;
      return;
    }
    if (inFlight < maxConcurrent) start(t, intended);
    else {
      t.queued = true;
      waiting.push({ target: t, intended });
    }
  }

  function drain(): void {
    while (inFlight < maxConcurrent && waitingHead < waiting.length) {
      const { target, intended } = waiting[waitingHead++];
      target.queued = false;
      if (!target.removed) start(target, intended);
    }
    if (waitingHead > 1024 && waitingHead * 2 > waiting.length) {
      waiting.splice(0, waitingHead);
      waitingHead = 0;
    }
  }

  function start(t: Target, intended: number): void {
    const controller = new AbortController();
    t.running = controller;
    started++;
    // Stalls matter while a probe is in flight (its deadline may fire late): an on-demand monitor ticks then.
    // (A start re-entered from complete() finds the hold of the probe being settled still taken.)
    if (inFlight++ === 0) releaseLag ??= lag.hold();
    const startedAt = clock.now();
    const probe = t.probe;
    // Plain then() instead of an async wrapper: two promises per run fewer, which shows at 5,000 runs/s.
    const settle = (result: ProbeResult) => {
      inFlight--;
      if (t.running === controller) t.running = undefined;
      // A changed definition replaces the Target (t.removed), so a result here belongs to the current one.
      if (!controller.signal.aborted && !t.removed) {
        complete(t, result, startedAt, clock.now(), startedAt - intended);
      }
      // Released after complete(): a timed-out result reads the stall still in progress.
      if (inFlight === 0) {
        releaseLag?.();
        releaseLag = undefined;
        idle?.();
      }
      if (!closed) drain();
    };
    let pending: Promise<ProbeResult>;
    try {
      pending = options.runProbe({ ip: t.ep.ip, port: probe.port }, probe.spec, controller.signal);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(settle, (error) => {
      // Runners are specified never to reject; a buggy one still must not stop the scheduler.
      settle({ ok: false, reason: `internal error: ${String(error)}`, durationMs: clock.now() - startedAt });
    });
  }

  function complete(t: Target, result: ProbeResult, startedAt: number, at: number, latenessMs: number): void {
    const before = t.state;
    // The lag history is read for timeouts only: everything else is conclusive, and this path runs 5,000 times/s.
    const stalledMs = result.timedOut ? lag.observed(startedAt, at).stalledMs : undefined;
    if (stalledMs !== undefined && isInconclusive(result, t.probe.spec.timeoutSeconds, stalledMs)) {
      inconclusive++;
      t.inconclusiveStreak++;
      options.onResult?.({
        endpoint: t.ep.key,
        probe: t.probe.name,
        result,
        previous: before.last,
        latenessMs,
        inconclusive: true,
        stalledMs,
      });
      // Ask again soon, backing off while the stall lasts: under sustained overload, retries must not add load.
      const base = t.transitionMs ?? Math.min(t.periodMs, 1000);
      recheckAt(t, at + Math.min(t.periodMs, base * 2 ** Math.min(20, t.inconclusiveStreak - 1)));
      return;
    }
    t.inconclusiveStreak = 0;
    t.state = nextProbeState(before, policyOf(t.probe), result, at);
    options.onResult?.({
      endpoint: t.ep.key,
      probe: t.probe.name,
      result,
      previous: before.last,
      latenessMs,
      inconclusive: false,
      stalledMs,
    });
    if (t.transitionMs !== undefined && inTransition(t.state)) recheckAt(t, at + t.transitionMs);
    if (t.state.healthy === before.healthy) return;
    const endpointChanged = recompute(t.ep);
    emit({
      endpoint: t.ep.key,
      probe: t.probe.name,
      probeHealthy: t.state.healthy,
      result,
      endpointHealthy: t.ep.healthy,
      endpointChanged,
      failingProbes: failing(t.ep),
    });
  }

  // ---- endpoints ------------------------------------------------------------------------------------------
  function addTarget(ep: Endpoint, probe: ScheduledProbe, state: ProbeState, promptly = false): void {
    const now = clock.now();
    const periodMs = periodMsOf(probe);
    // Random phase: a full period for verified (healthy) targets, on a phase slot; at most 1 s for unverified ones
    // (a new pod is probed promptly once its initial delay is over) or when asked (an edited definition is tried
    // at once), whose grid joins a slot after that first run.
    const earliest = Math.max(now, state.activeFromMs);
    const first = state.healthy && !promptly
      ? slotBoundary(earliest + random() * periodMs, periodMs, Math.ceil)
      : earliest + random() * Math.min(periodMs, 1000);
    const t: Target = {
      ep,
      probe,
      state,
      periodMs,
      transitionMs: transitionMsOf(probe, periodMs),
      grid: first,
      due: first,
      inconclusiveStreak: 0,
      heapIndex: -1,
      queued: false,
      removed: false,
    };
    ep.targets.set(probe.name, t);
    heapPush(t);
  }

  function dropTarget(t: Target): void {
    t.removed = true;
    heapRemove(t);
    t.running?.abort(new DOMException("probe target removed", "AbortError"));
    t.running = undefined;
  }

  function sameProbe(a: ScheduledProbe, b: ScheduledProbe): boolean {
    return a.port === b.port && a.initialDelaySeconds === b.initialDelaySeconds &&
      JSON.stringify(a.spec) === JSON.stringify(b.spec);
  }

  function set(key: string, config: EndpointConfig): void {
    if (closed) throw new Error("scheduler is closed");
    const now = clock.now();
    let ep = endpoints.get(key);
    if (ep && ep.ip !== config.ip) {
      // Same key, new address: nothing verified about the new address, start over.
      remove(key);
      ep = undefined;
    }
    const startedAtMs = config.startedAtMs ?? now;
    if (!ep) {
      ep = { key, ip: config.ip, targets: new Map(), healthy: false };
      endpoints.set(key, ep);
      for (const p of config.probes) {
        addTarget(ep, p, initialProbeState(policyOf(p), startedAtMs, now, config.seedHealthy));
      }
      ep.healthy = endpointHealthy([...ep.targets.values()].map((t) => t.state));
      arm();
      return;
    }
    const wanted = new Map(config.probes.map((p) => [p.name, p]));
    for (const [name, t] of ep.targets) {
      if (!wanted.has(name)) {
        dropTarget(t);
        ep.targets.delete(name);
      }
    }
    for (const p of config.probes) {
      const t = ep.targets.get(p.name);
      if (!t) {
        // A probe added to a live endpoint has verified nothing yet: it starts unhealthy like a new one.
        addTarget(ep, p, initialProbeState(policyOf(p), startedAtMs, now, false));
      } else if (!sameProbe(t.probe, p)) {
        // Changed definition: keep the verdict as a seed (like an agent restart) so editing a probe does not
        // withdraw every endpoint at once, and run the new definition within a second, not a period: its
        // first result counts toward the thresholds (fast with a transition period) at once.
        dropTarget(t);
        ep.targets.delete(p.name);
        addTarget(ep, p, initialProbeState(policyOf(p), startedAtMs, now, t.state.healthy), true);
      } else if (t.probe.periodSeconds !== p.periodSeconds || t.probe !== p) {
        const periodMs = periodMsOf(p);
        t.probe = p;
        t.transitionMs = transitionMsOf(p, periodMs);
        if (periodMs !== t.periodMs) {
          t.periodMs = periodMs;
          heapRemove(t);
          t.due = t.grid = slotBoundary(now + random() * periodMs, periodMs, Math.ceil);
          heapPush(t);
        }
      }
    }
    if (recompute(ep)) {
      emit({ endpoint: key, endpointHealthy: ep.healthy, endpointChanged: true, failingProbes: failing(ep) });
    }
    arm();
  }

  function remove(key: string): void {
    const ep = endpoints.get(key);
    if (!ep) return;
    endpoints.delete(key);
    for (const t of ep.targets.values()) dropTarget(t);
    arm();
  }

  return {
    set,
    remove,
    health(key) {
      const ep = endpoints.get(key);
      if (!ep) return undefined;
      const probes: Record<string, ProbeState> = {};
      for (const [name, t] of ep.targets) probes[name] = t.state;
      return { healthy: ep.healthy, probes };
    },
    stats: () => ({
      targets: [...endpoints.values()].reduce((n, ep) => n + ep.targets.size, 0),
      inFlight,
      queued: waiting.length - waitingHead,
      started,
      skipped,
      inconclusive,
    }),
    lagStats: () => lag.stats(),
    async close() {
      for (const key of [...endpoints.keys()]) remove(key);
      closed = true;
      if (ownsLag) lag.stop();
      if (timer !== undefined) clock.clearTimer(timer);
      timer = undefined;
      timerAt = Infinity;
      waiting.length = 0;
      waitingHead = 0;
      if (inFlight > 0) await new Promise<void>((resolve) => idle = resolve);
    },
  };
}
