import { deepStrictEqual, ok } from "node:assert";
import { createLogger } from "./log.ts";
import { Registry } from "./metrics.ts";
import { opsApp } from "./server.ts";
import { processMetrics } from "./process_metrics.ts";
import { VERSION } from "./version.ts";

Deno.test("metrics expose counters, gauges and histograms in Prometheus text format", () => {
  const registry = new Registry();
  registry.counter("swh_writes_total", "API writes").inc({ kind: "Service", verb: "apply" }, 2);
  registry.gauge("swh_endpoints_ready", "ready endpoints").set({ swh: 'ns/"web"' }, 3);
  registry.histogram("swh_probe_seconds", "probe durations", [0.1, 1]).observe({ mode: "TCP" }, 0.05);
  const text = registry.expose();
  ok(text.includes('swh_writes_total{kind="Service",verb="apply"} 2'), text);
  ok(text.includes('swh_endpoints_ready{swh="ns/\\"web\\""} 3'), text);
  ok(text.includes('swh_probe_seconds_bucket{mode="TCP",le="0.1"} 1'), text);
  ok(text.includes('swh_probe_seconds_bucket{mode="TCP",le="+Inf"} 1'), text);
  ok(text.includes('swh_probe_seconds_count{mode="TCP"} 1'), text);
});

Deno.test("registering one metric name twice is refused", () => {
  const registry = new Registry();
  registry.counter("a", "a");
  let threw = false;
  try {
    registry.gauge("a", "a");
  } catch {
    threw = true;
  }
  ok(threw);
});

Deno.test("/readyz names every failing check; /healthz follows liveness", async () => {
  let synced = false;
  const app = opsApp({
    registry: new Registry(),
    readiness: { "caches-synced": () => synced ? undefined : "waiting for initial list" },
    live: () => true,
  });
  const notReady = await app.request("/readyz");
  deepStrictEqual([notReady.status, await notReady.text()], [503, "caches-synced: waiting for initial list"]);
  synced = true;
  deepStrictEqual((await app.request("/readyz")).status, 200);
  deepStrictEqual((await app.request("/healthz")).status, 200);
  ok((await (await app.request("/metrics")).headers.get("content-type"))?.startsWith("text/plain"));
});

Deno.test("logger writes one JSON object per line with bound fields and error causes", () => {
  const lines: string[] = [];
  const log = createLogger("test", { write: (l) => lines.push(l), level: "info" }).with({ object: "ns/a" });
  log.debug("hidden");
  log.warn("apply failed", { error: new Error("outer", { cause: new Error("inner") }) });
  deepStrictEqual(lines.length, 1);
  const line = JSON.parse(lines[0]);
  deepStrictEqual([line.level, line.component, line.object, line.msg], [
    "warn",
    "test",
    "ns/a",
    "apply failed",
  ]);
  deepStrictEqual(line.error, "Error: outer (cause: Error: inner)");
});

Deno.test("counters and histograms can be exposed at zero before their first event", () => {
  const registry = new Registry();
  registry.counter("swh_dropped_total", "dropped").init();
  registry.counter("swh_writes_total", "writes").init({ verb: "apply" }).init({ verb: "apply" });
  registry.histogram("swh_seconds", "durations", [1]).init({ mode: "TCP" });
  const text = registry.expose();
  ok(text.includes("\nswh_dropped_total 0\n"), text);
  ok(text.includes('\nswh_writes_total{verb="apply"} 0\n'), text);
  ok(text.includes('swh_seconds_bucket{mode="TCP",le="+Inf"} 0'), text);
  ok(text.includes('swh_seconds_count{mode="TCP"} 0'), text);
});

Deno.test("/metrics adds process metrics and swh_build_info after the program's own", async () => {
  const registry = new Registry();
  registry.counter("swh_own_total", "own").inc();
  const text = await (await opsApp({ registry }).request("/metrics")).text();
  ok(text.startsWith("# HELP swh_own_total"), text);
  for (
    const name of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds"]
  ) ok(new RegExp(`^${name} [0-9.e+]+$`, "m").test(text), `${name} in\n${text}`);
  ok(text.includes(`swh_build_info{deno="${Deno.version.deno}",version="${VERSION}"} 1`), text);
  const bare = await (await opsApp({ registry, processMetrics: false }).request("/metrics")).text();
  ok(!bare.includes("process_"), bare);
});

Deno.test("process metrics: values from their sources; file descriptors only when readable", () => {
  const sources = {
    cpuMicros: () => 2_500_000,
    memory: () => ({ rss: 42, heapUsed: 7, heapTotal: 9 }),
    startMs: 1_700_000_000_900,
  };
  const text = processMetrics({ ...sources, fds: () => ({ open: 12, max: 1024 }) });
  ok(text.includes("\nprocess_cpu_seconds_total 2.5\n"), text);
  ok(text.includes("\nprocess_resident_memory_bytes 42\n"), text);
  ok(text.includes("\nprocess_start_time_seconds 1700000000\n"), text);
  ok(text.includes("\nprocess_open_fds 12\n") && text.includes("\nprocess_max_fds 1024\n"), text);
  const narrowed = processMetrics({ ...sources, fds: () => undefined });
  ok(!narrowed.includes("process_open_fds"), "left out, not reported as 0");
});

Deno.test("counters drop the series of an object that went away (bounded series)", () => {
  const registry = new Registry();
  const probes = registry.counter("swh_probes_total", "probes");
  probes.inc({ namespace: "a", name: "web", mode: "TCP", result: "success" });
  probes.init({ namespace: "a", name: "web", mode: "TCP", result: "failure" });
  probes.inc({ namespace: "b", name: "web", mode: "TCP", result: "success" });
  probes.deleteMatching({ namespace: "a", name: "web" });
  const text = registry.expose();
  ok(!text.includes('namespace="a"'), text);
  ok(text.includes('namespace="b"'), text);
});
