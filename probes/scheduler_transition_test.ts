/** Scheduler tests of transition re-checks (`transitionPeriodSeconds`, HAProxy's fastinter), on the fake clock. */
import assert from "node:assert/strict";
import { createScheduler } from "./scheduler.ts";
import type { HealthChange } from "./scheduler.ts";
import { FakeClock } from "./fake_clock.ts";
import { probe, REFUSED, scriptedRunner, TIMED_OUT } from "./scripted_runner.ts";
import type { Call } from "./scripted_runner.ts";
import type { ProbeResult } from "./types.ts";

/** When each verdict change happened, as [time, probe healthy]. */
interface Timeline {
  clock: FakeClock;
  calls: Call[];
  flips: [number, boolean][];
  close(): Promise<void>;
}

/**
 * Endpoints probed with period 10 s, failureThreshold 3 (successThreshold as given) and the given transition
 * interval; `outcome(time, endpoint)` scripts the backend, `phase` the random source.
 */
function run(
  opts: {
    transition?: number;
    outcome: (at: number, endpoint: number, call: Call) => boolean | ProbeResult | undefined;
    endpoints?: number;
    seedHealthy?: boolean;
    successThreshold?: number;
    phase?: () => number;
  },
): Timeline {
  const clock = new FakeClock();
  const flips: [number, boolean][] = [];
  const runner = scriptedRunner(clock, (call) => opts.outcome(clock.t, Number(call.target.port), call));
  const s = createScheduler({
    runProbe: runner.run,
    onChange: (c: HealthChange) => flips.push([clock.t, c.probeHealthy!]),
    clock,
    random: opts.phase ?? (() => 0.5),
  });
  for (let i = 0; i < (opts.endpoints ?? 1); i++) {
    s.set(`ep-${i}`, {
      ip: "10.0.0.1",
      seedHealthy: opts.seedHealthy ?? true,
      probes: [probe("p", {
        port: i + 1,
        periodSeconds: 10,
        failureThreshold: 3,
        successThreshold: opts.successThreshold ?? 1,
        transitionPeriodSeconds: opts.transition,
      })],
    });
  }
  return { clock, calls: runner.calls, flips, close: () => s.close() };
}

const starts = (t: Timeline) => t.calls.map((c) => c.at);

Deno.test("transition: a backend failing at 12 s is withdrawn by the next run + 2 × 1 s, not 2 periods later", async () => {
  // Seeded healthy with phase 0.5: the grid is 5 s, 15 s, 25 s...; the backend refuses from 12 s on.
  const outcome = (at: number) => at < 12_000 ? true : REFUSED;
  const fast = run({ transition: 1, outcome });
  await fast.clock.advance(40_000);
  // First failing run at 15 s (the next slot), confirmed at 16 s and 17 s: 15 + 2 × 1.
  assert.deepEqual(fast.flips, [[17_000, false]]);
  // Then steadily dead: back on the grid, one run per period.
  assert.deepEqual(starts(fast), [5_000, 15_000, 16_000, 17_000, 25_000, 35_000]);
  await fast.close();

  const slow = run({ outcome });
  await slow.clock.advance(40_000);
  assert.deepEqual(slow.flips, [[35_000, false]]);
  assert.deepEqual(starts(slow), [5_000, 15_000, 25_000, 35_000]);
  await slow.close();
});

Deno.test("transition: with timeouts, re-checks start a transition interval after each run completed", async () => {
  // From 12 s on, the backend never answers: every run takes the 1 s timeout (no stall: each one counts).
  const t = run({
    transition: 1,
    outcome: (at, _ep, call) => {
      if (at < 12_000) return true;
      t.clock.setTimer(() => call.resolve(TIMED_OUT), 1_000);
    },
  });
  await t.clock.advance(40_000);
  // Runs at 15 (ends 16), 17 (ends 18), 19 (ends 20): withdrawn at 15 + 2 × 1 + 3 × 1 (timeouts).
  assert.deepEqual(t.flips, [[20_000, false]]);
  assert.deepEqual(starts(t), [5_000, 15_000, 17_000, 19_000, 25_000, 35_000]);
  await t.close();
});

Deno.test("transition: a flap that recovers returns to the normal grid", async () => {
  // One failed run at 15 s, fine again by the 16 s re-check.
  const t = run({ transition: 1, outcome: (at) => at !== 15_000 });
  await t.clock.advance(50_000);
  assert.deepEqual(t.flips, []);
  assert.deepEqual(starts(t), [5_000, 15_000, 16_000, 25_000, 35_000, 45_000]);
  await t.close();
});

Deno.test("transition: a new endpoint needing 3 successes is confirmed in 2 × 1 s, not 2 periods", async () => {
  // A new (unverified) endpoint starts within 1 s; phase 0 puts its first run and its grid at 0.
  const fast = run({
    transition: 1,
    seedHealthy: false,
    successThreshold: 3,
    phase: () => 0,
    outcome: () => true,
  });
  await fast.clock.advance(30_000);
  assert.deepEqual(fast.flips, [[2_000, true]]);
  assert.deepEqual(starts(fast), [0, 1_000, 2_000, 10_000, 20_000, 30_000]);
  await fast.close();

  const slow = run({ seedHealthy: false, successThreshold: 3, phase: () => 0, outcome: () => true });
  await slow.clock.advance(30_000);
  assert.deepEqual(slow.flips, [[20_000, true]]);
  await slow.close();
});

Deno.test("transition: the steady-state probe rate is unchanged, for healthy and for dead backends", async () => {
  let phase = 0;
  const spread = () => (phase = (phase + 0.37) % 1);
  const perMinute = async (transition: number | undefined, healthy: boolean) => {
    const t = run({ transition, endpoints: 20, seedHealthy: healthy, phase: spread, outcome: () => healthy });
    await t.clock.advance(10_000); // past every first run
    const before = t.calls.length;
    await t.clock.advance(60_000);
    await t.close();
    return t.calls.length - before;
  };
  for (const healthy of [true, false]) {
    assert.equal(await perMinute(undefined, healthy), 120);
    assert.equal(await perMinute(1, healthy), 120, `healthy=${healthy}`);
  }
});

Deno.test("transition: an interval not shorter than the period is off", async () => {
  const t = run({ transition: 10, outcome: (at) => at < 12_000 });
  await t.clock.advance(40_000);
  assert.deepEqual(t.flips, [[35_000, false]]);
  await t.close();
});
