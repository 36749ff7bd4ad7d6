/**
 * Controller benchmark: reconcile 1,000 SWHs from nothing (time until every Service exists, API writes,
 * RSS), then a resync without changes (writes must be 0). Run with `./deno task bench controller`, or
 * `./deno run -A bench/controller.ts` with SWH_TEST_KUBECONFIG and SWH_TEST_KUBECTL set.
 *
 * @module
 */
import { installSwhCrd } from "../tests/support/crd.ts";
import { requireTestKubeconfig } from "../tests/support/env.ts";
import { Api, HttpTransport, Informer, loadKubeconfig, Namespaces, Services } from "../kube/mod.ts";
import { createLogger } from "../ops/log.ts";
import { startController, SwhResource } from "../controller/mod.ts";
import type { ServiceWithHealthchecks } from "../crds/schema.ts";
import { procCpuSeconds } from "./memory/proc.ts";

const COUNT = Number(Deno.env.get("SWH_BENCH_SWHS") ?? 1000);

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

async function main(): Promise<void> {
  await installSwhCrd();
  const transport = new HttpTransport(await loadKubeconfig({ paths: [requireTestKubeconfig()] }));
  const id = crypto.randomUUID().slice(0, 6);
  const ns = `bench-${id}`;
  const opNs = `bench-op-${id}`;
  const namespaces = Api.cluster(transport, Namespaces);
  for (const name of [ns, opNs]) await namespaces.create({ metadata: { name } });
  const swhs = Api.namespaced(transport, SwhResource, ns);
  const rssBefore = Deno.memoryUsage().rss;
  try {
    const names = Array.from({ length: COUNT }, (_, i) => `svc-${i}`);
    const createStart = performance.now();
    await inBatches(names, 25, (name) =>
      swhs.create({
        metadata: { name },
        spec: {
          selector: { app: name },
          ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }],
          healthcheck: { probes: [{ mode: "TCP", tcp: { targetPort: 8080 } }] },
        },
      } as unknown as ServiceWithHealthchecks));
    const createMs = performance.now() - createStart;

    // Count Services as a watcher sees them (the bench's own watch, not the controller's cache).
    const seen = new Informer(Api.namespaced(transport, Services, ns));
    const stopSeen = new AbortController();
    const seenRun = seen.start(stopSeen.signal);
    await seen.synced;

    const start = performance.now();
    const cpuAtStart = procCpuSeconds();
    const controller = await startController({
      transport,
      operatorNamespace: opNs,
      leaderElection: false,
      logger: createLogger("controller", { level: "error" }),
    });
    await controller.synced;
    const syncedMs = performance.now() - start;
    while (seen.size < COUNT) await new Promise((r) => setTimeout(r, 20));
    const allServicesMs = performance.now() - start;
    const writesAtServices = controller.writes();
    await controller.idle();
    const settledMs = performance.now() - start;
    // The process's CPU (controller plus the benchmark's own Service watch) from start to settled.
    const cpuSeconds = procCpuSeconds() - cpuAtStart;
    const writes = controller.writes();
    const rss = Deno.memoryUsage().rss;

    const resyncStart = performance.now();
    controller.resync();
    await controller.idle();
    const resyncMs = performance.now() - resyncStart;
    const resyncWrites = controller.writes() - writes;
    const byKind = controller.metrics.apiWrites.expose().filter((l) => !l.startsWith("#")).map((l) =>
      l.replace("swh_controller_api_writes_total", "")
    );
    await controller.stop();
    stopSeen.abort();
    await seenRun;

    const rows: [string, string][] = [
      ["SWHs", String(COUNT)],
      ["create SWHs (bench, 25 at a time)", `${(createMs / 1000).toFixed(1)} s`],
      ["controller caches synced", `${(syncedMs / 1000).toFixed(2)} s`],
      ["all Services exist", `${(allServicesMs / 1000).toFixed(1)} s`],
      ["all reconciled (status written)", `${(settledMs / 1000).toFixed(1)} s`],
      [
        "CPU until settled (process)",
        `${cpuSeconds.toFixed(1)} s (${(cpuSeconds * 1000 / COUNT).toFixed(1)} ms per SWH)`,
      ],
      ["API writes until all Services exist", String(writesAtServices)],
      ["API writes total", `${writes} (${(writes / COUNT).toFixed(2)} per SWH)`],
      ["  by resource/verb", byKind.join(" ")],
      ["RSS before / after (bench + controller)", `${mib(rssBefore)} / ${mib(rss)}`],
      ["resync without changes: writes", String(resyncWrites)],
      ["resync without changes: time", `${resyncMs.toFixed(0)} ms`],
    ];
    const width = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
    if (resyncWrites !== 0) {
      console.log("FAIL: a resync without changes made writes");
      Deno.exitCode = 1;
    }
  } finally {
    for (const name of [ns, opNs]) await namespaces.delete(name).catch(() => {});
    transport.close();
  }
}

if (import.meta.main) await main();
