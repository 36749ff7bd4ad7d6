/**
 * A dead agent whose Node remains (crash loop, evicted pod) does not leave endpoints forever: its heartbeat
 * Lease goes stale, the SWH says so (AgentsReporting=False and a Warning Event), and the controller withdraws
 * the endpoints whose pods are gone — but nothing that may still be healthy.
 */
import { ok } from "node:assert";
import { SwhResource } from "../../crds/resource.ts";
import { Api, Pods } from "../../kube/mod.ts";
import { waitFor } from "../support/wait.ts";
import { eventsAbout } from "../controller/helpers.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  spawnAgent,
  startTestController,
  tcpBackend,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

const LEASE_S = 4;

clusterTest(
  "agent killed for good: a deleted pod's endpoint leaves within a lease duration; the rest stays",
  async () => {
    await withCluster("agent-dead", async (ctx) => {
      const ips = [ctx.net.v4(0), ctx.net.v4(1)];
      const first = tcpBackend(ips[0]);
      const backends = [first, tcpBackend(ips[1], first.port)];
      const controller = await startTestController(ctx);
      const env = { SWH_HEARTBEAT_LEASE_SECONDS: String(LEASE_S) };
      let agent = spawnAgent(ctx.node, { env });
      const swhs = Api.namespaced(ctx.transport, SwhResource, ctx.ns);
      const agentsReporting = async (status: string) => {
        let seen = "";
        await waitFor(async () => {
          const c = (await swhs.get("web")).status?.conditions?.find((c) => c.type === "AgentsReporting");
          seen = `${c?.status} ${c?.reason}: ${c?.message}`;
          return c?.status === status;
        }, { what: `AgentsReporting=${status}`, lastSeen: () => seen, timeoutMs: 20_000 });
      };
      try {
        for (const [i, ip] of ips.entries()) {
          await createPod(ctx, { name: `p${i}`, node: ctx.node, ips: [ip] });
        }
        await createSwh(ctx, "web", {
          selector: { app: "web" },
          ports: [{ port: 80, targetPort: first.port }],
          healthcheck: { periodSeconds: 1, probes: [{ mode: "TCP", tcp: { targetPort: first.port } }] },
        });
        await agent.ready();
        await waitForAddresses(ctx, "web", ips);
        await agentsReporting("True");

        await agent.kill();
        await Api.namespaced(ctx.transport, Pods, ctx.ns).delete("p1", { gracePeriodSeconds: 0 });
        const deletedAt = performance.now();
        await waitForAddresses(ctx, "web", [ips[0]], (LEASE_S + 6) * 1000);
        const tookS = (performance.now() - deletedAt) / 1000;
        console.log(
          `deleted pod's endpoint withdrawn ${tookS.toFixed(1)} s after the pod went (lease ${LEASE_S} s)`,
        );
        // Within one lease duration of the agent's death (the pod was deleted right after it), plus one sweep.
        ok(tookS <= LEASE_S + 2 + 1, `took ${tookS.toFixed(1)} s`);
        await agentsReporting("False");
        await waitFor(
          async () => (await eventsAbout(ctx.ns, "web")).some((l) => l.startsWith("AgentNotReporting:")),
          {
            what: "an AgentNotReporting Warning Event",
          },
        );
        // The healthy pod's endpoint stayed throughout (checked once more after several sweeps).
        await new Promise((r) => setTimeout(r, 3_000));
        await waitForAddresses(ctx, "web", [ips[0]], 1_000);

        // The agent comes back: it reports again and owns its slice again.
        agent = spawnAgent(ctx.node, { env });
        await agent.ready();
        await agentsReporting("True");
        await waitForAddresses(ctx, "web", [ips[0]]);
      } finally {
        await agent.kill();
        await controller.stop();
        for (const b of backends) b.close();
      }
    });
  },
);
