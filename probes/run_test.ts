/** Dispatch tests of runProbe, and the scheduler on the real clock with real sockets. */
import assert from "node:assert/strict";
import { runProbe } from "./run.ts";
import { createScheduler } from "./scheduler.ts";
import type { HealthChange, ProbeCompletion } from "./scheduler.ts";
import {
  blockEventLoop,
  guardProcess,
  respond,
  startBlackHole,
  startRawHttpServer,
  startSilentListener,
  waitFor,
} from "./testing.ts";
import type { ProbeRunner, ProbeSpec } from "./types.ts";

const common = { timeoutSeconds: 1, successThreshold: 1, failureThreshold: 1 };

Deno.test("run: dispatches by mode and turns broken specs into failures", async () => {
  using guard = guardProcess();
  await using srv = await startRawHttpServer((_req, socket) => respond(socket, 204));
  const target = { ip: "127.0.0.1", port: srv.port };
  assert.equal((await runProbe(target, { mode: "TCP", ...common })).reason, "connected");
  const http = await runProbe(target, {
    mode: "HTTP",
    ...common,
    http: { path: "/", method: "GET", scheme: "HTTP" },
  });
  assert.equal(http.reason, "HTTP 204");
  const broken = [
    { mode: "HTTP", ...common },
    { mode: "PostgreSQL", ...common },
    { mode: "UDP", ...common },
  ] as unknown as ProbeSpec[];
  for (const spec of broken) {
    const r = await runProbe(target, spec);
    assert.equal(r.ok, false);
    assert.match(r.reason, /^invalid probe: mode ".*" without its settings block$/);
  }
  guard.assertClean();
});

Deno.test("run: the real-clock scheduler reports a listener going away and coming back", async () => {
  using guard = guardProcess();
  const changes: HealthChange[] = [];
  const scheduler = createScheduler({ runProbe, onChange: (c) => changes.push(c) });
  let listener: Deno.Listener | undefined = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  try {
    scheduler.set("pod", {
      ip: "127.0.0.1",
      probes: [{
        name: "tcp",
        port,
        spec: { mode: "TCP", ...common },
        periodSeconds: 0.05,
        initialDelaySeconds: 0,
      }],
    });
    await waitFor("endpoint healthy", () => scheduler.health("pod")?.healthy === true, 3000);
    listener.close();
    listener = undefined;
    await waitFor("endpoint unhealthy", () => scheduler.health("pod")?.healthy === false, 3000);
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    await waitFor("endpoint healthy again", () => scheduler.health("pod")?.healthy === true, 3000);
    assert.deepEqual(changes.map((c) => c.endpointHealthy), [true, false, true]);
  } finally {
    listener?.close();
    await scheduler.close();
  }
  guard.assertClean();
});

Deno.test("run: a healthy server is not failed when this process was blocked through the probe's deadline", async () => {
  using guard = guardProcess();
  // Healthy: answers every request 20 ms after it arrives.
  await using srv = await startRawHttpServer((_req, socket) =>
    void setTimeout(() => respond(socket, 200), 20)
  );
  const changes: HealthChange[] = [];
  const done: ProbeCompletion[] = [];
  let blocked = 0;
  // The first probe is started, then the event loop is blocked for 1.5 s: longer than the 1 s timeout. The block
  // comes a timer turn later, once the probe (its module loaded by the warm-up below) has armed its deadline.
  const blockingRun: ProbeRunner = (target, spec, signal) => {
    const pending = runProbe(target, spec, signal);
    if (blocked++ === 0) setTimeout(() => blockEventLoop(1_500), 0);
    return pending;
  };
  const scheduler = createScheduler({
    runProbe: blockingRun,
    onChange: (c) => changes.push(c),
    onResult: (c) => done.push(c),
    random: () => 0,
  });
  try {
    // The HTTP probe's module is loaded on first use (probes/run.ts): load it before the measured probe.
    await runProbe({ ip: "127.0.0.1", port: srv.port }, {
      mode: "HTTP",
      ...common,
      http: { path: "/", method: "GET", scheme: "HTTP" },
    });
    scheduler.set("pod", {
      ip: "127.0.0.1",
      seedHealthy: true,
      probes: [{
        name: "http",
        port: srv.port,
        // failureThreshold 1: one counted timeout would withdraw the endpoint.
        spec: { mode: "HTTP", ...common, http: { path: "/", method: "GET", scheme: "HTTP" } },
        periodSeconds: 10,
        initialDelaySeconds: 0,
      }],
    });
    await waitFor("the retry after the blocked probe", () => done.length >= 2, 5_000);
    const [first, retry] = done;
    // The phase it hung in depends on which callbacks ran first after the block; the reason text is unchanged.
    assert.match(first.result.reason, /^timeout after 1s \((connect|request|response headers)\)$/);
    assert.equal(first.result.timedOut, true);
    assert.equal(first.inconclusive, true);
    assert.ok(first.stalledMs! >= 1_000, `stalled ${first.stalledMs} ms`);
    assert.ok(first.result.deadlineLateMs! >= 250, `deadline late by ${first.result.deadlineLateMs} ms`);
    // Retried within about a second instead of at the next 10 s slot, and the server answers.
    assert.equal(retry.inconclusive, false);
    assert.equal(retry.result.reason, "HTTP 200");
    assert.equal(changes.length, 0, `verdict changed: ${JSON.stringify(changes)}`);
    assert.equal(scheduler.health("pod")?.healthy, true);
    assert.equal(scheduler.stats().inconclusive, 1);
    assert.ok(scheduler.lagStats().maxMs >= 1_000, JSON.stringify(scheduler.lagStats()));
  } finally {
    await scheduler.close();
  }
  guard.assertClean();
});

Deno.test("run: a target that never answers still times out and counts when this process is not lagging", async () => {
  using guard = guardProcess();
  await using hole = await startBlackHole();
  const changes: HealthChange[] = [];
  const done: ProbeCompletion[] = [];
  const scheduler = createScheduler({
    runProbe,
    onChange: (c) => changes.push(c),
    onResult: (c) => done.push(c),
    random: () => 0,
  });
  try {
    scheduler.set("pod", {
      ip: "127.0.0.1",
      seedHealthy: true,
      probes: [{
        name: "tcp",
        port: hole.port,
        spec: { mode: "TCP", ...common },
        periodSeconds: 10,
        initialDelaySeconds: 0,
      }],
    });
    await waitFor("endpoint withdrawn", () => scheduler.health("pod")?.healthy === false, 8_000);
    // A heavily loaded test machine may really stall this process during an attempt; only such attempts may be
    // inconclusive. The first one without a stall counts and withdraws the endpoint.
    const counted = done.filter((c) => !c.inconclusive);
    for (const c of done.filter((c) => c.inconclusive)) {
      assert.ok(Math.max(c.stalledMs!, c.result.deadlineLateMs!) >= 250, JSON.stringify(c));
    }
    assert.equal(counted.length, 1);
    assert.equal(counted[0].result.reason, "timeout after 1s (connect)");
    assert.equal(counted[0].result.timedOut, true);
    assert.ok(counted[0].stalledMs! < 250, `stalled ${counted[0].stalledMs} ms`);
    assert.deepEqual(changes.map((c) => [c.probeHealthy, c.endpointChanged]), [[false, true]]);
  } finally {
    await scheduler.close();
  }
  guard.assertClean();
});

Deno.test("run: closing the scheduler aborts probes stuck on a silent server", async () => {
  await using silent = await startSilentListener();
  const scheduler = createScheduler({ runProbe, onChange: () => {} });
  const spec: ProbeSpec = {
    mode: "HTTP",
    ...common,
    timeoutSeconds: 30,
    http: { path: "/", method: "GET", scheme: "HTTP" },
  };
  scheduler.set("pod", {
    ip: "127.0.0.1",
    probes: [{ name: "http", port: silent.port, spec, periodSeconds: 1, initialDelaySeconds: 0 }],
  });
  await waitFor(
    "probe in flight",
    () => scheduler.stats().inFlight === 1 && silent.accepted.count === 1,
    3000,
  );
  const t0 = performance.now();
  await scheduler.close();
  assert.ok(performance.now() - t0 < 200, "close waited for the 30 s timeout");
});

Deno.test("run: malformed specs of every mode resolve to failures, never crash", async () => {
  using guard = guardProcess();
  await using srv = await startSilentListener((s) => s.destroy());
  const target = { ip: "127.0.0.1", port: srv.port };
  const malformed = [
    { mode: "HTTP", ...common, http: { path: undefined, method: "get", scheme: "HTTP", httpHeaders: 5 } },
    { mode: "HTTP", ...common, http: { path: "/", method: "GET", scheme: "HTTPS", caCert: 42, host: "" } },
    { mode: "HTTP", ...common, http: { path: "/", method: "GET", scheme: "HTTPS", caCert: "x" } },
    { mode: "PostgreSQL", ...common, postgreSQL: {} },
    {
      mode: "PostgreSQL",
      ...common,
      postgreSQL: { dbName: "x", query: 7, credentials: { user: "u", password: "p" } },
    },
    {
      mode: "PostgreSQL",
      ...common,
      postgreSQL: {
        dbName: "x",
        query: "SELECT 1",
        credentials: { user: "u", password: "p", tls: { mode: "bogus" } },
      },
    },
    {
      mode: "PostgreSQL",
      ...common,
      postgreSQL: {
        dbName: "x",
        query: "SELECT 1",
        credentials: {
          user: "u",
          password: "p",
          tls: { mode: "verify-full", serverName: "::1", clientCert: "a", clientKey: "b" },
        },
      },
    },
  ] as unknown as ProbeSpec[];
  for (const spec of malformed) {
    const r = await runProbe(target, spec);
    assert.equal(r.ok, false, JSON.stringify(spec));
    assert.equal(typeof r.reason, "string");
  }
  // Nonsense timeouts fall back to 1 s instead of never timing out (admission should reject them anyway).
  for (const timeoutSeconds of [-1, Number.NaN, 0]) {
    const r = await runProbe(target, {
      mode: "TCP",
      timeoutSeconds,
      successThreshold: 1,
      failureThreshold: 1,
    });
    assert.equal(r.ok, true, r.reason);
  }
  guard.assertClean();
});
