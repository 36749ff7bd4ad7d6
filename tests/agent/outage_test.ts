/** The agent across an apiserver outage: probing goes on, and on reconnect the current truth is written once. */
import { deepStrictEqual, ok } from "node:assert";
import { startAgent } from "../../agent/mod.ts";
import { createLogger } from "../../ops/log.ts";
import { startApiserver, stopApiserver } from "../../tools/cluster/mod.ts";
import { requireTestClusterDir } from "../support/env.ts";
import { waitFor } from "../support/wait.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  FAST,
  recordSlices,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

const quiet = createLogger("agent", { level: (Deno.env.get("AGENT_LOG") ?? "error") as "error" });

clusterTest(
  "agent: probing continues through an apiserver outage; the truth is written once on reconnect",
  async () => {
    await withCluster("agent-outage", async (ctx) => {
      const a = tcpBackend(ctx.net.v4(0));
      const b = tcpBackend(ctx.net.v4(1), a.port);
      const handle = await startAgent({
        nodeName: ctx.node,
        transport: ctx.transport,
        logger: quiet,
        ...FAST,
      });
      const dir = requireTestClusterDir();
      try {
        await createPod(ctx, { name: "a", node: ctx.node, ips: [ctx.net.v4(0)] });
        await createPod(ctx, { name: "b", node: ctx.node, ips: [ctx.net.v4(1)] });
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ name: "tcp", port: 80, targetPort: a.port }],
          healthcheck: {
            periodSeconds: 1,
            probes: [{ mode: "TCP", failureThreshold: 1, tcp: { targetPort: a.port } }],
          },
        });
        await waitForAddresses(ctx, "web", [ctx.net.v4(0), ctx.net.v4(1)]);
        const unhealthy = () => handle.agent.metrics.transitions.get({ to: "unhealthy" });
        const sliceWrites = () =>
          handle.agent.metrics.apiWrites.get({ resource: "endpointslices", verb: "apply", failed: "false" });
        await handle.agent.settled(2_000);
        const writesBefore = sliceWrites();
        const before = unhealthy();

        await stopApiserver(dir);
        try {
          // Backend b dies while nobody can write: the agent must still notice it.
          b.close();
          await waitFor(() => unhealthy() > before, {
            what: "the agent to see b fail during the outage",
            timeoutMs: 15_000,
          });
        } finally {
          await startApiserver(dir);
        }
        const recorder = await recordSlices(ctx, "web");
        try {
          await waitForAddresses(ctx, "web", [ctx.net.v4(0)], 60_000);
          await handle.agent.settled(2_000);
          const modified = recorder.events.filter((e) => e.type === "MODIFIED" || e.type === "ADDED");
          // The slice we watched from after the restart changed to the truth in one write (a resync may also
          // rewrite nothing, which is no event), and the endpoint that stayed healthy was never removed.
          ok(modified.length <= 1, `slice changes seen after reconnect: ${modified.length}`);
          deepStrictEqual(
            sliceWrites() - writesBefore,
            1,
            "the current truth is written once after the outage",
          );
          for (const event of recorder.events) {
            const addresses = (event.object.endpoints ?? []).flatMap((e) => e.addresses);
            ok(
              event.type === "DELETED" || addresses.includes(ctx.net.v4(0)),
              "the healthy endpoint stayed published",
            );
          }
        } finally {
          await recorder.stop();
        }
        deepStrictEqual(handle.agent.ready, true);
      } finally {
        await handle.stop();
        a.close();
      }
    });
  },
);
