/**
 * Many endpoints flipping together cost a bounded number of slice writes, not one per endpoint; a new endpoint's
 * first publication is no Event, a withdrawal and a recovery are.
 */
import { ok, strictEqual } from "node:assert";
import { startAgent } from "../../agent/mod.ts";
import { createLogger } from "../../ops/log.ts";
import { clusterTest, createPod, createSwh, recordSlices, waitForAddresses, withCluster } from "./helpers.ts";
import { eventsAbout } from "../controller/helpers.ts";
import { waitFor } from "../support/wait.ts";

const PODS = 50;

clusterTest(`agent: ${PODS} pods flipping at once → a bounded number of slice writes`, async () => {
  await withCluster("agent-burst", async (ctx) => {
    const state = { healthy: true };
    const handler = () => new Response(null, { status: state.healthy ? 200 : 503 });
    const first = Deno.serve({ hostname: ctx.net.v4(0), port: 0, onListen: () => {} }, handler);
    const port = first.addr.port;
    const servers = [first];
    for (let i = 1; i < PODS; i++) {
      servers.push(Deno.serve({ hostname: ctx.net.v4(i), port, onListen: () => {} }, handler));
    }
    const ips = Array.from({ length: PODS }, (_, i) => ctx.net.v4(i));
    // Default coalescing (50 ms debounce, 200 ms between writes of one SWH).
    const agent = await startAgent({
      nodeName: ctx.node,
      transport: ctx.transport,
      logger: createLogger("agent", { level: "error" }),
    });
    try {
      await Promise.all(ips.map((ip, i) => createPod(ctx, { name: `p${i}`, node: ctx.node, ips: [ip] })));
      await createSwh(ctx, "web", {
        selector: { app: "web" },
        ports: [{ port: 80, targetPort: port }],
        healthcheck: {
          periodSeconds: 1,
          probes: [{ mode: "HTTP", failureThreshold: 1, http: { targetPort: port, path: "/healthz" } }],
        },
      });
      await waitForAddresses(ctx, "web", ips, 30_000);
      await agent.agent.settled(300);
      const recorder = await recordSlices(ctx, "web");
      state.healthy = false;
      await waitForAddresses(ctx, "web", [], 15_000);
      const down = recorder.events.length;
      // Events go out in order: once withdrawals are recorded, any for the first publications would be too.
      const reasons = async () => (await eventsAbout(ctx.ns, "web")).map((l) => l.slice(0, l.indexOf(":")));
      await waitFor(async () => (await reasons()).includes("EndpointUnhealthy"), {
        what: "EndpointUnhealthy Events",
        timeoutMs: 15_000,
      });
      strictEqual((await reasons()).filter((r) => r === "EndpointHealthy").length, 0, "first publications");
      state.healthy = true;
      await waitForAddresses(ctx, "web", ips, 15_000);
      await waitFor(async () => (await reasons()).includes("EndpointHealthy"), {
        what: "EndpointHealthy Events for the recovery",
        timeoutMs: 15_000,
      });
      await recorder.stop();
      const total = recorder.events.length;
      console.log(`slice writes: ${down} for ${PODS} endpoints going down, ${total - down} coming back`);
      // Probes run on random phases over one period (1 s): at most ~1 s / 200 ms + 1 writes per direction.
      ok(down <= 8, `going down took ${down} writes`);
      ok(total - down <= 8, `coming back took ${total - down} writes`);
    } finally {
      await agent.stop();
      await Promise.all(servers.map((s) => s.shutdown()));
    }
  }, { addresses: PODS });
});
