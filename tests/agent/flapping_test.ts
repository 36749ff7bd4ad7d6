/**
 * Flap damping: a backend that passes and fails on alternate probes costs at most one slice write per probe
 * period (plus the first ones), while the first withdrawal of a healthy endpoint is not delayed.
 */
import { ok } from "node:assert";
import {
  addresses,
  clusterTest,
  createPod,
  createSwh,
  httpBackend,
  recordSlices,
  startTestAgent,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

const PERIOD_S = 1;
const FLAP_MS = 6_000;

clusterTest(
  "agent: a flapping endpoint costs at most one slice write per period; the first withdrawal is at once",
  async () => {
    await withCluster("agent-flap", async (ctx) => {
      const steady = httpBackend(ctx.net.v4(0));
      const flappy = httpBackend(ctx.net.v4(1), steady.port);
      const agent = await startTestAgent(ctx);
      let toggler: ReturnType<typeof setInterval> | undefined;
      try {
        for (const i of [0, 1]) await createPod(ctx, { name: `p${i}`, node: ctx.node, ips: [ctx.net.v4(i)] });
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: steady.port }],
          healthcheck: {
            periodSeconds: PERIOD_S,
            probes: [{ mode: "HTTP", failureThreshold: 1, http: { targetPort: steady.port, path: "/" } }],
          },
        });
        await waitForAddresses(ctx, "web", [ctx.net.v4(0), ctx.net.v4(1)]);
        await agent.agent.settled(300);

        // First withdrawal of a healthy endpoint: within one period (+ the probe's own time and the debounce).
        const recorder = await recordSlices(ctx, "web");
        const failedAt = performance.now();
        flappy.healthy = false;
        await waitForAddresses(ctx, "web", [ctx.net.v4(0)], 5_000);
        const withdrawnMs = performance.now() - failedAt;
        console.log(`first withdrawal after ${withdrawnMs.toFixed(0)} ms (period ${PERIOD_S * 1000} ms)`);
        ok(withdrawnMs < PERIOD_S * 1000 + 500, `the first withdrawal took ${withdrawnMs.toFixed(0)} ms`);

        // Now it flaps faster than the period: the slice is written at most once per period.
        const before = recorder.events.length;
        toggler = setInterval(() => flappy.healthy = !flappy.healthy, 450);
        await new Promise((r) => setTimeout(r, FLAP_MS));
        clearInterval(toggler);
        toggler = undefined;
        const writes = recorder.events.length - before;
        await recorder.stop();
        console.log(`${writes} slice writes in ${FLAP_MS} ms of flapping at period ${PERIOD_S} s`);
        ok(writes <= FLAP_MS / (PERIOD_S * 1000) + 1, `${writes} writes in ${FLAP_MS} ms`);
        // The steady endpoint never left.
        for (const e of recorder.events) {
          ok(
            e.type !== "DELETED" && addresses([e.object]).includes(ctx.net.v4(0)),
            `the steady endpoint left (${e.type})`,
          );
        }
      } finally {
        if (toggler !== undefined) clearInterval(toggler);
        await agent.stop();
        await steady.close();
        await flappy.close();
      }
    });
  },
);
