/** Scheduler tests of inconclusive results (timeouts while the agent itself stalled), on the fake clock. */
import assert from "node:assert/strict";
import { createScheduler, isInconclusive, lagThresholdMs } from "./scheduler.ts";
import type { HealthChange, ProbeCompletion } from "./scheduler.ts";
import { FakeClock } from "./fake_clock.ts";
import { probe, REFUSED, scriptedRunner, TIMED_OUT } from "./scripted_runner.ts";
import type { ProbeResult } from "./types.ts";

type Outcome = NonNullable<Parameters<typeof scriptedRunner>[1]>;

/**
 * A scheduler on a fake clock with every callback recorded; the endpoint `a` starts healthy (seeded) and its
 * runs end as `outcome(clock)` says.
 */
function setup(outcome: (clock: FakeClock) => Outcome, periodSeconds = 10) {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock, outcome(clock));
  const changes: HealthChange[] = [];
  const done: ProbeCompletion[] = [];
  const s = createScheduler({
    runProbe: runner.run,
    onChange: (c) => changes.push(c),
    onResult: (c) => done.push(c),
    clock,
    random: () => 0,
  });
  // failureThreshold 1: one counted failure would withdraw the endpoint.
  s.set("a", { ip: "10.0.0.1", seedHealthy: true, probes: [probe("p", { periodSeconds })] });
  return { clock, runner, changes, done, s };
}

/** The target never answers: each run ends with the deadline, 1 s (fake) after it started. */
const neverAnswers = (clock: FakeClock): Outcome => (call) =>
  void clock.setTimer(() => call.resolve(TIMED_OUT), 1_000);

/** Every run ends at once with `result`. */
const always = (result: () => boolean | ProbeResult) => (): Outcome => () => result();

Deno.test("scheduler: the lag threshold is a quarter of the timeout, at least 100 ms", () => {
  assert.equal(lagThresholdMs(1), 250);
  assert.equal(lagThresholdMs(10), 2_500);
  assert.equal(lagThresholdMs(0.2), 100);
  assert.equal(lagThresholdMs(Number.NaN), 250);
  assert.equal(isInconclusive(TIMED_OUT, 1, 250), true);
  assert.equal(isInconclusive(TIMED_OUT, 1, 249), false);
  assert.equal(isInconclusive({ ...TIMED_OUT, deadlineLateMs: 250 }, 1, 0), true);
  assert.equal(isInconclusive(REFUSED, 1, 10_000), false);
});

Deno.test("scheduler: a timeout while the agent stalled is inconclusive and retried in 1 s; one without a stall counts", async () => {
  const t = setup(neverAnswers);
  const clock = t.clock;
  await clock.advance(0);
  assert.equal(t.runner.calls.length, 1);
  // The agent is blocked through the deadline: the lag monitor's tick and the deadline both fire 1.4 s late.
  await clock.stall(1_500);
  assert.equal(t.done.length, 1);
  assert.equal(t.done[0].inconclusive, true);
  assert.equal(t.done[0].result.reason, "timeout after 1s (connect)");
  assert.equal(t.done[0].stalledMs, 1_400);
  assert.equal(t.done[0].previous, undefined);
  assert.equal(t.changes.length, 0, "an inconclusive result changed the verdict");
  assert.equal(t.s.health("a")?.healthy, true);
  assert.equal(t.s.health("a")?.probes.p.failures, 0);
  assert.equal(t.s.health("a")?.probes.p.last, undefined, "an inconclusive result became the last result");
  assert.equal(t.s.stats().inconclusive, 1);
  // Retried min(period, 1 s) after the inconclusive result instead of at the next slot (10 s).
  await clock.advance(1_000);
  assert.deepEqual(t.runner.calls.map((c) => c.at), [0, 2_500]);
  // No stall this time: the same timeout is evidence against the target and withdraws it.
  await clock.advance(1_000);
  assert.equal(t.done[1].inconclusive, false);
  assert.equal(t.done[1].stalledMs, 0);
  assert.deepEqual(t.changes.map((c) => [clock.t, c.probeHealthy, c.endpointChanged]), [[
    3_500,
    false,
    true,
  ]]);
  assert.equal(t.s.stats().inconclusive, 1);
  // Back on the grid: the next run is the 10 s slot.
  await clock.advance(10_000);
  assert.deepEqual(t.runner.calls.map((c) => c.at), [0, 2_500, 10_000]);
  await t.s.close();
});

Deno.test("scheduler: an answer from the target counts whatever the lag", async () => {
  // Connection refused 50 ms after the start, but the agent only sees it after a 1.5 s stall.
  const t = setup((clock) => (call) => void clock.setTimer(() => call.resolve(REFUSED), 50));
  const clock = t.clock;
  await clock.advance(0);
  await clock.stall(1_500);
  assert.equal(t.done.length, 1);
  assert.equal(t.done[0].inconclusive, false);
  assert.equal(t.done[0].stalledMs, undefined, "lag is only looked up for timeouts");
  assert.deepEqual(t.changes.map((c) => c.probeHealthy), [false]);
  assert.equal(t.s.stats().inconclusive, 0);
  await t.s.close();
});

Deno.test("scheduler: a timeout counts unless the agent lost a quarter of the timeout (250 ms of 1 s)", async () => {
  for (const [stall, inconclusive] of [[300, false], [350, true]] as const) {
    const t = setup(neverAnswers);
    const clock = t.clock;
    await clock.advance(500); // a lag tick fired at 500 on time; the next is due at 600
    await clock.stall(stall); // ... and fires stall - 100 ms late
    await clock.advance(1_000 - clock.t); // the deadline at 1,000, on time
    assert.equal(t.done[0].stalledMs, stall - 100);
    assert.equal(t.done[0].inconclusive, inconclusive, `stall of ${stall - 100} ms`);
    assert.equal(t.s.health("a")?.healthy, inconclusive);
    await t.s.close();
  }
});

Deno.test("scheduler: a deadline that fired late is inconclusive even between lag ticks", async () => {
  for (const [late, inconclusive] of [[300, true], [100, false]] as const) {
    const t = setup(always(() => ({ ...TIMED_OUT, deadlineLateMs: late })));
    await t.clock.advance(0);
    assert.equal(t.done[0].stalledMs, 0);
    assert.equal(t.done[0].inconclusive, inconclusive, `deadline late by ${late} ms`);
    assert.equal(t.s.health("a")?.healthy, inconclusive);
    await t.s.close();
  }
});

Deno.test("scheduler: inconclusive retries back off while the stall lasts, up to the period", async () => {
  // Sustained overload: every result is a timeout whose deadline fired a whole second late.
  const t = setup(always(() => ({ ...TIMED_OUT, deadlineLateMs: 1_000 })), 30);
  await t.clock.advance(95_000);
  // Retries 1, 2, 4, 8 s after each result, then the grid (16 s would pass the 30 s slot), then every period.
  assert.deepEqual(t.runner.calls.map((c) => c.at), [0, 1_000, 3_000, 7_000, 15_000, 30_000, 60_000, 90_000]);
  assert.equal(t.s.stats().inconclusive, 8);
  assert.equal(t.s.health("a")?.healthy, true);
  assert.equal(t.changes.length, 0);
  await t.s.close();
});

Deno.test("scheduler: the previous result handed to onResult is the last counted one", async () => {
  let n = 0;
  const t = setup(always(() => [true, { ...TIMED_OUT, deadlineLateMs: 1_000 }, false][n++ % 3]), 1);
  await t.clock.advance(2_000);
  assert.deepEqual(t.done.map((c) => [c.result.reason, c.previous?.reason, c.inconclusive]), [
    ["fine", undefined, false],
    ["timeout after 1s (connect)", "fine", true],
    ["broken", "fine", false],
  ]);
  await t.s.close();
});
