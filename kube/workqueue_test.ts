/** Unit tests of the work queue: de-duplication, no concurrent runs of one key, delays and backoff. */
import { deepStrictEqual, ok } from "node:assert";
import { WorkQueue } from "./workqueue.ts";
import { waitFor } from "../tests/support/wait.ts";

/** Runs the queue with `handler` until `until` resolves, then stops it. */
async function drive(
  queue: WorkQueue,
  handler: (key: string) => Promise<{ requeueAfterMs?: number }>,
  until: () => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const running = queue.run((key) => handler(key), stop.signal);
  try {
    await until();
  } finally {
    stop.abort();
    await running;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

Deno.test("a key added many times before it runs runs once", async () => {
  const queue = new WorkQueue();
  const runs: string[] = [];
  for (let i = 0; i < 5; i++) queue.add("a");
  queue.add("b");
  await drive(queue, (key) => {
    runs.push(key);
    return Promise.resolve({});
  }, () => queue.idle());
  deepStrictEqual(runs.sort(), ["a", "b"]);
});

Deno.test("a key is never handled twice at once; added while running, it runs again afterwards", async () => {
  const queue = new WorkQueue({ concurrency: 4 });
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  const gate = deferred();
  const firstStarted = deferred();
  queue.add("k");
  await drive(queue, async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    runs++;
    if (runs === 1) {
      firstStarted.resolve();
      await gate.promise;
    }
    active--;
    return {};
  }, async () => {
    await firstStarted.promise;
    queue.add("k");
    queue.add("k");
    gate.resolve();
    await waitFor(() => runs >= 2, { what: "two runs" });
    await queue.idle();
  });
  deepStrictEqual({ runs, maxActive }, { runs: 2, maxActive: 1 });
});

Deno.test("delayed requeue runs after the delay; an earlier add wins", async () => {
  const queue = new WorkQueue();
  const times: number[] = [];
  const start = Date.now();
  queue.add("k", 300);
  queue.add("k", 50);
  await drive(queue, () => {
    times.push(Date.now() - start);
    return Promise.resolve({});
  }, async () => {
    await waitFor(() => times.length >= 1, { what: "a first run" });
  });
  ok(times[0] >= 45 && times[0] < 280, `ran after ${times[0]} ms`);
});

Deno.test("handler asking for requeueAfterMs runs again", async () => {
  const queue = new WorkQueue();
  let runs = 0;
  queue.add("k");
  await drive(queue, () => {
    runs++;
    return Promise.resolve(runs < 3 ? { requeueAfterMs: 10 } : {});
  }, async () => {
    await waitFor(() => runs >= 3, { what: "three runs" });
  });
  deepStrictEqual(runs, 3);
});

Deno.test("failures back off exponentially and reset on success; other keys are unaffected", async () => {
  const errors: number[] = [];
  const queue = new WorkQueue({
    backoffInitialMs: 20,
    backoffMaxMs: 1000,
    onError: (_k, _e, ms) => errors.push(ms),
  });
  let badRuns = 0;
  let goodRuns = 0;
  queue.add("bad");
  queue.add("good");
  await drive(queue, (key) => {
    if (key === "good") {
      goodRuns++;
      return Promise.resolve({});
    }
    badRuns++;
    if (badRuns <= 3) return Promise.reject(new Error("boom"));
    return Promise.resolve({});
  }, async () => {
    await waitFor(() => badRuns >= 4, { what: "four failing runs" });
  });
  deepStrictEqual(goodRuns, 1);
  deepStrictEqual(errors.length, 3);
  ok(errors[0] >= 16 && errors[0] <= 24, `first delay ${errors[0]}`);
  ok(errors[2] >= 64 && errors[2] <= 96, `third delay ${errors[2]}`);
  deepStrictEqual(queue.failures("bad"), 0);
});

Deno.test("backoff is capped", () => {
  const queue = new WorkQueue({ backoffInitialMs: 100, backoffMaxMs: 1000 });
  ok(queue.backoffDelay(50) <= 1200);
  ok(queue.backoffDelay(50) >= 800);
});

Deno.test("concurrency bounds the keys handled at once", async () => {
  const queue = new WorkQueue({ concurrency: 2 });
  let active = 0;
  let maxActive = 0;
  let done = 0;
  for (let i = 0; i < 10; i++) queue.add(`k${i}`);
  await drive(queue, async () => {
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise((r) => setTimeout(r, 5));
    active--;
    done++;
    return {};
  }, async () => {
    await waitFor(() => done >= 10, { what: "ten keys done" });
  });
  deepStrictEqual(maxActive, 2);
});

Deno.test("urgent keys run before the backlog, FIFO among themselves, and keep urgency while running", async () => {
  const queue = new WorkQueue({ concurrency: 1 });
  const runs: string[] = [];
  for (const key of ["a", "b", "c"]) queue.add(key);
  queue.add("u1", 0, { urgent: true });
  queue.add("b", 0, { urgent: true }); // already waiting: becomes urgent, after u1
  queue.add("u2", 0, { urgent: true });
  deepStrictEqual(queue.urgentReady, 3);
  await drive(queue, (key) => {
    runs.push(key);
    if (key === "u1" && runs.length === 1) queue.add("u1", 0, { urgent: true }); // again, while running
    return Promise.resolve({});
  }, () => queue.idle());
  deepStrictEqual(runs, ["u1", "b", "u2", "u1", "a", "c"]);
  deepStrictEqual(queue.urgentReady, 0);
});
