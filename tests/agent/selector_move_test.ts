/**
 * An agent that never fetched an SWH (its selector picks no pod on that node) starts serving it once a selector
 * change makes it pick one: the controller notes the new selector and generation on the Service, the agent
 * fetches the spec and publishes; the node that lost its pod fetches the new spec and withdraws. With the real
 * controller and two agents.
 */
import { ok, strictEqual } from "node:assert";
import { SERVICE_SELECTOR_ANNOTATION } from "../../crds/conventions.ts";
import { SwhResource } from "../../crds/resource.ts";
import { Api, Services } from "../../kube/mod.ts";
import { waitFor } from "../support/wait.ts";
import {
  clusterTest,
  createPod,
  createSwh,
  httpBackend,
  startTestAgent,
  startTestController,
  swhFetches,
  waitForAddresses,
  withCluster,
} from "./helpers.ts";

clusterTest("agent: a selector change hands an SWH to a node that had never fetched it", async () => {
  await withCluster("agent-selector-move", async (ctx) => {
    const nodeB = await ctx.addNode();
    const a = httpBackend(ctx.net.v4(0));
    const b = httpBackend(ctx.net.v4(1), a.port);
    const controller = await startTestController(ctx);
    const agentA = await startTestAgent(ctx);
    const agentB = await startTestAgent(ctx, nodeB);
    try {
      await createPod(ctx, { name: "on-a", node: ctx.node, ips: [ctx.net.v4(0)], labels: { role: "a" } });
      await createPod(ctx, { name: "on-b", node: nodeB, ips: [ctx.net.v4(1)], labels: { role: "b" } });
      await createSwh(ctx, "mover", {
        selector: { role: "a" },
        ports: [{ port: 80, targetPort: a.port }],
        healthcheck: {
          periodSeconds: 1,
          probes: [{ mode: "HTTP", failureThreshold: 1, http: { targetPort: a.port, path: "/" } }],
        },
      });
      await waitForAddresses(ctx, "mover", [ctx.net.v4(0)], 20_000);
      strictEqual(swhFetches(agentB), 0, "node B has no pod of the SWH: it never fetched it");

      // The selector moves to node B's pod: the controller rewrites the note, B fetches and publishes, A withdraws.
      await Api.namespaced(ctx.transport, SwhResource, ctx.ns).patch("mover", {
        type: "merge",
        body: { spec: { selector: { role: "b" } } },
      });
      await waitFor(
        async () =>
          (await Api.namespaced(ctx.transport, Services, ctx.ns).get("mover")).metadata?.annotations?.[
            SERVICE_SELECTOR_ANNOTATION
          ] === '{"role":"b"}',
        { what: "the controller's note of the new selector" },
      );
      await waitForAddresses(ctx, "mover", [ctx.net.v4(1)], 20_000);
      ok(swhFetches(agentB) >= 1, "node B fetched the SWH once its pod was selected");
    } finally {
      await agentB.stop();
      await agentA.stop();
      await controller.stop();
      await a.close();
      await b.close();
    }
  }, { addresses: 2 });
});
