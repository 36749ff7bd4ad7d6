/** Lag monitor tests: stalls on the fake clock, then the real event loop blocked by a busy loop. */
import assert from "node:assert/strict";
import { startLagMonitor } from "./lag.ts";
import { FakeClock } from "./fake_clock.ts";
import { blockEventLoop, waitFor } from "./testing.ts";

Deno.test("lag: ticks on time record no stall and report zero lag", async () => {
  const clock = new FakeClock();
  const samples: number[] = [];
  const monitor = startLagMonitor({ clock, onSample: (ms) => samples.push(ms) });
  await clock.advance(1_000);
  assert.deepEqual(samples, Array(10).fill(0));
  assert.deepEqual(monitor.observed(0, 1_000), { stalledMs: 0, maxMs: 0 });
  assert.deepEqual(monitor.stats(), { lastMs: 0, maxMs: 0, windowMs: 10_000, ticks: 10 });
  monitor.stop();
});

Deno.test("lag: a stall is measured from the tick that was due inside it", async () => {
  const clock = new FakeClock();
  const samples: number[] = [];
  const monitor = startLagMonitor({ clock, onSample: (ms) => samples.push(ms) });
  await clock.advance(50);
  await clock.stall(1_450); // tick due at 100 fires at 1,500
  await clock.advance(500);
  assert.deepEqual(samples, [1_400, 0, 0, 0, 0, 0]);
  // The whole stall, part of it, and windows beside it.
  assert.deepEqual(monitor.observed(0, 2_000), { stalledMs: 1_400, maxMs: 1_400 });
  assert.deepEqual(monitor.observed(1_000, 1_200), { stalledMs: 200, maxMs: 1_400 });
  assert.deepEqual(monitor.observed(1_500, 2_000), { stalledMs: 0, maxMs: 0 });
  assert.deepEqual(monitor.observed(0, 100), { stalledMs: 0, maxMs: 0 });
  assert.equal(monitor.stats().maxMs, 1_400);
  assert.equal(monitor.stats().lastMs, 0);
  // Ten seconds later the stall has left the stats window but not the history.
  await clock.advance(10_000);
  assert.equal(monitor.stats().maxMs, 0);
  assert.equal(monitor.observed(0, 2_000).stalledMs, 1_400);
  monitor.stop();
});

Deno.test("lag: a stall still in progress counts before the late tick fires", () => {
  const clock = new FakeClock();
  const monitor = startLagMonitor({ clock });
  clock.t = 800; // time moved, the tick due at 100 has not fired: the loop is still stuck
  assert.deepEqual(monitor.observed(0, 800), { stalledMs: 700, maxMs: 700 });
  assert.equal(monitor.observed(500, 600).stalledMs, 100);
  assert.equal(monitor.stats().lastMs, 700);
  monitor.stop();
  // A stopped monitor has no tick in progress, so nothing is "stalled" any more.
  assert.equal(monitor.observed(0, 800).stalledMs, 0);
});

Deno.test("lag: several stalls in a window add up; the ring keeps the newest", async () => {
  const clock = new FakeClock();
  const monitor = startLagMonitor({ clock, capacity: 3 });
  // Each tick is due 100 ms after the previous one fired and fires 200 ms late.
  for (let i = 0; i < 5; i++) await clock.stall(300);
  // Stalls: [100,300], [400,600], [700,900], [1000,1200], [1300,1500]; the ring holds the last three.
  assert.deepEqual(monitor.observed(0, 1_500), { stalledMs: 600, maxMs: 200 });
  assert.deepEqual(monitor.observed(800, 1_100), { stalledMs: 200, maxMs: 200 });
  monitor.stop();
});

Deno.test("lag: stop clears the timer; a throwing onSample does not stop the ticks", async () => {
  const clock = new FakeClock();
  let n = 0;
  const monitor = startLagMonitor({
    clock,
    onSample: () => {
      n++;
      throw new Error("metrics bug");
    },
  });
  const originalError = console.error;
  console.error = () => {};
  try {
    await clock.advance(500);
  } finally {
    console.error = originalError;
  }
  assert.equal(n, 5);
  assert.equal(clock.pendingTimers, 1);
  monitor.stop();
  monitor.stop();
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(500);
  assert.equal(n, 5);
});

Deno.test("lag: the real event loop blocked by a busy loop shows as a stall of about that length", async () => {
  const monitor = startLagMonitor();
  try {
    const t0 = performance.now();
    blockEventLoop(400);
    const t1 = performance.now();
    // Before any tick could fire, the stall in progress is already visible...
    assert.ok(monitor.observed(t0, t1).stalledMs >= 250, JSON.stringify(monitor.observed(t0, t1)));
    // ... and once the late tick fired, it is in the history.
    await waitFor("the late tick", () => monitor.stats().ticks >= 1, 2_000);
    const seen = monitor.observed(t0, performance.now());
    // The first tick was due 100 ms after start: the stall is seen from there, so ~300 of the 400 ms (more when
    // a loaded machine also deschedules this process, which is a stall too).
    assert.ok(seen.stalledMs >= 250 && seen.stalledMs < 1_000, JSON.stringify(seen));
    assert.ok(monitor.stats().maxMs >= 250, JSON.stringify(monitor.stats()));
  } finally {
    monitor.stop();
  }
});

Deno.test("lag: a running monitor does not keep the process alive", async () => {
  const lag = new URL("./lag.ts", import.meta.url).href;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", `import { startLagMonitor } from "${lag}"; startLagMonitor(); console.log("started");`],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  try {
    const out = await child.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "started");
  } finally {
    clearTimeout(timer);
  }
});

Deno.test("lag: an on-demand monitor ticks only while held, and measures a stall inside a hold", async () => {
  const clock = new FakeClock();
  const samples: number[] = [];
  const monitor = startLagMonitor({ clock, onSample: (ms) => samples.push(ms), onDemand: true });
  await clock.advance(1_000);
  assert.deepEqual(samples, [], "no ticks while nobody holds it");
  const releaseA = monitor.hold();
  const releaseB = monitor.hold(); // holds nest
  await clock.advance(250);
  assert.deepEqual(samples, [0, 0]);
  releaseA();
  releaseA(); // a second release of one hold is ignored
  await clock.stall(1_000); // the tick due at 1,300 fires at 2,250
  assert.deepEqual(monitor.observed(1_000, 2_250), { stalledMs: 950, maxMs: 950 });
  releaseB();
  const ticks = monitor.stats().ticks;
  await clock.advance(1_000);
  assert.equal(monitor.stats().ticks, ticks, "released: no more ticks");
  assert.equal(monitor.stats().lastMs, 950, "the last sample stays");
  assert.deepEqual(monitor.observed(2_250, 3_250), { stalledMs: 0, maxMs: 0 }, "no stall while idle");
  // A new hold starts a fresh interval: the idle second is no stall.
  const releaseC = monitor.hold();
  await clock.advance(100);
  assert.equal(samples.at(-1), 0);
  releaseC();
  monitor.stop();
});
