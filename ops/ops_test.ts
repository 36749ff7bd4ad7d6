import { deepStrictEqual, ok } from "node:assert";
import { createLogger } from "./log.ts";
import { Registry } from "./metrics.ts";
import { opsApp } from "./server.ts";

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
