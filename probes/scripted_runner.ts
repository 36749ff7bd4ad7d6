/**
 * Test-only helpers for scheduler tests on the fake clock: a probe runner whose results the test scripts, and a
 * probe definition builder.
 *
 * @module
 */
import type { FakeClock } from "./fake_clock.ts";
import type { ScheduledProbe } from "./scheduler.ts";
import type { ProbeResult, ProbeSpec, ProbeTarget } from "./types.ts";

/** One run the scheduler started. */
export interface Call {
  /** Where it probes. */
  readonly target: ProbeTarget;
  /** Fake-clock time it started. */
  readonly at: number;
  /** The scheduler's signal for this run. */
  readonly signal: AbortSignal;
  /** Ends the run: `true`/`false` as a plain pass/fail, or a full result. */
  resolve(outcome: boolean | ProbeResult): void;
}

/** A scripted runner and the runs it saw. */
export interface ScriptedRunner {
  /** Every run, in start order. */
  readonly calls: Call[];
  /** The runner to hand to the scheduler. */
  run(target: ProbeTarget, spec: ProbeSpec, signal?: AbortSignal): Promise<ProbeResult>;
}

/** A timeout as the runners report it when their deadline fires (on time). */
export const TIMED_OUT: ProbeResult = {
  ok: false,
  reason: "timeout after 1s (connect)",
  durationMs: 1000,
  timedOut: true,
  deadlineLateMs: 0,
};

/** An answer from the target: conclusive whatever the lag. */
export const REFUSED: ProbeResult = { ok: false, reason: "connect: connection refused", durationMs: 0 };

/**
 * A runner whose runs stay pending until the test resolves them, or end at once with what `auto` returns
 * (`undefined`: stay pending; `auto` may also arm a fake timer that resolves later).
 */
export function scriptedRunner(
  clock: FakeClock,
  auto?: (call: Call, n: number) => boolean | ProbeResult | undefined,
): ScriptedRunner {
  const calls: Call[] = [];
  const run = (target: ProbeTarget, _spec: ProbeSpec, signal?: AbortSignal) =>
    new Promise<ProbeResult>((resolve) => {
      const call: Call = {
        target,
        at: clock.now(),
        signal: signal!,
        resolve: (outcome) =>
          resolve(
            typeof outcome === "boolean"
              ? { ok: outcome, reason: outcome ? "fine" : "broken", durationMs: 0 }
              : outcome,
          ),
      };
      calls.push(call);
      signal?.addEventListener("abort", () => resolve({ ok: false, reason: "cancelled", durationMs: 0 }));
      const verdict = auto?.(call, calls.length);
      if (verdict !== undefined) call.resolve(verdict);
    });
  return { calls, run };
}

const tcp: ProbeSpec = { mode: "TCP", timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };

/** A TCP probe on port 80, period 1 s, thresholds 1, no initial delay, timeout 1 s; `over` changes any of it. */
export function probe(
  name: string,
  over: Partial<ScheduledProbe> & { successThreshold?: number; failureThreshold?: number } = {},
): ScheduledProbe {
  const { successThreshold = 1, failureThreshold = 1, ...rest } = over;
  return {
    name,
    port: 80,
    spec: { ...tcp, successThreshold, failureThreshold },
    periodSeconds: 1,
    initialDelaySeconds: 0,
    ...rest,
  };
}
