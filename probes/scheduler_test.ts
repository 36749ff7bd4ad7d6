/** Deterministic scheduler tests on a fake clock and a scripted probe runner. */
import assert from "node:assert/strict";
import { createScheduler } from "./scheduler.ts";
import type { HealthChange, ProbeCompletion } from "./scheduler.ts";
import { FakeClock } from "./fake_clock.ts";
import { probe, scriptedRunner } from "./scripted_runner.ts";

const sequence = (...values: number[]) => () => values.shift() ?? 0;

Deno.test("scheduler: each target keeps its phase on a fixed grid, with no drift from slow probes", async () => {
  const clock = new FakeClock();
  // Every probe takes 300 ms of (fake) time: completion must not push the next start.
  const runner = scriptedRunner(clock, (call) => void clock.setTimer(() => call.resolve(true), 300));
  const s = createScheduler({
    runProbe: runner.run,
    onChange: () => {},
    clock,
    random: sequence(0.1, 0.537, 0.9),
  });
  s.set("a", { ip: "10.0.0.1", probes: [probe("p")] });
  s.set("b", { ip: "10.0.0.2", probes: [probe("p")] });
  s.set("c", { ip: "10.0.0.3", probes: [probe("p")] });
  await clock.advance(5_000);
  const starts = (ip: string) => runner.calls.filter((c) => c.target.ip === ip).map((c) => c.at);
  // New endpoints run promptly at their random phase, then their grid joins the nearest 100 ms phase slot.
  assert.deepEqual(starts("10.0.0.1"), [100, 1100, 2100, 3100, 4100]);
  assert.deepEqual(starts("10.0.0.2"), [537, 1500, 2500, 3500, 4500]);
  assert.deepEqual(starts("10.0.0.3"), [900, 1900, 2900, 3900, 4900]);
  await s.close();
});

Deno.test("scheduler: targets of one period share wake-ups on ten phase slots, each still probed once a period", async () => {
  const clock = new FakeClock(); // starts at 0, a slot boundary
  const runner = scriptedRunner(clock, () => true);
  let seed = 7;
  // A fixed pseudo-random sequence: phases anywhere in the period, as Math.random gives them.
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const s = createScheduler({ runProbe: runner.run, onChange: () => {}, clock, random });
  for (let i = 0; i < 100; i++) {
    s.set(`e${i}`, {
      ip: `10.0.${i >> 8}.${i & 255}`,
      seedHealthy: true,
      probes: [probe("p", { periodSeconds: 10 })],
    });
  }
  await clock.advance(30_000);
  const starts = runner.calls.map((c) => c.at);
  // Every endpoint three times (one per period), at no more than ten distinct times a period, each on a 1 s slot.
  assert.equal(starts.length, 300);
  const distinct = new Set(starts);
  assert.ok(distinct.size <= 30, `woken at ${distinct.size} distinct times`);
  for (const at of distinct) assert.equal(at % 1000, 0, `a start at ${at} ms is not on a slot`);
  for (let i = 0; i < 100; i++) {
    const own = runner.calls.filter((c) => c.target.ip === `10.0.${i >> 8}.${i & 255}`).map((c) => c.at);
    assert.deepEqual([own[1] - own[0], own[2] - own[1]], [10_000, 10_000]);
  }
  await s.close();
});

Deno.test("scheduler: a run still in flight skips its next slot instead of overlapping", async () => {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock, (call) => void clock.setTimer(() => call.resolve(true), 2_500));
  const s = createScheduler({ runProbe: runner.run, onChange: () => {}, clock, random: () => 0 });
  s.set("a", { ip: "10.0.0.1", probes: [probe("p")] });
  await clock.advance(6_500);
  assert.deepEqual(runner.calls.map((c) => c.at), [0, 3000, 6000]);
  assert.equal(s.stats().skipped, 4);
  await s.close();
});

Deno.test("scheduler: the concurrency cap queues due probes in order and reports their lateness", async () => {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock, (call) => void clock.setTimer(() => call.resolve(true), 100));
  const done: ProbeCompletion[] = [];
  const s = createScheduler({
    runProbe: runner.run,
    onChange: () => {},
    onResult: (c) => done.push(c),
    clock,
    random: () => 0,
    maxConcurrent: 2,
  });
  for (const e of ["a", "b", "c", "d", "e"]) {
    s.set(e, { ip: `10.0.0.${e.charCodeAt(0) - 96}`, probes: [probe("p")] });
  }
  await clock.advance(0);
  assert.equal(s.stats().inFlight, 2);
  assert.equal(s.stats().queued, 3);
  await clock.advance(500);
  assert.deepEqual(runner.calls.map((c) => c.at), [0, 0, 100, 100, 200]);
  assert.deepEqual(done.map((c) => c.latenessMs), [0, 0, 100, 100, 200]);
  await s.close();
});

Deno.test("scheduler: emits only changes, honouring thresholds, and ANDs an endpoint's probes", async () => {
  const clock = new FakeClock();
  const script: Record<string, boolean[]> = {
    "10.0.0.1:1": [true, true, false, false, true],
    "10.0.0.1:2": [false, true, true, true, true],
  };
  const runner = scriptedRunner(clock, (call) => script[`${call.target.ip}:${call.target.port}`].shift());
  const changes: HealthChange[] = [];
  const s = createScheduler({
    runProbe: runner.run,
    onChange: (c) => changes.push(c),
    clock,
    random: () => 0,
  });
  s.set("pod-a", {
    ip: "10.0.0.1",
    probes: [probe("one", { port: 1, failureThreshold: 2 }), probe("two", { port: 2, successThreshold: 2 })],
  });
  await clock.advance(4_500);
  const summary = changes.map((
    c,
  ) => [clock.t, c.probe, c.probeHealthy, c.endpointHealthy, c.endpointChanged]);
  assert.deepEqual(summary.map((x) => x.slice(1)), [
    ["one", true, false, false], // t=0: one passes; two failed -> endpoint still down
    ["two", true, true, true], // t=2000: two's second success -> endpoint up
    ["one", false, false, true], // t=3000: one's second failure -> endpoint down
    ["one", true, true, true], // t=4000
  ]);
  assert.deepEqual(changes[2].failingProbes, ["one"]);
  assert.equal(s.health("pod-a")?.healthy, true);
  await s.close();
});

Deno.test("scheduler: a seeded endpoint starts healthy and a new one waits for its initial delay", async () => {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock, () => false);
  const changes: HealthChange[] = [];
  const s = createScheduler({
    runProbe: runner.run,
    onChange: (c) => changes.push(c),
    clock,
    random: () => 0.5,
  });
  s.set("adopted", {
    ip: "10.0.0.1",
    seedHealthy: true,
    probes: [probe("p", { periodSeconds: 10, initialDelaySeconds: 30 })],
  });
  s.set("fresh", { ip: "10.0.0.2", probes: [probe("p", { periodSeconds: 10, initialDelaySeconds: 3 })] });
  assert.equal(s.health("adopted")?.healthy, true);
  assert.equal(s.health("fresh")?.healthy, false);
  await clock.advance(10_000);
  // Seeded: random phase over the whole period, no initial delay. Fresh: delay + phase within 1 s.
  assert.deepEqual(runner.calls.map((c) => [c.target.ip, c.at]), [["10.0.0.2", 3500], ["10.0.0.1", 5000]]);
  assert.deepEqual(changes.map((c) => [c.endpoint, c.endpointHealthy, c.endpointChanged]), [[
    "adopted",
    false,
    true,
  ]]);
  await s.close();
});

Deno.test("scheduler: removing an endpoint aborts its in-flight probe and drops the result", async () => {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock); // never resolves on its own
  const changes: HealthChange[] = [];
  const s = createScheduler({
    runProbe: runner.run,
    onChange: (c) => changes.push(c),
    clock,
    random: () => 0,
  });
  s.set("a", { ip: "10.0.0.1", probes: [probe("p")] });
  await clock.advance(10);
  assert.equal(runner.calls.length, 1);
  assert.equal(runner.calls[0].signal.aborted, false);
  s.remove("a");
  assert.equal(runner.calls[0].signal.aborted, true);
  await clock.advance(5_000);
  assert.equal(runner.calls.length, 1, "a removed endpoint was probed again");
  assert.equal(s.stats().inFlight, 0);
  assert.equal(s.stats().targets, 0);
  assert.equal(changes.length, 0);
  assert.equal(s.health("a"), undefined);
  await s.close();
});

Deno.test("scheduler: updating an endpoint keeps, reseeds or adds probe state as the change requires", async () => {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock, (call) => call.target.port !== 9);
  const changes: HealthChange[] = [];
  const s = createScheduler({
    runProbe: runner.run,
    onChange: (c) => changes.push(c),
    clock,
    random: () => 0,
  });
  s.set("a", { ip: "10.0.0.1", probes: [probe("p")] });
  await clock.advance(100);
  assert.equal(s.health("a")?.healthy, true);
  // Only the period changed: state kept, no change event.
  s.set("a", { ip: "10.0.0.1", probes: [probe("p", { periodSeconds: 5 })] });
  assert.equal(s.health("a")?.probes.p.healthy, true);
  // Definition changed: the verdict carries over as a seed.
  s.set("a", { ip: "10.0.0.1", probes: [probe("p", { port: 81 })] });
  assert.equal(s.health("a")?.healthy, true);
  assert.equal(changes.length, 1);
  // A new probe has verified nothing: endpoint goes down, reported as an endpoint-level change.
  s.set("a", { ip: "10.0.0.1", probes: [probe("p", { port: 81 }), probe("q", { port: 9 })] });
  assert.equal(s.health("a")?.healthy, false);
  assert.deepEqual(changes.at(-1), {
    endpoint: "a",
    endpointHealthy: false,
    endpointChanged: true,
    failingProbes: ["q"],
  });
  // Removing the failing probe brings it back.
  s.set("a", { ip: "10.0.0.1", probes: [probe("p", { port: 81 })] });
  assert.equal(changes.at(-1)?.endpointHealthy, true);
  // A new IP under the same key starts over.
  s.set("a", { ip: "10.0.0.9", probes: [probe("p", { port: 81 })] });
  assert.equal(s.health("a")?.healthy, false);
  await s.close();
});

Deno.test("scheduler: an edited probe keeps its verdict and runs under the new definition within a second", async () => {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock, () => true);
  const s = createScheduler({ runProbe: runner.run, onChange: () => {}, clock, random: () => 0.99 });
  s.set("a", { ip: "10.0.0.1", probes: [probe("p", { periodSeconds: 10 })] });
  await clock.advance(1_000);
  assert.equal(s.health("a")?.healthy, true);
  const editedAt = clock.now();
  s.set("a", { ip: "10.0.0.1", probes: [probe("p", { periodSeconds: 10, port: 81 })] });
  assert.equal(s.health("a")?.healthy, true, "no withdrawal for an edit");
  await clock.advance(1_000);
  const first = runner.calls.find((c) => c.target.port === 81);
  assert.ok(first && first.at - editedAt <= 1_000, `first run of the new definition at ${first?.at}`);
  await s.close();
});

Deno.test("scheduler: a throwing runner or callback does not stop scheduling", async () => {
  const clock = new FakeClock();
  let n = 0;
  const s = createScheduler({
    runProbe: () => {
      n++;
      return Promise.reject(new Error("runner bug"));
    },
    onChange: () => {
      throw new Error("callback bug");
    },
    clock,
    random: () => 0,
  });
  s.set("a", { ip: "10.0.0.1", seedHealthy: true, probes: [probe("p")] });
  const originalError = console.error;
  console.error = () => {};
  try {
    await clock.advance(3_500);
  } finally {
    console.error = originalError;
  }
  assert.equal(n, 4);
  assert.equal(s.health("a")?.probes.p.last?.reason, "internal error: Error: runner bug");
  await s.close();
});

Deno.test("scheduler: falling behind more than a period skips missed slots instead of bursting", async () => {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock, () => true);
  const s = createScheduler({ runProbe: runner.run, onChange: () => {}, clock, random: () => 0 });
  s.set("a", { ip: "10.0.0.1", probes: [probe("p")] });
  await clock.advance(0);
  // A stalled event loop: time jumps 3.5 s with no timer fired.
  await clock.stall(3_500);
  await clock.advance(1_000);
  assert.deepEqual(runner.calls.map((c) => c.at), [0, 3500, 4000]);
  await s.close();
});

Deno.test("scheduler: re-setting an identical config mid-probe keeps the in-flight result", async () => {
  const clock = new FakeClock();
  const runner = scriptedRunner(clock);
  const s = createScheduler({ runProbe: runner.run, onChange: () => {}, clock, random: () => 0 });
  s.set("a", { ip: "10.0.0.1", probes: [probe("p")] });
  await clock.advance(0);
  assert.equal(runner.calls.length, 1);
  // The agent rebuilds configs on every reconcile: equal content, new objects.
  s.set("a", { ip: "10.0.0.1", probes: [probe("p")] });
  assert.equal(runner.calls[0].signal.aborted, false);
  runner.calls[0].resolve(true);
  await clock.advance(0);
  assert.equal(s.health("a")?.healthy, true);
  await s.close();
});
