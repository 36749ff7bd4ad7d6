/**
 * Agent benchmark: failover latency (backend killed → endpoint gone from the slice, seen by a watcher), steady
 * state writes over 60 s with 1,000 endpoints on one node, and the agent process's RSS and CPU meanwhile.
 * Needs SWH_TEST_KUBECONFIG (`./deno task bench agent` provides a cluster) and root (local pod addresses).
 */
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import { SERVICE_NAME_LABEL } from "../crds/conventions.ts";
import { startAgent } from "../agent/mod.ts";
import { Api, EndpointSlices } from "../kube/mod.ts";
import { createLogger } from "../ops/log.ts";
import {
  createPod,
  createSwh,
  spawnAgent,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "../tests/agent/helpers.ts";
import type { TestContext } from "../tests/agent/helpers.ts";
import { CLOCK_TICKS_PER_SECOND, percentile, procStats } from "../tests/support/measure.ts";
import type { ProcStats } from "../tests/support/measure.ts";

const TRIALS = Number(Deno.env.get("SWH_BENCH_TRIALS") ?? 20);
const ENDPOINTS = Number(Deno.env.get("SWH_BENCH_ENDPOINTS") ?? 1000);
const STEADY_SECONDS = Number(Deno.env.get("SWH_BENCH_STEADY_SECONDS") ?? 60);
/** `--v8-flags` value for the spawned agent instead of the deployed runtime flags (A/B runs; "" = none). */
const V8_FLAGS = Deno.env.get("SWH_BENCH_AGENT_V8_FLAGS");
const rows: [string, string][] = [];

/** Resolves with the time the watch first shows no endpoint with `ip` (a DELETED slice counts). */
async function watchGone(ctx: TestContext, name: string, ip: string, signal: AbortSignal): Promise<number> {
  const api = Api.namespaced(ctx.transport, EndpointSlices, ctx.ns);
  const selector = `${SERVICE_NAME_LABEL}=${name}`;
  const list = await api.list({ labelSelector: selector });
  const has = (s: IEndpointSlice) => (s.endpoints ?? []).some((e) => e.addresses.includes(ip));
  for await (
    const e of api.watch({ resourceVersion: list.metadata.resourceVersion, labelSelector: selector, signal })
  ) {
    if (e.type === "DELETED" || (e.type !== "BOOKMARK" && !has(e.object))) return performance.now();
  }
  throw new Error("watch ended");
}

async function failover(): Promise<void> {
  await withCluster("bench-failover", async (ctx) => {
    const ip = ctx.net.v4(0);
    let backend = tcpBackend(ip);
    const port = backend.port;
    const agent = await startAgent({
      nodeName: ctx.node,
      transport: ctx.transport,
      logger: createLogger("agent", { level: "error" }),
    });
    try {
      await createPod(ctx, { name: "p0", node: ctx.node, ips: [ip] });
      await createSwh(ctx, "web", {
        selector: { app: "web" },
        ports: [{ port: 80, targetPort: port }],
        healthcheck: {
          periodSeconds: 1,
          probes: [{ mode: "TCP", failureThreshold: 1, tcp: { targetPort: port } }],
        },
      });
      const latencies: number[] = [];
      for (let i = 0; i < TRIALS; i++) {
        await waitForAddresses(ctx, "web", [ip], 15_000);
        const abort = new AbortController();
        const gone = watchGone(ctx, "web", ip, abort.signal);
        // A random moment within the probe period, as a real crash would be.
        await new Promise((r) => setTimeout(r, Math.random() * 1000));
        const killedAt = performance.now();
        backend.close();
        latencies.push((await gone) - killedAt);
        abort.abort();
        backend = tcpBackend(ip, port);
      }
      latencies.sort((a, b) => a - b);
      rows.push([
        `failover latency, ${TRIALS} trials (period 1 s, failureThreshold 1)`,
        `p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, ` +
        `max ${latencies.at(-1)!.toFixed(0)} ms (aim ≤ 1250 ms)`,
      ]);
    } finally {
      await agent.stop();
      backend.close();
    }
  });
}

/** Stats of the agent under measurement, which must still run. */
function agentStats(pid: number): ProcStats {
  const stats = procStats(pid);
  if (!stats) throw new Error(`agent process ${pid} is gone`);
  return stats;
}

async function scale(): Promise<void> {
  await withCluster("bench-scale", async (ctx) => {
    const ips = Array.from({ length: ENDPOINTS }, (_, i) => ctx.net.v4(i));
    const first = tcpBackend(ips[0]);
    const backends = [first, ...ips.slice(1).map((ip) => tcpBackend(ip, first.port))];
    const agent = spawnAgent(
      ctx.node,
      V8_FLAGS === undefined ? {} : { runtimeFlags: V8_FLAGS ? [`--v8-flags=${V8_FLAGS}`] : [] },
    );
    try {
      await agent.ready();
      // Idle: ready, caches synced, nothing selected yet; a few seconds for start-up garbage to go.
      await new Promise((r) => setTimeout(r, 5000));
      const idle = agentStats(agent.child.pid);
      rows.push(["agent RSS idle (ready, nothing to probe)", `${idle.rssMiB.toFixed(0)} MiB`]);
      const t0 = performance.now();
      for (let i = 0; i < ips.length; i += 25) {
        await Promise.all(
          ips.slice(i, i + 25).map((ip, j) =>
            createPod(ctx, { name: `p${i + j}`, node: ctx.node, ips: [ip] })
          ),
        );
      }
      const podsMs = performance.now() - t0;
      const t1 = performance.now();
      await createSwh(ctx, "web", {
        selector: { app: "web" },
        ports: [{ port: 80, targetPort: first.port }],
        healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: first.port } }] },
      });
      await waitForAddresses(ctx, "web", ips, 120_000);
      rows.push([`${ENDPOINTS} pods created (test harness)`, `${(podsMs / 1000).toFixed(1)} s`]);
      rows.push([
        `SWH created → all ${ENDPOINTS} endpoints published`,
        `${((performance.now() - t1) / 1000).toFixed(1)} s`,
      ]);
      // Let status and slices settle before the steady-state window.
      await new Promise((r) => setTimeout(r, 3000));
      const writes0 = await agent.metric("swh_agent_api_writes_total");
      // The heartbeat Lease is renewed every 10 s by design (dead-agent detection); everything else must be quiet.
      const leases0 = await agent.metric("swh_agent_api_writes_total", 'resource="leases"');
      const probes0 = await agent.metric("swh_agent_probes_total");
      const s0 = agentStats(agent.child.pid);
      const start = performance.now();
      let peakRss = s0.rssMiB;
      while (performance.now() - start < STEADY_SECONDS * 1000) {
        await new Promise((r) => setTimeout(r, 1000));
        peakRss = Math.max(peakRss, agentStats(agent.child.pid).rssMiB);
      }
      const elapsed = (performance.now() - start) / 1000;
      const s1 = agentStats(agent.child.pid);
      const writes = (await agent.metric("swh_agent_api_writes_total")) - writes0;
      const leases = (await agent.metric("swh_agent_api_writes_total", 'resource="leases"')) - leases0;
      const probes = (await agent.metric("swh_agent_probes_total")) - probes0;
      rows.push([
        `steady-state API writes over ${elapsed.toFixed(0)} s`,
        `${writes - leases} slices/reports/events (must be 0); ${leases} heartbeat Lease renewals`,
      ]);
      rows.push([
        `probes per second (${ENDPOINTS} endpoints, period 1 s)`,
        `${(probes / elapsed).toFixed(0)}`,
      ]);
      rows.push([
        `agent RSS with ${ENDPOINTS} endpoints`,
        `${s1.rssMiB.toFixed(0)} MiB (peak ${peakRss.toFixed(0)} MiB)`,
      ]);
      rows.push([
        `agent CPU with ${ENDPOINTS} endpoints`,
        `${
          (((s1.cpuTicks - s0.cpuTicks) / CLOCK_TICKS_PER_SECOND / elapsed) * 100).toFixed(1)
        } % of one core`,
      ]);
    } finally {
      await agent.kill();
      for (const b of backends) b.close();
    }
  }, { addresses: ENDPOINTS });
}

await failover();
await scale();
const width = Math.max(...rows.map(([k]) => k.length));
console.log(`\n${"what".padEnd(width)} | result`);
console.log(`${"-".repeat(width)}-|-------`);
for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);
